
-- Process managers (es-core's ProcessStore): each process's instances and timers, written in
-- the transaction that moves the process's checkpoint (the row of `checkpoints` under the
-- process's name). Keys, states, timer payloads and parked inputs are es-core's encodings.
CREATE TABLE {schema}.process_instances (
    process       text    NOT NULL,
    key           text    NOT NULL,
    -- The state (empty once finished).
    state         bytea   NOT NULL,
    finished      boolean NOT NULL DEFAULT false,
    -- Counts the commits that wrote the row; a write expects the revision it read.
    revision      bigint  NOT NULL CHECK (revision > 0),
    -- Set while the instance is parked: why, what waits, since when (microseconds since
    -- the Unix epoch), and whether a retry was asked for.
    parked_error  text,
    parked_inputs bytea,
    parked_since  bigint,
    parked_retry  boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (process, key),
    CHECK ((parked_error IS NULL) = (parked_inputs IS NULL)
       AND (parked_error IS NULL) = (parked_since IS NULL))
);

CREATE INDEX process_instances_parked_idx ON {schema}.process_instances (process, key)
    WHERE parked_error IS NOT NULL;

-- An instance's timers, at most one of each name. `due` is in microseconds since the Unix
-- epoch; `id` is derived from the input that set the timer.
CREATE TABLE {schema}.process_timers (
    process        text   NOT NULL,
    key            text   NOT NULL,
    name           text   NOT NULL,
    id             uuid   NOT NULL,
    due            bigint NOT NULL,
    payload        bytea  NOT NULL,
    correlation_id uuid,
    PRIMARY KEY (process, key, name)
);

CREATE INDEX process_timers_due_idx ON {schema}.process_timers (process, due, id);
CREATE INDEX process_timers_id_idx ON {schema}.process_timers (process, id);
