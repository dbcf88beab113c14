-- Gives up every lease of a worker.
DELETE FROM es_leases WHERE consumer = ?1 AND worker = ?2
