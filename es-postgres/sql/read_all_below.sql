SELECT {event_columns}, event_id, metadata::text, stream_id
  FROM {schema}.events
 WHERE position > $1 AND transaction_id < $2
 ORDER BY position
 LIMIT $3
