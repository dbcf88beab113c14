-- Marks a worker live until ?3.
INSERT INTO es_lease_workers (consumer, worker, expires) VALUES (?1, ?2, ?3)
    ON CONFLICT (consumer, worker) DO UPDATE SET expires = excluded.expires
