-- Puts a table projection's checkpoint back to the start of the log, before a rebuild.
INSERT INTO es_checkpoints (projection, position, updated_at) VALUES (?1, 0, ?2)
    ON CONFLICT (projection) DO UPDATE SET position = 0, updated_at = excluded.updated_at
