SELECT stream_version, payload
  FROM es_refusals
 WHERE stream_id = ?1 AND command_id = ?2
