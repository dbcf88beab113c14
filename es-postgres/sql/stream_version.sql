SELECT coalesce(max(stream_version), 0) FROM {schema}.events WHERE stream_id = $1
