INSERT INTO {schema}.snapshots AS old (stream_id, version, schema_version, payload, taken_at)
VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $5 * interval '1 microsecond')
    ON CONFLICT (stream_id) DO UPDATE
   SET version = excluded.version, schema_version = excluded.schema_version,
       payload = excluded.payload, taken_at = excluded.taken_at
 WHERE old.version <= excluded.version
