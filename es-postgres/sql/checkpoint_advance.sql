-- Moves a consumer's checkpoint from the batch's start ($3) to its end ($2); updates
-- nothing if another runner moved it first. Locks the row until the batch's transaction ends.
UPDATE {schema}.checkpoints SET position = $2, updated_at = now()
WHERE projection = $1 AND position = $3
