SELECT o_outcome, o_stream_version, o_first_position, o_last_position, o_payload
  FROM {schema}.refuse($1, $2, $3, $4)
