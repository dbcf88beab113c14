INSERT INTO es_process_timers (process, key, name, id, due, payload, correlation_id)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (process, key, name) DO UPDATE
   SET id = excluded.id, due = excluded.due, payload = excluded.payload,
       correlation_id = excluded.correlation_id
