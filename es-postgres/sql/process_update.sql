-- Instances written at the revision they were read at; one that another runner wrote first is
-- not updated (the caller compares the count and rolls back). $1 to $8 as in
-- process_insert.sql, $9 the revisions read.
UPDATE {schema}.process_instances AS i
   SET state = u.state, finished = u.finished, revision = i.revision + 1,
       parked_error = u.error, parked_inputs = u.inputs, parked_since = u.since,
       parked_retry = u.retry, updated_at = now()
  FROM unnest($2::text[], $3::bytea[], $4::boolean[], $5::text[], $6::bytea[], $7::bigint[],
              $8::boolean[], $9::bigint[])
       AS u(key, state, finished, error, inputs, since, retry, revision)
 WHERE i.process = $1 AND i.key = u.key AND i.revision = u.revision
