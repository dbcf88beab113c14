SELECT stream_version, first_position, last_position
  FROM es_commands
 WHERE stream_id = ?1 AND command_id = ?2
