-- Gives up a worker's lease of one partition.
DELETE FROM es_leases WHERE consumer = ?1 AND partition = ?2 AND worker = ?3
