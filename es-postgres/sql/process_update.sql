-- Instances written at the revision they were read at; one that another runner wrote first is
-- not updated (the caller compares the count and rolls back).
UPDATE {schema}.process_instances AS i
   SET state = u.state, finished = u.finished, revision = i.revision + 1,
       parked_error = u.error, parked_inputs = u.inputs, parked_since = u.since,
       parked_retry = u.retry, updated_at = now()
  FROM unnest($2::text[], $3::bigint[], $4::bytea[], $5::boolean[], $6::text[], $7::bytea[],
              $8::bigint[], $9::boolean[])
       AS u(key, revision, state, finished, error, inputs, since, retry)
 WHERE i.process = $1 AND i.key = u.key AND i.revision = u.revision
