-- Marks a worker gone.
DELETE FROM es_lease_workers WHERE consumer = ?1 AND worker = ?2
