SELECT key, state, finished, revision, parked_error, parked_inputs, parked_since, parked_retry
  FROM es_process_instances
 WHERE process = ?1 AND parked_error IS NOT NULL
 ORDER BY key
