-- Keeps a consumer's leases for a partition count, at its first heartbeat.
INSERT INTO es_lease_counts (consumer, count) VALUES (?1, ?2)
