SELECT position FROM es_checkpoints WHERE projection = ?1
