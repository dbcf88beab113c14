-- A consumer's live workers, sorted by id (blobs compare byte by byte, as ids do).
SELECT worker FROM es_lease_workers WHERE consumer = ?1 ORDER BY worker
