-- Forgets every lease of a consumer.
DELETE FROM es_leases WHERE consumer = ?1
