INSERT INTO {schema}.process_timers (process, key, name, id, due, payload, correlation_id)
SELECT $1, u.key, u.name, u.id, u.due, u.payload, u.correlation_id
  FROM unnest($2::text[], $3::text[], $4::uuid[], $5::bigint[], $6::bytea[], $7::uuid[])
       AS u(key, name, id, due, payload, correlation_id)
ON CONFLICT (process, key, name) DO UPDATE
   SET id = excluded.id, due = excluded.due, payload = excluded.payload,
       correlation_id = excluded.correlation_id
