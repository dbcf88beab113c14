SELECT o_outcome, o_stream_version, o_first_position, o_last_position
  FROM {schema}.append($1, $2, $3, $4, $5, $6, $7, $8)
