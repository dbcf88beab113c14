-- Forgets a consumer's checkpoint and those of its partitions (named '<consumer>#...'), and
-- their parked events.
WITH parked AS (
    DELETE FROM {schema}.parked_events WHERE consumer = $1 OR starts_with(consumer, $1 || '#')
)
DELETE FROM {schema}.checkpoints WHERE projection = $1 OR starts_with(projection, $1 || '#')
