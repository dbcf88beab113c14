-- Puts a table projection's checkpoint back to the start of the log, and forgets those of its
-- partitions (named '<projection>#...') and their parked events, before a rebuild.
WITH partitions AS (
    DELETE FROM {schema}.checkpoints WHERE starts_with(projection, $1 || '#')
), parked AS (
    DELETE FROM {schema}.parked_events WHERE consumer = $1 OR starts_with(consumer, $1 || '#')
)
INSERT INTO {schema}.checkpoints (projection, position) VALUES ($1, 0)
ON CONFLICT (projection) DO UPDATE SET position = 0, updated_at = now()
