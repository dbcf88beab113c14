SELECT coalesce(max(position), 0) FROM es_events
