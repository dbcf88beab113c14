INSERT INTO es_events (position, stream_id, stream_version, event_id, name, schema_version,
                       payload, correlation_id, causation_id, command_id, headers, recorded_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
