SELECT {schema}.read_bound()
