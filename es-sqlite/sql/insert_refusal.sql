INSERT INTO es_refusals (stream_id, command_id, stream_version, payload, recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5)
