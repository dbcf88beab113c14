position, stream_id, stream_version, event_id, name, schema_version, payload,
correlation_id, causation_id, command_id, headers, recorded_at
