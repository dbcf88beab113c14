-- Holds a partition until ?4: renews the worker's own lease, or takes the partition when
-- nobody holds it or its lease ran out by ?5. A live lease of another worker is left alone.
INSERT INTO es_leases (consumer, partition, worker, expires) VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (consumer, partition) DO UPDATE
   SET worker = excluded.worker, expires = excluded.expires
 WHERE es_leases.worker = excluded.worker OR es_leases.expires <= ?5
