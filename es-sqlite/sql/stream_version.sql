SELECT coalesce(max(stream_version), 0) FROM es_events WHERE stream_id = ?1
