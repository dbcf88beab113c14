-- Serializes the set-up of table projections in one schema, in every process, until the
-- set-up's transaction ends: `CREATE TABLE IF NOT EXISTS` run at once by two sessions can
-- fail on the catalog's unique keys.
SELECT pg_advisory_xact_lock($1, $2)
