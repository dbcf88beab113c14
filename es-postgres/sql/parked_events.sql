-- The parked events of a consumer, in position order.
SELECT position, stream_id, name, error, failed, parked_at
  FROM {schema}.parked_events
 WHERE consumer = $1
 ORDER BY position
