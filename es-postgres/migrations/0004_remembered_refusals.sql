
-- Remembered refusals (es-core's EventStore::refuse): a command id refused on a stream keeps
-- its refusal, as an appended one keeps its events, so the same command id always gets the
-- same answer. A command id has one outcome per stream: the appends below refuse a command id
-- with a refusal ('refused', or 4 in append_one's array), and refuse answers an appended one
-- with its append. Both take a transaction lock on the stream first (only when there is a
-- command id), so that a refusal and an append of the same command id racing each other come
-- one after the other.
CREATE TABLE {schema}.refusals (
    stream_id      text        NOT NULL,
    command_id     uuid        NOT NULL,
    -- The stream's version when the command was refused.
    stream_version bigint      NOT NULL CHECK (stream_version >= 0),
    -- The aggregate's error, as the repository's codec encoded it.
    payload        bytea       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (stream_id, command_id)
);

-- Records the refusal of p_command_id on p_stream_id, decided at p_expected (-1: any
-- version), unless the command id has an outcome already. Answers o_outcome 'appended' (the
-- earlier append: its version and positions), 'refused' (the earlier refusal, or this one
-- recorded: its version and payload) or 'conflict' (o_stream_version is the actual version;
-- nothing recorded).
CREATE FUNCTION {schema}.refuse(
    p_stream_id text,
    p_expected bigint,
    p_command_id uuid,
    p_payload bytea,
    OUT o_outcome text,
    OUT o_stream_version bigint,
    OUT o_first_position bigint,
    OUT o_last_position bigint,
    OUT o_payload bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
    actual bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({command_lock_class}, hashtext(p_stream_id) # {lock_key});
    SELECT max(e.stream_version), min(e.position), max(e.position)
      INTO o_stream_version, o_first_position, o_last_position
      FROM {schema}.events e
     WHERE e.stream_id = p_stream_id AND e.command_id = p_command_id;
    IF o_stream_version IS NOT NULL THEN
        o_outcome := 'appended';
        RETURN;
    END IF;
    SELECT r.stream_version, r.payload INTO o_stream_version, o_payload
      FROM {schema}.refusals r
     WHERE r.stream_id = p_stream_id AND r.command_id = p_command_id;
    IF FOUND THEN
        o_outcome := 'refused';
        RETURN;
    END IF;
    SELECT coalesce(max(e.stream_version), 0) INTO actual
      FROM {schema}.events e WHERE e.stream_id = p_stream_id;
    IF p_expected >= 0 AND p_expected <> actual THEN
        o_outcome := 'conflict';
        o_stream_version := actual;
        RETURN;
    END IF;
    INSERT INTO {schema}.refusals (stream_id, command_id, stream_version, payload)
    VALUES (p_stream_id, p_command_id, actual, p_payload);
    o_outcome := 'refused';
    o_stream_version := actual;
    o_payload := p_payload;
END
$fn$;

-- Migration 2's append, which also answers 'refused' (o_stream_version the refusal's version)
-- for a command id refused on the stream, under the stream's command lock.
CREATE OR REPLACE FUNCTION {schema}.append(
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
    IF p_command_id IS NULL THEN
        SELECT coalesce(max(e.stream_version), 0) INTO actual
          FROM {schema}.events e WHERE e.stream_id = p_stream_id;
    ELSE
        -- Serializes this stream's appends and refusals that carry a command id, so that a
        -- command id gets one outcome even when two of them race (see refuse below).
        PERFORM pg_advisory_xact_lock({command_lock_class}, hashtext(p_stream_id) # {lock_key});
        SELECT r.stream_version INTO o_stream_version
          FROM {schema}.refusals r
         WHERE r.stream_id = p_stream_id AND r.command_id = p_command_id;
        IF FOUND THEN
            o_outcome := 'refused';
            RETURN;
        END IF;
        -- One statement, so one snapshot: the idempotency check and the version agree.
        SELECT coalesce((SELECT max(e.stream_version) FROM {schema}.events e
                          WHERE e.stream_id = p_stream_id), 0),
               earlier.v, earlier.f, earlier.l
          INTO actual, o_stream_version, o_first_position, o_last_position
          FROM (SELECT max(e.stream_version) AS v, min(e.position) AS f, max(e.position) AS l
                  FROM {schema}.events e
                 WHERE e.stream_id = p_stream_id AND e.command_id = p_command_id) AS earlier;
        IF o_stream_version IS NOT NULL THEN
            o_outcome := 'duplicate';
            RETURN;
        END IF;
    END IF;
    IF p_expected >= 0 AND p_expected <> actual THEN
        o_outcome := 'conflict';
        o_stream_version := actual;
        RETURN;
    END IF;
    o_first_position := {schema}.allocate(n);
    IF n = 1 THEN
        INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, name,
                                     schema_version, payload, metadata, command_id,
                                     transaction_id)
        VALUES (o_first_position, p_stream_id, actual + 1, p_event_ids[1], p_names[1],
                p_schema_versions[1], p_payloads[1], p_metadata[1]::json, p_command_id,
                pg_current_xact_id());
    ELSE
        INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, name,
                                     schema_version, payload, metadata, command_id,
                                     transaction_id)
        SELECT o_first_position + e.ord - 1, p_stream_id, actual + e.ord, e.event_id, e.name,
               e.schema_version, e.payload, e.metadata::json, p_command_id, pg_current_xact_id()
          FROM unnest(p_event_ids, p_names, p_schema_versions, p_payloads, p_metadata)
               WITH ORDINALITY AS e(event_id, name, schema_version, payload, metadata, ord);
    END IF;
    o_outcome := 'appended';
    o_stream_version := actual + n;
    o_last_position := o_first_position + n - 1;
END
$fn$;

-- Migration 3's append_one, which also answers 4 (refused; the refusal's version) for a
-- command id refused on the stream, under the stream's command lock.
CREATE OR REPLACE FUNCTION {schema}.append_one(
    p_stream_id text,
    p_expected bigint,
    p_command_id uuid,
    p_event_id uuid,
    p_name text,
    p_schema_version bigint,
    p_payload bytea,
    p_metadata text)
RETURNS bigint[]
LANGUAGE plpgsql AS $fn$
DECLARE
    actual bigint;
    earlier_version bigint;
    earlier_first bigint;
    earlier_last bigint;
    my_xid xid8;
    first_position bigint;
    unlocked boolean;
BEGIN
    IF p_command_id IS NULL THEN
        SELECT coalesce(max(e.stream_version), 0) INTO actual
          FROM {schema}.events e WHERE e.stream_id = p_stream_id;
    ELSE
        -- Serializes this stream's appends and refusals that carry a command id, so that a
        -- command id gets one outcome even when two of them race (see refuse below).
        PERFORM pg_advisory_xact_lock({command_lock_class}, hashtext(p_stream_id) # {lock_key});
        SELECT r.stream_version INTO earlier_version
          FROM {schema}.refusals r
         WHERE r.stream_id = p_stream_id AND r.command_id = p_command_id;
        IF FOUND THEN
            RETURN ARRAY[4, earlier_version, NULL, NULL];
        END IF;
        -- One statement, so one snapshot: the idempotency check and the version agree.
        SELECT coalesce((SELECT max(e.stream_version) FROM {schema}.events e
                          WHERE e.stream_id = p_stream_id), 0),
               earlier.v, earlier.f, earlier.l
          INTO actual, earlier_version, earlier_first, earlier_last
          FROM (SELECT max(e.stream_version) AS v, min(e.position) AS f, max(e.position) AS l
                  FROM {schema}.events e
                 WHERE e.stream_id = p_stream_id AND e.command_id = p_command_id) AS earlier;
        IF earlier_version IS NOT NULL THEN
            RETURN ARRAY[2, earlier_version, earlier_first, earlier_last];
        END IF;
    END IF;
    IF p_expected >= 0 AND p_expected <> actual THEN
        RETURN ARRAY[3, actual, NULL, NULL];
    END IF;
    -- allocate(1), inlined: the same refusal, the same steps under the same locks.
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'es-postgres: positions must be allocated before the transaction writes anything'
            USING ERRCODE = '55000';
    END IF;
    BEGIN
        -- One statement, so that the allocation lock is held for as short a time as can be:
        -- take it, force the transaction id, take the in-flight lock keyed by that id and the
        -- position, release it. Each step reads the row of the one before it (OFFSET 0 keeps
        -- the subqueries apart), so they run in that order.
        SELECT taken.xid, taken.pos, pg_advisory_unlock({lock_class}, {lock_key})
          INTO my_xid, first_position, unlocked
          FROM (SELECT assigned.xid, nextval('{schema}.positions') AS pos,
                       pg_advisory_xact_lock(({lock_key}::bigint << 32)
                                             | (assigned.xid::text::bigint & 4294967295)) AS in_flight
                  FROM (SELECT pg_current_xact_id() AS xid
                          FROM (SELECT pg_advisory_lock({lock_class}, {lock_key})) AS locked
                        OFFSET 0) AS assigned
                OFFSET 0) AS taken;
        IF unlocked IS NOT TRUE OR first_position IS NULL THEN
            RAISE EXCEPTION 'es-postgres: the position allocation did not complete'
                USING ERRCODE = 'XX000';
        END IF;
    EXCEPTION WHEN OTHERS OR query_canceled THEN
        -- A session lock outlives the transaction: never leave it held. The error may have
        -- come before the lock was granted or after it was released: release it only if held.
        IF EXISTS (SELECT FROM pg_catalog.pg_locks l
                    WHERE l.locktype = 'advisory' AND l.pid = pg_backend_pid() AND l.granted
                      AND l.classid = ({lock_class})::oid AND l.objid = ({lock_key})::oid
                      AND l.objsubid = 2) THEN
            PERFORM pg_advisory_unlock({lock_class}, {lock_key});
        END IF;
        RAISE;
    END;
    INSERT INTO {schema}.events (position, stream_id, stream_version, event_id, name,
                                 schema_version, payload, metadata, command_id, transaction_id)
    VALUES (first_position, p_stream_id, actual + 1, p_event_id, p_name, p_schema_version,
            p_payload, p_metadata::json, p_command_id, my_xid);
    RETURN ARRAY[1, actual + 1, first_position, first_position];
END
$fn$;
