-- Forgets parked events of a consumer, by position.
DELETE FROM {schema}.parked_events WHERE consumer = $1 AND position = ANY($2::bigint[])
