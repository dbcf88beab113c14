SELECT min(due) FROM {schema}.process_timers WHERE process = $1
