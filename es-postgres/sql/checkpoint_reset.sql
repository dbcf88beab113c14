-- Puts a table projection's checkpoint back to the start of the log, before a rebuild.
INSERT INTO {schema}.checkpoints (projection, position) VALUES ($1, 0)
ON CONFLICT (projection) DO UPDATE SET position = 0, updated_at = now()
