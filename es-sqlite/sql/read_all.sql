SELECT {event_columns}
  FROM es_events
 WHERE position > ?1
 ORDER BY position
 LIMIT ?2
