-- Forgets the parked events of a consumer and of its partitions (named '<consumer>#...').
DELETE FROM es_parked_events
    WHERE consumer = ?1 OR substr(consumer, 1, length(?1) + 1) = ?1 || '#'
