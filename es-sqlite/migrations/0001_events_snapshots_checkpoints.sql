-- es-sqlite, schema version 1: the log, command ids, snapshots and checkpoints.
-- Every table is STRICT: SQLite refuses a value of the wrong type at insert, as the other
-- stores' databases do.

-- The log. Rows are only ever inserted, by the store's single writer, which takes each
-- position as the largest one plus one inside the write transaction (SQLite lets one write
-- transaction run at a time per file), so positions have no holes and commit in order.
CREATE TABLE es_events (
    position        INTEGER PRIMARY KEY,          -- the global position, from 1, no holes
    stream_id       TEXT    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 1),
    event_id        BLOB    NOT NULL,             -- 16 bytes
    name            TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL CHECK (schema_version BETWEEN 0 AND 4294967295),
    payload         BLOB    NOT NULL,
    correlation_id  BLOB,                         -- Metadata::correlation_id, 16 bytes
    causation_id    BLOB,                         -- Metadata::causation_id, 16 bytes
    command_id      BLOB,                         -- Metadata::command_id, 16 bytes
    headers         TEXT,                         -- Metadata::headers as a JSON object; NULL when empty
    recorded_at     INTEGER NOT NULL,             -- microseconds since 1970-01-01 UTC
    UNIQUE (stream_id, stream_version)
) STRICT;

-- Idempotency: the append that a command id (the first event's) produced on a stream.
CREATE TABLE es_commands (
    stream_id       TEXT    NOT NULL,
    command_id      BLOB    NOT NULL,
    stream_version  INTEGER NOT NULL,             -- the stream's version after the append
    first_position  INTEGER NOT NULL,
    last_position   INTEGER NOT NULL,
    PRIMARY KEY (stream_id, command_id)
) STRICT, WITHOUT ROWID;

-- The newest snapshot of each stream.
CREATE TABLE es_snapshots (
    stream_id       TEXT    NOT NULL PRIMARY KEY,
    version         INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    taken_at        INTEGER NOT NULL              -- microseconds since 1970-01-01 UTC
) STRICT;

-- How far each projection has processed the log.
CREATE TABLE es_checkpoints (
    projection      TEXT    NOT NULL PRIMARY KEY,
    position        INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL              -- microseconds since 1970-01-01 UTC
) STRICT;
