
-- Partitioned consumers (es-core's LeaseStore): which worker of a consumer split into
-- partitions processes which partition. Every time here is the server's clock
-- (clock_timestamp()), so workers on different machines agree on when a lease runs out,
-- whatever their own clocks say.

-- The partition count a consumer's leases are kept for, from its first heartbeat until
-- lease_forget.
CREATE TABLE {schema}.lease_counts (
    consumer   text   PRIMARY KEY,
    partitions bigint NOT NULL CHECK (partitions > 0)
);

-- The live workers of each consumer, each until when: a worker that stops renewing is
-- forgotten by the next heartbeat after its time ran out.
CREATE TABLE {schema}.lease_workers (
    consumer text        NOT NULL,
    worker   uuid        NOT NULL,
    expires  timestamptz NOT NULL,
    PRIMARY KEY (consumer, worker)
);

-- The held partitions of each consumer: by which worker, until when. A row whose time ran out
-- is free for the worker whose share the partition is.
CREATE TABLE {schema}.leases (
    consumer  text        NOT NULL,
    partition bigint      NOT NULL CHECK (partition >= 0),
    worker    uuid        NOT NULL,
    expires   timestamptz NOT NULL,
    PRIMARY KEY (consumer, partition)
);

-- One heartbeat of p_worker of p_consumer split into p_count partitions, with leases of
-- p_lease_us microseconds, as LeaseStore::heartbeat describes it. Answers the count the
-- consumer's leases are kept for (o_count); when it is p_count, o_held holds the partitions
-- the worker holds now, in order, and is empty otherwise (nothing was taken).
--
-- A function rather than a transaction the store drives statement by statement: it runs in
-- one round trip, and the consumer's lock is held only while the server runs it. A
-- transaction driven from the client holds its lock across round trips, so a worker paused
-- or cut off in the middle of one would hold up the heartbeats of every other worker of the
-- consumer until the server noticed the lost connection, and their leases would run out
-- meanwhile.
CREATE FUNCTION {schema}.lease_heartbeat(
    p_consumer text,
    p_worker uuid,
    p_count bigint,
    p_lease_us bigint,
    OUT o_count bigint,
    OUT o_held bigint[])
LANGUAGE plpgsql AS $fn$
DECLARE
    v_now   timestamptz;
    v_until timestamptz;
    v_rank  bigint;
    v_live  bigint;
BEGIN
    -- The heartbeats of one consumer come one after the other (its releases and lease_forget
    -- take the same lock). Each statement below reads afresh (READ COMMITTED), after the
    -- lock: it sees everything the one before committed.
    PERFORM pg_advisory_xact_lock({lease_lock_class}, hashtext(p_consumer) # {lock_key});
    -- The time once the lock is granted: now() is when the statement started, maybe long
    -- before.
    v_now := clock_timestamp();
    v_until := v_now + p_lease_us * interval '1 microsecond';
    INSERT INTO {schema}.lease_counts (consumer, partitions) VALUES (p_consumer, p_count)
    ON CONFLICT (consumer) DO NOTHING;
    SELECT c.partitions INTO o_count FROM {schema}.lease_counts c WHERE c.consumer = p_consumer;
    IF o_count IS DISTINCT FROM p_count THEN
        o_held := ARRAY[]::bigint[];
        RETURN;
    END IF;
    -- 1. The worker is live until v_until; workers whose time ran out are forgotten.
    INSERT INTO {schema}.lease_workers (consumer, worker, expires)
    VALUES (p_consumer, p_worker, v_until)
    ON CONFLICT (consumer, worker) DO UPDATE SET expires = excluded.expires;
    -- (Never the worker itself: with a lease of 0 its time runs out at once, and it still
    -- counts for this heartbeat.)
    DELETE FROM {schema}.lease_workers w
     WHERE w.consumer = p_consumer AND w.expires <= v_now AND w.worker <> p_worker;
    -- 2. Its rank among the live workers sorted by id (uuid order is byte order, as es-core
    -- sorts them), and how many are live: its share is the partitions p with
    -- p % v_live = v_rank.
    SELECT count(*) FILTER (WHERE w.worker < p_worker), count(*) INTO v_rank, v_live
      FROM {schema}.lease_workers w WHERE w.consumer = p_consumer;
    -- 3. It gives up its leases outside its share, renews those inside, and takes the
    -- partitions of its share that nobody holds or whose lease ran out; never one another
    -- live lease holds.
    DELETE FROM {schema}.leases l
     WHERE l.consumer = p_consumer AND l.worker = p_worker AND l.partition % v_live <> v_rank;
    INSERT INTO {schema}.leases AS l (consumer, partition, worker, expires)
    SELECT p_consumer, share.p, p_worker, v_until
      FROM generate_series(v_rank, p_count - 1, v_live) AS share (p)
    ON CONFLICT (consumer, partition) DO UPDATE
       SET worker = excluded.worker, expires = excluded.expires
     WHERE l.worker = excluded.worker OR l.expires <= v_now;
    -- 4. What it holds now.
    o_held := ARRAY(SELECT l.partition FROM {schema}.leases l
                     WHERE l.consumer = p_consumer AND l.worker = p_worker
                     ORDER BY l.partition);
END
$fn$;

-- A worker's clean stop: gives up every lease of p_worker of p_consumer and forgets the
-- worker, so that the others take its partitions at their next heartbeat.
CREATE FUNCTION {schema}.lease_release(p_consumer text, p_worker uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock({lease_lock_class}, hashtext(p_consumer) # {lock_key});
    DELETE FROM {schema}.leases l WHERE l.consumer = p_consumer AND l.worker = p_worker;
    DELETE FROM {schema}.lease_workers w WHERE w.consumer = p_consumer AND w.worker = p_worker;
END
$fn$;

-- Forgets every lease and worker of p_consumer and the count its leases are kept for.
CREATE FUNCTION {schema}.lease_forget(p_consumer text) RETURNS void
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock({lease_lock_class}, hashtext(p_consumer) # {lock_key});
    DELETE FROM {schema}.leases l WHERE l.consumer = p_consumer;
    DELETE FROM {schema}.lease_workers w WHERE w.consumer = p_consumer;
    DELETE FROM {schema}.lease_counts c WHERE c.consumer = p_consumer;
END
$fn$;
