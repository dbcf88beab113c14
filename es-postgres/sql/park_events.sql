-- Keeps parked events of a consumer; an event parked again replaces its record.
INSERT INTO {schema}.parked_events
       (consumer, position, stream_id, name, error, failed, parked_at)
SELECT $1, u.position, u.stream_id, u.name, u.error, u.failed,
       timestamptz 'epoch' + u.parked_at * interval '1 microsecond'
  FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::bigint[])
       AS u(position, stream_id, name, error, failed, parked_at)
ON CONFLICT (consumer, position) DO UPDATE
   SET stream_id = excluded.stream_id, name = excluded.name, error = excluded.error,
       failed = excluded.failed, parked_at = excluded.parked_at
