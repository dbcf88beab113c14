-- Forgets the partition count a consumer's leases are kept for.
DELETE FROM es_lease_counts WHERE consumer = ?1
