-- The tables of a database that are not this store's: a file holding any of them before the
-- store set its application id is not an event store.
SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'
