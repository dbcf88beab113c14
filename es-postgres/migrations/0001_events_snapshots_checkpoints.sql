
-- Global positions. CACHE 1 (the default) matters: a session-level cache would hand out
-- positions out of allocation order. Only {schema}.allocate calls nextval.
CREATE SEQUENCE {schema}.positions AS bigint MINVALUE 1 START WITH 1 CACHE 1 NO CYCLE;

-- The log. Rows are only ever inserted, by {schema}.append.
CREATE TABLE {schema}.events (
    position        bigint      NOT NULL,
    stream_id       text        NOT NULL,
    stream_version  bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    name            text        NOT NULL,
    schema_version  bigint      NOT NULL,
    payload         bytea       NOT NULL,
    metadata        json        NOT NULL,
    command_id      uuid,
    transaction_id  xid8        NOT NULL,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_pkey PRIMARY KEY (position),
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_check CHECK (stream_version >= 1),
    CONSTRAINT events_schema_version_check CHECK (schema_version BETWEEN 0 AND 4294967295)
);

-- Command-id idempotency: the earlier append of a command on a stream.
CREATE INDEX events_command_idx ON {schema}.events (stream_id, command_id)
    WHERE command_id IS NOT NULL;

-- Takes n consecutive positions and returns the first. Under one session advisory lock (the
-- allocation lock, released at once, not held to commit) it forces the transaction's id to be
-- assigned, takes the transaction-level "append in flight" lock keyed by that id (held until
-- commit or rollback: see read_bound), and takes the positions. Transaction ids and positions
-- are therefore handed out in the same order. A transaction that already has an id (it wrote
-- something, or appended already) is refused: its id would be older than its positions, and
-- readers may have judged it not to be an append.
CREATE FUNCTION {schema}.allocate(n integer) RETURNS bigint
LANGUAGE plpgsql AS $fn$
DECLARE
    first_position bigint;
    my_xid xid8;
BEGIN
    IF n IS NULL OR n < 1 THEN
        RAISE EXCEPTION 'es-postgres: allocate(%) needs at least one position', n
            USING ERRCODE = '22023';
    END IF;
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'es-postgres: positions must be allocated before the transaction writes anything'
            USING ERRCODE = '55000';
    END IF;
    PERFORM pg_advisory_lock({lock_class}, {lock_key});
    BEGIN
        my_xid := pg_current_xact_id();
        PERFORM pg_advisory_xact_lock(({lock_key}::bigint << 32) | (my_xid::text::bigint & 4294967295));
        first_position := nextval('{schema}.positions');
        IF n > 1 THEN
            PERFORM setval('{schema}.positions', first_position + n - 1);
        END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- A session lock outlives the transaction: never leave it held.
        PERFORM pg_advisory_unlock({lock_class}, {lock_key});
        RAISE;
    END;
    PERFORM pg_advisory_unlock({lock_class}, {lock_key});
    RETURN first_position;
END
$fn$;

-- The transaction id below which rows of events may be delivered: the oldest transaction that
-- was running at this statement's snapshot and holds an "append in flight" lock of this schema
-- (or the snapshot's xmax when none does). Running transactions that are not appends of this
-- store (they never took positions, and cannot: allocate refuses them) do not hold delivery
-- back. Callers read the rows with a LATER snapshot (a later statement, READ COMMITTED), so a
-- running transaction found not to hold the lock either was no append or has finished, and
-- its rows, if any, are visible to that later read.
CREATE FUNCTION {schema}.read_bound() RETURNS xid8
LANGUAGE sql VOLATILE AS $fn$
    SELECT least(
               (SELECT min(x) FROM pg_snapshot_xip(snap.s) AS x
                 WHERE NOT pg_try_advisory_xact_lock_shared(
                           ({lock_key}::bigint << 32) | (x::text::bigint & 4294967295))),
               pg_snapshot_xmax(snap.s))
      FROM (SELECT pg_current_snapshot() AS s) AS snap
$fn$;

-- The deliverable events after p_after, in position order: the bound first (one statement),
-- then the rows (a later statement, so a later snapshot).
CREATE FUNCTION {schema}.read_all(p_after bigint, p_max bigint) RETURNS SETOF {schema}.events
LANGUAGE plpgsql AS $fn$
DECLARE
    bound xid8;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'es-postgres: read_all needs READ COMMITTED (a new snapshot per statement)'
            USING ERRCODE = '25000';
    END IF;
    SELECT {schema}.read_bound() INTO bound;
    RETURN QUERY
        SELECT * FROM {schema}.events e
         WHERE e.position > p_after AND e.transaction_id < bound
         ORDER BY e.position
         LIMIT p_max;
END
$fn$;

-- Whether read_all(p_after, 1) would return an event, without reading it.
CREATE FUNCTION {schema}.any_after(p_after bigint) RETURNS boolean
LANGUAGE plpgsql AS $fn$
DECLARE
    bound xid8;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'es-postgres: any_after needs READ COMMITTED (a new snapshot per statement)'
            USING ERRCODE = '25000';
    END IF;
    SELECT {schema}.read_bound() INTO bound;
    RETURN EXISTS (SELECT 1 FROM {schema}.events e
                    WHERE e.position > p_after AND e.transaction_id < bound);
END
$fn$;

-- One append, as PgStore::append runs it: idempotency by command id, then the expected
-- version (p_expected: -1 for any, otherwise the exact version, 0 for no stream), then the
-- positions and the rows, then the notification (delivered at commit). Outcome 'appended',
-- 'duplicate' (the earlier append of p_command_id) or 'conflict' (o_stream_version is the
-- actual version). A concurrent append that wins the race makes the INSERT fail on
-- events_stream_version_key (SQLSTATE 23505), which the caller turns into a conflict.
CREATE FUNCTION {schema}.append(
    p_stream_id text,
    p_expected bigint,
    p_command_id uuid,
    p_event_ids uuid[],
    p_names text[],
    p_schema_versions bigint[],
    p_payloads bytea[],
    p_metadata text[],
    OUT o_outcome text,
    OUT o_stream_version bigint,
    OUT o_first_position bigint,
    OUT o_last_position bigint)
LANGUAGE plpgsql AS $fn$
DECLARE
    n integer := cardinality(p_event_ids);
    actual bigint;
BEGIN
    -- One statement, so one snapshot: the idempotency check and the version agree.
    SELECT coalesce((SELECT max(e.stream_version) FROM {schema}.events e
                      WHERE e.stream_id = p_stream_id), 0),
           earlier.v, earlier.f, earlier.l
      INTO actual, o_stream_version, o_first_position, o_last_position
      FROM (SELECT max(e.stream_version) AS v, min(e.position) AS f, max(e.position) AS l
              FROM {schema}.events e
             WHERE p_command_id IS NOT NULL
               AND e.stream_id = p_stream_id
               AND e.command_id = p_command_id) AS earlier;
    IF o_stream_version IS NOT NULL THEN
        o_outcome := 'duplicate';
        RETURN;
    END IF;
    IF p_expected >= 0 AND p_expected <> actual THEN
        o_outcome := 'conflict';
        o_stream_version := actual;
        RETURN;
    END IF;
    o_first_position := {schema}.allocate(n);
    INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, name,
                                 schema_version, payload, metadata, command_id, transaction_id)
    SELECT o_first_position + e.ord - 1, p_stream_id, actual + e.ord, e.event_id, e.name,
           e.schema_version, e.payload, e.metadata::json, p_command_id, pg_current_xact_id()
      FROM unnest(p_event_ids, p_names, p_schema_versions, p_payloads, p_metadata)
           WITH ORDINALITY AS e(event_id, name, schema_version, payload, metadata, ord);
    PERFORM pg_notify('{schema}_events', '');
    o_outcome := 'appended';
    o_stream_version := actual + n;
    o_last_position := o_first_position + n - 1;
END
$fn$;

-- The newest snapshot of each stream.
CREATE TABLE {schema}.snapshots (
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    schema_version  bigint      NOT NULL,
    payload         bytea       NOT NULL,
    taken_at        timestamptz NOT NULL,
    CONSTRAINT snapshots_pkey PRIMARY KEY (stream_id)
);

-- How far each projection has processed the log.
CREATE TABLE {schema}.checkpoints (
    projection  text        NOT NULL,
    position    bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT checkpoints_pkey PRIMARY KEY (projection)
);
