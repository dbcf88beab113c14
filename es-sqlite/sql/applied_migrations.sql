SELECT version FROM es_migrations ORDER BY version
