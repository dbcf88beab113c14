DELETE FROM {schema}.process_timers WHERE process = $1
