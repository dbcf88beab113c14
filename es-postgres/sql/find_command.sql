SELECT max(stream_version), min(position), max(position)
  FROM {schema}.events
 WHERE stream_id = $1 AND command_id = $2
