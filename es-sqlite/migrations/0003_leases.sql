-- es-sqlite, schema version 3: leases of partitioned consumers (es-core's LeaseStore), by
-- which the workers of a consumer split into partitions, in one process or several, share
-- its partitions. Written by the writer only, each heartbeat in one transaction under the
-- file's write lock. Times are microseconds since 1970 by the system clock, which the
-- processes on one machine share.

-- The partition count each consumer's leases are kept for, from its first heartbeat until
-- its leases are forgotten.
CREATE TABLE es_lease_counts (
    consumer        TEXT    NOT NULL PRIMARY KEY,
    count           INTEGER NOT NULL CHECK (count BETWEEN 0 AND 4294967295)
) STRICT, WITHOUT ROWID;

-- Each consumer's live workers, each until its last heartbeat's lease runs out.
CREATE TABLE es_lease_workers (
    consumer        TEXT    NOT NULL,
    worker          BLOB    NOT NULL,                -- 16 bytes
    expires         INTEGER NOT NULL,
    PRIMARY KEY (consumer, worker)
) STRICT, WITHOUT ROWID;

-- Each held partition of a consumer: the worker holding it, and until when.
CREATE TABLE es_leases (
    consumer        TEXT    NOT NULL,
    partition       INTEGER NOT NULL CHECK (partition BETWEEN 0 AND 4294967294),
    worker          BLOB    NOT NULL,                -- 16 bytes
    expires         INTEGER NOT NULL,
    PRIMARY KEY (consumer, partition)
) STRICT, WITHOUT ROWID;

CREATE INDEX es_leases_worker ON es_leases (consumer, worker);
