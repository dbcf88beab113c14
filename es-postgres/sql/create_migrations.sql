CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version     integer     PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
