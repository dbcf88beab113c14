DELETE FROM es_checkpoints WHERE projection = ?1
