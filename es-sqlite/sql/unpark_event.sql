-- Forgets a consumer's parked event at a position.
DELETE FROM es_parked_events WHERE consumer = ?1 AND position = ?2
