SELECT version, schema_version, payload,
       CASE WHEN taken_at > '-infinity' AND taken_at < '294247-01-10 04:00:54.775807+00'
            THEN (extract(epoch FROM taken_at) * 1000000)::int8
       END
  FROM {schema}.snapshots
 WHERE stream_id = $1
