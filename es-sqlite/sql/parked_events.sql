-- A consumer's parked events, in position order.
SELECT position, stream_id, name, error, failed, parked_at
  FROM es_parked_events
 WHERE consumer = ?1
 ORDER BY position
