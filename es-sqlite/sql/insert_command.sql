INSERT INTO es_commands (stream_id, command_id, stream_version, first_position, last_position)
VALUES (?1, ?2, ?3, ?4, ?5)
