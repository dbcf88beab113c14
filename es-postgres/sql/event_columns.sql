position, stream_id, stream_version, event_id, name, schema_version, payload, metadata::text,
recorded_at
