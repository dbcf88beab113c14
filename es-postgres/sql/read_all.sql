SELECT {event_columns}
  FROM {schema}.read_all($1, $2)
