SELECT revision FROM es_process_instances WHERE process = ?1 AND key = ?2
