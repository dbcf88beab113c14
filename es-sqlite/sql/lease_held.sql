-- The partitions a worker holds, in order.
SELECT partition FROM es_leases WHERE consumer = ?1 AND worker = ?2 ORDER BY partition
