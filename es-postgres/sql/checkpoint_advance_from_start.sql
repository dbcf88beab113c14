-- The first batch of a consumer (a table projection, a process manager): there may be no
-- checkpoint row yet. Two runners inserting at once collide on the key; the second then finds
-- the first's position, not 0, and updates nothing.
INSERT INTO {schema}.checkpoints AS c (projection, position) VALUES ($1, $2)
ON CONFLICT (projection) DO UPDATE SET position = excluded.position, updated_at = now()
WHERE c.position = 0
