position, stream_id, stream_version, event_id, name, schema_version, payload, metadata::text,
(extract(epoch FROM recorded_at) * 1000000)::int8
