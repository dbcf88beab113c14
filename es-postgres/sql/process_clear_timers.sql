DELETE FROM {schema}.process_timers WHERE process = $1 AND key = ANY($2)
