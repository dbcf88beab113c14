SELECT version, schema_version, payload, taken_at
  FROM {schema}.snapshots
 WHERE stream_id = $1
