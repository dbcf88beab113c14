position, stream_version, name, schema_version, payload, recorded_at
