-- A lock held until the transaction ends; ($1, $2) its two-part key, a lock class and the
-- schema's key.
SELECT pg_advisory_xact_lock($1, $2)
