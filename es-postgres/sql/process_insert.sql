-- New instances at revision 1; one that another runner inserted first is not inserted (the
-- caller compares the count and rolls back).
INSERT INTO {schema}.process_instances
       (process, key, state, finished, revision,
        parked_error, parked_inputs, parked_since, parked_retry)
SELECT $1, u.key, u.state, u.finished, 1, u.error, u.inputs, u.since, u.retry
  FROM unnest($2::text[], $3::bytea[], $4::boolean[], $5::text[], $6::bytea[], $7::bigint[],
              $8::boolean[])
       AS u(key, state, finished, error, inputs, since, retry)
ON CONFLICT (process, key) DO NOTHING
