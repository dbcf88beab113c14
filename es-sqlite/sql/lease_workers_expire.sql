-- Forgets a consumer's workers whose time ran out by ?2.
DELETE FROM es_lease_workers WHERE consumer = ?1 AND expires <= ?2
