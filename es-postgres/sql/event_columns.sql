position, stream_id, stream_version, event_id, name, schema_version, payload, metadata::text,
CASE WHEN recorded_at > '-infinity' AND recorded_at < '294247-01-10 04:00:54.775807+00'
     THEN (extract(epoch FROM recorded_at) * 1000000)::int8
END
