SELECT projection, position FROM es_checkpoints ORDER BY projection
