-- Forgets a consumer's checkpoint and those of its partitions (named '<consumer>#...').
DELETE FROM es_checkpoints
    WHERE projection = ?1 OR substr(projection, 1, length(?1) + 1) = ?1 || '#'
