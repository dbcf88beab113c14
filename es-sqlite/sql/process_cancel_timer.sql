DELETE FROM es_process_timers WHERE process = ?1 AND key = ?2 AND name = ?3
