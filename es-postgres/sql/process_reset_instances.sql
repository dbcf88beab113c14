DELETE FROM {schema}.process_instances WHERE process = $1
