SELECT version, schema_version, payload, (extract(epoch FROM taken_at) * 1000000)::int8
  FROM {schema}.snapshots
 WHERE stream_id = $1
