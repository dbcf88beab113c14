SELECT version, schema_version, payload, taken_at FROM es_snapshots WHERE stream_id = ?1
