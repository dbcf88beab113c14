-- Forgets the checkpoints of a consumer's partitions (named '<consumer>#...'), before a rebuild.
DELETE FROM es_checkpoints WHERE substr(projection, 1, length(?1) + 1) = ?1 || '#'
