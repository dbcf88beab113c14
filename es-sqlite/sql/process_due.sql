SELECT key, name, id, due, payload, correlation_id
  FROM es_process_timers
 WHERE process = ?1 AND due <= ?2
 ORDER BY due, id
 LIMIT ?3
