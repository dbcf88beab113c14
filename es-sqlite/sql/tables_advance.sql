-- Moves a table projection's checkpoint from where its batch started, or nothing.
UPDATE es_checkpoints SET position = ?2, updated_at = ?3 WHERE projection = ?1 AND position = ?4
