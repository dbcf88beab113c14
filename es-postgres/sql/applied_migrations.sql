SELECT version FROM {schema}.schema_migrations ORDER BY version
