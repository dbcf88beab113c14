DELETE FROM es_process_timers WHERE process = ?1
