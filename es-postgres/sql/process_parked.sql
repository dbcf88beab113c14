SELECT {instance_columns}
  FROM {schema}.process_instances
 WHERE process = $1 AND parked_error IS NOT NULL
 ORDER BY key
