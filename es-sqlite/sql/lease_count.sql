-- The partition count a consumer's leases are kept for.
SELECT count FROM es_lease_counts WHERE consumer = ?1
