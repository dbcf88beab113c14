-- The migrations applied to this file.
CREATE TABLE IF NOT EXISTS es_migrations (
    version     INTEGER NOT NULL PRIMARY KEY,
    applied_at  INTEGER NOT NULL              -- microseconds since 1970-01-01 UTC
) STRICT
