SELECT min(due) FROM es_process_timers WHERE process = ?1
