-- Parks an event of a consumer; an event parked again replaces its record.
INSERT INTO es_parked_events (consumer, position, stream_id, name, error, failed, parked_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (consumer, position) DO UPDATE
   SET stream_id = excluded.stream_id, name = excluded.name, error = excluded.error,
       failed = excluded.failed, parked_at = excluded.parked_at
