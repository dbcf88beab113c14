-- The first batch of a table projection: there may be no checkpoint row yet. A runner that
-- finds the row no longer at 0 (another runner committed first) updates nothing.
INSERT INTO es_checkpoints (projection, position, updated_at) VALUES (?1, ?2, ?3)
    ON CONFLICT (projection) DO UPDATE
   SET position = excluded.position, updated_at = excluded.updated_at
 WHERE es_checkpoints.position = 0
