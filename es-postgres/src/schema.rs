//! The schema name, the embedded migrations and the SQL text of every query, built once per
//! store with the schema name in place.

use std::fmt;
use std::sync::Arc;

/// The name of the PostgreSQL schema a [`PgStore`](crate::PgStore) keeps its tables in.
///
/// A plain, lower-case identifier: 1 to [`SchemaName::MAX_LEN`] bytes of `a`-`z`, `0`-`9` and
/// `_`, not starting with a digit. Because only such names are accepted, they are written into
/// SQL text unquoted and mean the same thing to PostgreSQL as to this crate (no case folding,
/// no quoting rules). The default is `es`.
///
/// ```
/// use es_postgres::SchemaName;
///
/// assert_eq!(SchemaName::default().as_str(), "es");
/// assert!(SchemaName::new("billing_events").is_ok());
/// assert!(SchemaName::new("Billing").is_err());
/// assert!(SchemaName::new("es; drop table x").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(Arc<str>);

impl SchemaName {
    /// The longest schema name accepted, in bytes: PostgreSQL's identifier limit (63) less the
    /// `_events` suffix of the notification channel, which is named after the schema.
    pub const MAX_LEN: usize = 56;

    /// Checks and wraps a schema name.
    ///
    /// # Errors
    /// [`InvalidSchemaName`] when the name is empty, longer than [`Self::MAX_LEN`] bytes,
    /// starts with a digit or holds anything but `a`-`z`, `0`-`9` and `_`.
    pub fn new(name: impl AsRef<str>) -> Result<Self, InvalidSchemaName> {
        let name = name.as_ref();
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(Arc::from(name)))
        } else {
            Err(InvalidSchemaName {
                preview: name.chars().take(64).collect(),
            })
        }
    }

    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The LISTEN/NOTIFY channel the store notifies after its appends: `{schema}_events`.
    #[must_use]
    pub fn channel(&self) -> String {
        format!("{}_events", self.0)
    }

    /// The key of this schema's advisory locks (the second half of PostgreSQL's two-part
    /// key): FNV-1a of the name, so that stores in different schemas do not contend.
    pub(crate) fn lock_key(&self) -> i32 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.0.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        i32::from_ne_bytes(hash.to_ne_bytes())
    }
}

impl Default for SchemaName {
    fn default() -> Self {
        Self(Arc::from("es"))
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// A schema name that [`SchemaName::new`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSchemaName {
    /// The start of the rejected name (at most 64 characters).
    pub preview: String,
}

impl fmt::Display for InvalidSchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid schema name {:?}: use 1 to {} bytes of a-z, 0-9 and _, not starting with a digit",
            self.preview,
            SchemaName::MAX_LEN
        )
    }
}

impl std::error::Error for InvalidSchemaName {}

/// The first half of the advisory lock key that serializes position allocation.
pub(crate) const ALLOCATE_LOCK_CLASS: i32 = 0x6573_0001;
/// The first half of the advisory lock key that serializes migrations.
pub(crate) const MIGRATE_LOCK_CLASS: i32 = 0x6573_0002;

/// The migrations, in order: `(version, SQL)`. The SQL is run as one simple-protocol batch
/// inside the migration transaction, with `{schema}`, `{lock_class}` and `{lock_key}`
/// replaced. A released migration is never edited: changes are new versions.
pub(crate) const MIGRATIONS: &[(i32, &str)] =
    &[(1, MIGRATION_1), (2, MIGRATION_2), (3, MIGRATION_3)];

/// The first schema: events, the position sequence, the allocation and append functions,
/// snapshots and checkpoints.
const MIGRATION_1: &str = r#"
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
"#;

/// The append function without `pg_notify`, and cheaper: PostgreSQL serializes the commits of
/// notifying transactions, so appends that notified could not commit in parallel (the store
/// now notifies after its appends, from one task per store: see `listen::Notifier`). It also
/// skips the command-id lookup of an append that carries no command id, and inserts a single
/// event without `unnest`; what it does and answers is otherwise migration 1's.
const MIGRATION_2: &str = r#"
-- Migration 1's append, less the notification (PgStore::append notifies after the commit,
-- outside the append's transaction, so that appends commit in parallel), with the command-id
-- lookup only when there is a command id, and a plain VALUES row for a single event.
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
"#;

/// `append_one`, the append of a single event (a command's usual batch), which
/// `PgStore::append` uses for one-event batches: migration 2's `append` with scalar
/// parameters instead of arrays, `allocate(1)` inlined as one statement, and its answer as one
/// `bigint[]` instead of a row of OUT columns (a function returning a row is called through a
/// function scan, which cost about 6% of the append throughput in the benchmark). And
/// `allocate` again,
/// with the allocation lock taken inside the block that releases it on an error (migration 1
/// took it just before, so an error raised between the two, such as a cancel that arrived as
/// the lock was granted, left the session holding the lock and every other append blocked).
const MIGRATION_3: &str = r#"
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
"#;

/// A migration's SQL with the schema and lock key in place.
pub(crate) fn migration_sql(sql: &str, schema: &SchemaName) -> String {
    sql.replace("{schema}", schema.as_str())
        .replace("{lock_class}", &ALLOCATE_LOCK_CLASS.to_string())
        .replace("{lock_key}", &schema.lock_key().to_string())
}

/// The columns every event read selects, in the order `values::decode_event` reads them.
const EVENT_COLUMNS: &str = "position, stream_id, stream_version, event_id, name, \
     schema_version, payload, metadata::text, \
     (extract(epoch FROM recorded_at) * 1000000)::int8";

/// Every statement the store runs, with its schema name in place.
#[derive(Debug)]
pub(crate) struct Queries {
    pub(crate) append: String,
    pub(crate) append_one: String,
    pub(crate) notify: String,
    pub(crate) read_stream: String,
    pub(crate) read_all: String,
    pub(crate) any_after: String,
    pub(crate) stream_version: String,
    pub(crate) find_command: String,
    pub(crate) load_snapshot: String,
    pub(crate) save_snapshot: String,
    pub(crate) load_checkpoint: String,
    pub(crate) save_checkpoint: String,
    pub(crate) delete_checkpoint: String,
    pub(crate) create_schema: String,
    pub(crate) create_migrations: String,
    pub(crate) applied: String,
    pub(crate) record_migration: String,
}

impl Queries {
    pub(crate) fn new(schema: &SchemaName) -> Self {
        let s = schema.as_str();
        Self {
            append: format!(
                "SELECT o_outcome, o_stream_version, o_first_position, o_last_position \
                 FROM {s}.append($1, $2, $3, $4, $5, $6, $7, $8)"
            ),
            append_one: format!("SELECT {s}.append_one($1, $2, $3, $4, $5, $6, $7, $8)"),
            // Its own tiny transaction; a notification needs no durability, so it does not
            // wait for a flush (nor hold PostgreSQL's notify lock that long).
            notify: "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')"
                .to_owned(),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.events \
                 WHERE stream_id = $1 AND stream_version >= $2 \
                 ORDER BY stream_version LIMIT $3"
            ),
            read_all: format!("SELECT {EVENT_COLUMNS} FROM {s}.read_all($1, $2) ORDER BY position"),
            any_after: format!("SELECT {s}.any_after($1)"),
            stream_version: format!(
                "SELECT coalesce(max(stream_version), 0) FROM {s}.events WHERE stream_id = $1"
            ),
            find_command: format!(
                "SELECT max(stream_version), min(position), max(position) FROM {s}.events \
                 WHERE stream_id = $1 AND command_id = $2"
            ),
            load_snapshot: format!(
                "SELECT version, schema_version, payload, \
                 (extract(epoch FROM taken_at) * 1000000)::int8 \
                 FROM {s}.snapshots WHERE stream_id = $1"
            ),
            save_snapshot: format!(
                "INSERT INTO {s}.snapshots AS old (stream_id, version, schema_version, payload, taken_at) \
                 VALUES ($1, $2, $3, $4, timestamptz 'epoch' + $5 * interval '1 microsecond') \
                 ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version, \
                 schema_version = excluded.schema_version, payload = excluded.payload, \
                 taken_at = excluded.taken_at \
                 WHERE old.version <= excluded.version"
            ),
            load_checkpoint: format!("SELECT position FROM {s}.checkpoints WHERE projection = $1"),
            save_checkpoint: format!(
                "INSERT INTO {s}.checkpoints (projection, position) VALUES ($1, $2) \
                 ON CONFLICT (projection) DO UPDATE SET position = excluded.position, \
                 updated_at = now()"
            ),
            delete_checkpoint: format!("DELETE FROM {s}.checkpoints WHERE projection = $1"),
            create_schema: format!("CREATE SCHEMA IF NOT EXISTS {s}"),
            create_migrations: format!(
                "CREATE TABLE IF NOT EXISTS {s}.schema_migrations (\
                 version integer PRIMARY KEY, \
                 applied_at timestamptz NOT NULL DEFAULT now())"
            ),
            applied: format!("SELECT version FROM {s}.schema_migrations ORDER BY version"),
            record_migration: format!("INSERT INTO {s}.schema_migrations (version) VALUES ($1)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["es", "a", "_x", "app_1", &"a".repeat(SchemaName::MAX_LEN)] {
            assert!(SchemaName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a\"b",
            "é",
            &"a".repeat(SchemaName::MAX_LEN + 1),
        ] {
            assert!(SchemaName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn migrations_are_in_order_and_fully_substituted() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        let schema = SchemaName::default();
        for (_, sql) in MIGRATIONS {
            let sql = migration_sql(sql, &schema);
            assert!(!sql.contains('{') && !sql.contains('}'), "{sql}");
        }
    }

    #[test]
    fn lock_keys_differ_by_schema() {
        let a = SchemaName::new("a").map(|s| s.lock_key());
        let b = SchemaName::new("b").map(|s| s.lock_key());
        assert_ne!(a, b);
    }
}
