DELETE FROM {schema}.checkpoints WHERE projection = $1
