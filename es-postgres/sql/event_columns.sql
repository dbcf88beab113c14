position, stream_version, event_id, name, schema_version, payload, recorded_at
