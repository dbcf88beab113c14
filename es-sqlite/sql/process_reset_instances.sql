DELETE FROM es_process_instances WHERE process = ?1
