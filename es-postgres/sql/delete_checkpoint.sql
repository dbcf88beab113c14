-- Forgets a consumer's checkpoint and those of its partitions (named '<consumer>#...').
DELETE FROM {schema}.checkpoints WHERE projection = $1 OR starts_with(projection, $1 || '#')
