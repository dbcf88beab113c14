
-- Remembered refusals (es-core's EventStore::refuse): a command id refused on a stream keeps
-- its refusal, at the version it was decided at, as an appended one keeps its events
-- (es_commands). A command id has one outcome per stream; the writer checks both tables.
CREATE TABLE es_refusals (
    stream_id       TEXT    NOT NULL,
    command_id      BLOB    NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 0),
    payload         BLOB    NOT NULL,                -- the aggregate's error, encoded
    recorded_at     INTEGER NOT NULL,                -- microseconds since 1970
    PRIMARY KEY (stream_id, command_id)
) STRICT, WITHOUT ROWID;

-- Process managers (es-core's ProcessStore): each process's instances and timers, written in
-- the transaction that moves the process's checkpoint (its row of es_checkpoints). Keys,
-- states, timer payloads and parked inputs are es-core's encodings.
CREATE TABLE es_process_instances (
    process         TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    state           BLOB    NOT NULL,                -- empty once finished
    finished        INTEGER NOT NULL CHECK (finished IN (0, 1)),
    revision        INTEGER NOT NULL CHECK (revision > 0),
    parked_error    TEXT,                            -- set while parked, with the next two
    parked_inputs   BLOB,
    parked_since    INTEGER,                         -- microseconds since 1970
    parked_retry    INTEGER NOT NULL DEFAULT 0 CHECK (parked_retry IN (0, 1)),
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (process, key)
) STRICT, WITHOUT ROWID;

CREATE INDEX es_process_instances_parked ON es_process_instances (process, key)
    WHERE parked_error IS NOT NULL;

-- An instance's timers, at most one of each name; `due` in microseconds since 1970.
CREATE TABLE es_process_timers (
    process         TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    id              BLOB    NOT NULL,
    due             INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    correlation_id  BLOB,
    PRIMARY KEY (process, key, name)
) STRICT, WITHOUT ROWID;

CREATE INDEX es_process_timers_due ON es_process_timers (process, due, id);
CREATE INDEX es_process_timers_id ON es_process_timers (process, id);
