SELECT {instance_columns}
  FROM {schema}.process_instances
 WHERE process = $1 AND key = ANY($2)
