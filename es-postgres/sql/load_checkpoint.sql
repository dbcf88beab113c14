SELECT position FROM {schema}.checkpoints WHERE projection = $1
