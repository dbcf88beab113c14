-- es-sqlite, schema version 4: parked events (es-core's ParkedEvent), the events a consumer
-- set aside because its projection failed on them. Written by the writer only: a table
-- projection's in the transaction that moves its checkpoint. Times are microseconds since
-- 1970-01-01 UTC.

-- Each parked event of a consumer (a checkpoint name: a projection's, or one of its
-- partitions', '<projection>#...'), by its global position.
CREATE TABLE es_parked_events (
    consumer        TEXT    NOT NULL,
    position        INTEGER NOT NULL,
    stream_id       TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    failed          INTEGER NOT NULL CHECK (failed IN (0, 1)),  -- 0: waits behind an earlier event
    parked_at       INTEGER NOT NULL,
    PRIMARY KEY (consumer, position)
) STRICT;
