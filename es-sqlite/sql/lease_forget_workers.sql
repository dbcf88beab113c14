-- Forgets every worker of a consumer.
DELETE FROM es_lease_workers WHERE consumer = ?1
