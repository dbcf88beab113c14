
-- One append of exactly one event, as PgStore::append runs it for a one-event batch. The
-- same checks, in the same order, with the same outcomes as append (migration 2), answered
-- as ARRAY[outcome, stream_version, first_position, last_position] with outcome 1 for
-- appended, 2 for duplicate (the earlier append of p_command_id, which may have had several
-- events) and 3 for conflict (stream_version is the actual version, the positions NULL).
-- A concurrent append that wins the race makes the INSERT fail on events_stream_version_key
-- (SQLSTATE 23505), which the caller turns into a conflict.
CREATE FUNCTION {schema}.append_one(
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

-- Migration 1's allocate (append, for batches of several events, calls it), with the
-- allocation lock taken inside the block that releases it on an error. Taken before the
-- block, an error raised between the two (a cancel or a statement timeout that arrived just as
-- the lock was granted is noticed there) left the session holding the lock, and every other
-- append of the schema blocked until that connection closed.
CREATE OR REPLACE FUNCTION {schema}.allocate(n integer) RETURNS bigint
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
    BEGIN
        PERFORM pg_advisory_lock({lock_class}, {lock_key});
        my_xid := pg_current_xact_id();
        PERFORM pg_advisory_xact_lock(({lock_key}::bigint << 32) | (my_xid::text::bigint & 4294967295));
        first_position := nextval('{schema}.positions');
        IF n > 1 THEN
            PERFORM setval('{schema}.positions', first_position + n - 1);
        END IF;
        PERFORM pg_advisory_unlock({lock_class}, {lock_key});
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
    RETURN first_position;
END
$fn$;
