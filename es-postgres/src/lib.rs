//! A PostgreSQL event store for es-core: [`EventStore`], [`SnapshotStore`] and
//! [`CheckpointStore`] on one database, shared by any number of processes on any number of
//! machines, with a global order that never skips an event.
//!
//! ```no_run
//! use es_core::{EventStore, ExpectedVersion, NewEvent, Position, StreamId};
//! use es_core::codec::Encoded;
//! use es_postgres::PgStore;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgStore::connect("postgres://app@localhost/app").await?;
//! store.migrate().await?; // creates or upgrades the `es` schema; safe to run at every start
//!
//! let stream = StreamId::new("note-1")?;
//! let event = NewEvent::new(Encoded { name: "note.written", version: 1, payload: "{}".into() });
//! let appended = store.append(&stream, ExpectedVersion::NoStream, vec![event]).await?;
//!
//! let mut subscription = store.subscribe(Position::START);
//! let first = subscription.next().await?; // stored events first, then live ones
//! assert_eq!(first.position, appended.first_position);
//! # Ok(())
//! # }
//! ```
//!
//! The driver is [sqlx](https://docs.rs/sqlx) 0.8 with runtime queries only (no macros, so
//! building needs no database) on tokio. It was chosen over tokio-postgres plus a pool crate
//! because Rust web services already build it, and because its pool, `LISTEN` support and
//! array parameters cover everything this store needs. PostgreSQL 14 or newer is required
//! (64-bit transaction ids as `xid8`); the tests run on 15.
//!
//! # Schema
//!
//! Everything lives in one PostgreSQL schema, `es` unless set with
//! [`PgStoreOptions::with_schema`], so several applications (or test runs) can share a database.
//! [`PgStore::migrate`] creates it. The tables:
//!
//! | table | column | type | meaning |
//! |---|---|---|---|
//! | `events` | `position` | `bigint` primary key | the global position, from the sequence `positions` (holes allowed, never reordered) |
//! | | `stream_id` | `text` | the stream; `UNIQUE (stream_id, stream_version)` |
//! | | `stream_version` | `bigint` | the event's version in its stream, contiguous from 1 |
//! | | `event_id` | `uuid` unique | [`NewEvent::event_id`] |
//! | | `name` | `text` | the event's wire name |
//! | | `schema_version` | `bigint` | the payload's schema version (a `u32`; `integer` could not hold all of them) |
//! | | `payload` | `bytea` | the encoded event, byte for byte |
//! | | `metadata` | `json` | [`Metadata`] as serde_json writes it (`json`, not `jsonb`: `jsonb` refuses a `\u0000` in a header value) |
//! | | `command_id` | `uuid` null | the command id of the append's first event, on every row of that append; indexed with `stream_id` where not null |
//! | | `transaction_id` | `xid8` | the appending transaction's id, `pg_current_xact_id()`: what the global order rests on |
//! | | `recorded_at` | `timestamptz` | when the appending transaction started (`now()`) |
//! | `snapshots` | `stream_id` | `text` primary key | one row per stream: the newest snapshot |
//! | | `version`, `schema_version`, `payload`, `taken_at` | `bigint`, `bigint`, `bytea`, `timestamptz` | [`Snapshot`]'s fields |
//! | `checkpoints` | `projection` | `text` primary key | the projection's name |
//! | | `position`, `updated_at` | `bigint`, `timestamptz` | its last processed position, and when it was saved |
//! | `schema_migrations` | `version`, `applied_at` | `integer` primary key, `timestamptz` | the migrations applied to this schema |
//!
//! Functions complete it: `allocate(n)` hands out positions and `read_bound()`, `read_all(after,
//! max)` and `any_after(after)` decide what is deliverable (see "Global order");
//! `append_one(...)` performs an append of one event and `append(...)` an append of any other
//! batch (see "Appends"). Appends go through these two only. The
//! store never updates or deletes a row of `events`. Snapshots are replaced by newer ones
//! (`INSERT ... ON CONFLICT DO UPDATE ... WHERE snapshots.version <= excluded.version`, so a
//! slower writer never replaces a newer snapshot) and checkpoints by the projection's next
//! save.
//!
//! # Migrations
//!
//! The migrations are numbered SQL files, `migrations/NNNN_<what>.sql` in the crate, embedded
//! in it at build time; [`PgStore::migrate`] applies the missing ones in one transaction,
//! after taking a transaction-scoped advisory lock (`pg_advisory_xact_lock`) for the schema,
//! so two processes that start at once apply each migration once: the second waits, then
//! finds nothing to do. Running it at every start is the intended use. The transaction runs
//! in a task of its own, as every transaction of the store does: a caller that stops waiting
//! (its future dropped) does not stop it, and it commits or rolls back whole. A released
//! migration is never edited; changes are new versions. The statements the store runs are
//! embedded the same way, from `sql/<name>.sql`, with the schema name put in once per store.
//!
//! # Appends
//!
//! [`append`](es_core::EventStore::append) first runs [`check_batch`] (limits, names), then one
//! statement in its own transaction at PostgreSQL's default isolation level, READ COMMITTED:
//!
//! - a single event, as a command usually makes: `SELECT es.append_one(...)`, the event's
//!   fields as plain parameters, inserted by one `INSERT ... VALUES`. It answers with one
//!   `bigint[]`, `[outcome, stream_version, first_position, last_position]` (outcome 1
//!   appended, 2 duplicate, 3 conflict), which the server produces more cheaply than a row of
//!   OUT columns;
//! - any other batch: `SELECT ... FROM es.append(...)`, the batch sent as arrays in that one
//!   round trip and inserted by one `INSERT ... SELECT ... FROM unnest(...)`; it answers with
//!   OUT columns (`o_outcome` `'appended'`, `'duplicate'` or `'conflict'`, `o_stream_version`,
//!   `o_first_position`, `o_last_position`).
//!
//! The two decide alike. Inside, in order, exactly as the in-memory store does:
//!
//! 1. **Idempotency**: if the first event carries a command id that an earlier append to the
//!    stream carried, nothing is written and that earlier [`Appended`] is returned, marked
//!    [`duplicate`](es_core::Appended::duplicate). This comes before the version check, so a retried
//!    request gets its first outcome rather than a conflict.
//! 2. **Expected version**, against `max(stream_version)` of the stream. The idempotency
//!    check and the version are read by one statement, so from one snapshot (an append
//!    without a command id reads the version alone).
//! 3. **Positions** from `allocate` (`append_one` runs the same steps itself, in one
//!    statement, rather than call it), then the rows.
//!
//! The transaction sends no notification (migration 1's `append` did, with `pg_notify`;
//! migration 2 replaced it, and `append_one` never did): once it has committed, the store
//! asks its notifier to (see
//! "Live subscriptions").
//!
//! READ COMMITTED lets two appends to the same stream both pass step 2. The
//! `UNIQUE (stream_id, stream_version)` constraint is the last line of defence: both write
//! the same next version, the second blocks until the first commits, then fails with SQLSTATE
//! 23505. The store turns that into what the in-memory store would have answered had the
//! appends come one after the other: the earlier append marked duplicate if it carried the
//! same command id; otherwise, for [`ExpectedVersion::Any`], the append runs again (up to
//! [`MAX_ANY_RETRIES`] times); otherwise [`StoreError::Conflict`] with the stream's actual
//! version read afresh. Because versions are contiguous and every append writes from the
//! version it read plus one, any two appends that did not see each other collide on a
//! version, so no serializable isolation (and none of its retries) is needed.
//!
//! # Isolation
//!
//! Every statement of the store runs in its own transaction at READ COMMITTED, and relies on
//! it: appends for the checks above, reads for the fresh snapshot each statement takes (see
//! "Global order"; the read functions refuse another level). [`PgStore::connect`] sets
//! `default_transaction_isolation` to `read committed` on its connections; a pool given to
//! [`PgStore::from_pool`] must use it too (it is PostgreSQL's default).
//!
//! # Global order
//!
//! Positions come from a sequence, and a sequence hands them out at call time, not at commit:
//! an append can take position 10, another take 11 and commit first. A subscriber that read
//! 11 and moved on would never see 10: the classic bug of SQL event stores. This store keeps
//! the rule "once [`read_all`](es_core::EventStore::read_all) has returned position `p`, nothing below
//! `p` can appear" with transaction-id visibility, narrowed to the store's own appends:
//!
//! - `allocate(n)` takes a session advisory lock (the *allocation lock*), forces the
//!   transaction's id to be assigned (`pg_current_xact_id()`), takes a transaction-level
//!   advisory lock keyed by that id (the *in-flight lock*, held until commit or rollback),
//!   takes `n` positions from the sequence, and releases the allocation lock at once.
//!   Transaction ids and positions are therefore handed out in the same order. It refuses a
//!   transaction that already has an id (one that wrote, or appended, before), whose id would
//!   be older than its positions; the checks before it are reads, which take no id.
//!   `append_one` does exactly this for its one position, inline. A session lock outlives
//!   the transaction, so both take and release it inside a block whose error handler
//!   releases it if the session still holds it: whatever fails between the two (a cancel, a
//!   statement timeout, an exhausted sequence), the lock is not left behind. (Migration 1's
//!   `allocate` took the lock just before that block: a cancel noticed right after the lock
//!   was granted left it held, and every other append of the schema waiting, until that
//!   connection closed. Migration 3 replaced it.)
//! - Every row stores its transaction's id. `read_all` first computes a bound in one
//!   statement: the oldest transaction that was running at that statement's snapshot *and
//!   holds an in-flight lock of this schema* (or the snapshot's `xmax` if none does). Then, in
//!   a later statement (so a later snapshot), it reads the rows whose `transaction_id` is
//!   below the bound.
//!
//! Why that never skips: a transaction that could still commit a position below a row `r`
//! took its positions, and so its id and its in-flight lock, before `r`'s transaction took
//! its own, so it has the lower id and was running when the bound was computed. If it still
//! held its in-flight lock when the bound looked, the bound is at or below its id and `r` is
//! not returned. If it no longer did, it had finished before the rows were read, so its rows
//! are in the later snapshot (committed) or never will be (rolled back: a hole, which readers
//! pass over). A running transaction that is not an append of this store never takes
//! positions (`allocate` refuses it), so it does not hold delivery back.
//!
//! The alternatives, and why not: a global lock held until commit gives the same guarantee
//! by letting only one append commit at a time, which caps write throughput at one commit
//! (one WAL flush) at a time for the whole store; here the allocation lock is held for one
//! `nextval`, and commits proceed in parallel. A high-water mark with a gap timeout (wait
//! some time for a missing position, then skip it) loses any append whose transaction is
//! slower than the timeout, silently, which is exactly the bug to avoid; this approach waits
//! as long as it takes and never skips. The plain transaction-id bound,
//! `transaction_id < pg_snapshot_xmin(pg_current_snapshot())`, is equally safe but waits for
//! *every* transaction in the cluster that holds an id: a writer would not read its own
//! committed append back while any unrelated transaction (a migration, a batch job, another
//! application) is running, which breaks read-your-writes (the store contract's checks
//! failed as soon as a second test wrote to the same server). The in-flight lock limits the
//! wait to appends of this store, which are single statements that commit at once.
//!
//! The costs: an append that is slow to commit (only possible when the SQL function is called
//! inside a longer transaction, or when the server stalls) holds back live delivery of every
//! later event of the store until it ends; nothing is skipped, and delivery resumes in order
//! at once. Reads of a stream ([`read_stream`](es_core::EventStore::read_stream), and so loading
//! aggregates) are never held back. Computing the bound takes one shared advisory lock per
//! transaction running in the cluster at that moment, for the duration of the read
//! statement (lock-table entries, released at once; `max_locks_per_transaction` sizes that
//! table). Readers must use READ COMMITTED (the store's own connections do; the SQL
//! functions refuse anything else).
//!
//! # Live subscriptions
//!
//! [`subscribe`](es_core::EventStore::subscribe) reads the log with [`read_all`](es_core::EventStore::read_all)
//! until it has caught up, then waits in [`wait_for_events`](es_core::EventStore::wait_for_events) and
//! reads again: catch-up and live delivery are the same read, so nothing is skipped or
//! repeated at the switch, and a subscriber holds one page in memory however far behind it
//! is. A waiter wakes on a notification on the store's channel ([`PgStore::channel`],
//! `{schema}_events`) or, failing one, after the poll interval
//! ([`PgStoreOptions::with_poll_interval`]); either way it only reads again, so a lost or spurious
//! notification costs time, never an event.
//!
//! - **Listening.** Each store has one `LISTEN` connection of its own, outside the pool,
//!   started by the first wait and shared by all its waiters, however many subscribers.
//! - **Notifying.** After an append returns, the store asks its notifier, one task per store,
//!   to send `NOTIFY` on the channel; it wakes the waiters of every store, in every process,
//!   that listens on the schema. Failed appends ask too: one that took positions and then
//!   rolled back may have held back the delivery of later appends. The task sends from a
//!   pooled connection, in a transaction of its own that commits with
//!   `synchronous_commit = off` (a notification needs no durability), and coalesces: it
//!   starts at most one notification every 2 ms, and the requests that arrive while one is
//!   under way or within those 2 ms make a single next one. So a burst of appends sends far
//!   fewer notifications than appends (50 appends ending at once: a handful), and every
//!   append is still followed by a notification sent after it returned, at most 2 ms and a
//!   round trip later. A failed send is retried with a backoff for about 6 s, then left to
//!   polling.
//! - **Why not in the append's transaction**, as migration 1's `append` function did with
//!   `pg_notify`: PostgreSQL serializes the commits of notifying transactions (each takes a
//!   cluster-wide lock just before it commits and holds it until its commit is flushed), so
//!   such appends committed one at a time, one WAL flush each, even on different streams and
//!   from different processes, and lost group commit. Migration 2 replaced the function
//!   with one that does not notify. In the README's benchmarks (2 cores, `fsync` on), 8
//!   tasks appending to 1,000 streams went from about 0.4x the throughput of plain
//!   `INSERT`s to about 0.7x.
//! - **Not notified** (subscribers see them after at most one poll interval): an append whose
//!   process ends between its commit and the notification; an append made by calling an
//!   append function directly; the appends of a process running an es-postgres older than
//!   migration 2 on a migrated schema (its function no longer notifies, and it does not
//!   notify after).
//!
//! # Limits
//!
//! - es-core's [`limits`](es_core::store::limits), checked before anything is sent: at most
//!   16 MiB per payload, 10,000 events and 64 MiB of payloads per append, event names within
//!   the rule of [`es_core::names`] (1 to 255 bytes). The bytes limit keeps an append's payload array well under PostgreSQL's
//!   1 GiB per parameter.
//! - Positions, versions and checkpoints are `bigint`: up to `i64::MAX`.
//! - Event ids are unique (`UNIQUE (event_id)`): appending an event id twice is a
//!   [`StoreError::Backend`] error (the in-memory store does not check this).
//! - Live delivery to other processes rests on notifications, which PostgreSQL does not
//!   keep: one lost (the notifying process died after its append committed, a connection
//!   dropped) delays subscribers by up to their poll interval, never loses an event.
//!
//! # Errors
//!
//! Driver, connection and pool failures are [`StoreError::Backend`] holding the
//! [`sqlx::Error`]; a retry may succeed. An append that fails so wrote nothing, except when
//! the connection is lost while the commit is under way: the commit may or may not have
//! happened. Retry it with the same command id
//! ([`Metadata::command_id`](es_core::Metadata::command_id)) and idempotency answers either
//! way.
//!
//! **Corrupt rows.** A stored value that this store cannot read back is
//! [`StoreError::Corrupt`], never a panic and never `Backend`: its `location` names the
//! table, the row and the column (`es.events, position 17, column recorded_at`;
//! `es.snapshots, stream "note-1", column version`; `es.checkpoints, projection
//! "user-directory", column position`), its `problem` what is wrong. The store never writes
//! such a value; it comes from an edit by hand, damage, or a version of this crate that wrote
//! differently. What is caught:
//!
//! - a NULL, or a value of another type, in a column the store reads;
//! - a negative position, stream version, snapshot version or checkpoint;
//! - a schema version that is not a `u32`;
//! - a stream id that no append accepts (see [`check_batch`]);
//! - an event name that no append ever accepted: empty, longer than 255 bytes or holding a
//!   control character. Names outside today's rule ([`es_core::names`]) but within those
//!   bounds read, on purpose: appends took them before that rule;
//! - metadata that is JSON but not [`Metadata`];
//! - a time (`recorded_at`, `taken_at`) that is infinite, or at or after
//!   294247-01-10 04:00:54.775807 UTC, `i64::MAX` microseconds after 1970 (the store reads
//!   `timestamptz` values as PostgreSQL stores them, and turns them into microseconds since
//!   1970 in an `i64`);
//! - an answer of an append function that is not what this crate's migrations define (the
//!   location names the function, such as `es.append_one()`). The append ran, and may have
//!   been written: read the stream to know.
//!
//! Retrying does not help: every read that meets the value fails the same way until the row
//! is repaired. A read fails whole, so a subscription or a projection stops at the page that
//! holds the row, and resumes from where it stood once the row is repaired. Everything else keeps working: other streams, other positions, appends. A
//! corrupt snapshot costs a replay only: a repository treats a failed snapshot load as no
//! snapshot.
//!
//! **Connection pool.** Every call takes a connection from the pool for one statement. When
//! all are in use it waits up to the pool's *acquire timeout*, then fails with
//! [`StoreError::Backend`] holding [`sqlx::Error::PoolTimedOut`]; nothing was sent, so
//! nothing was written, and the call can be retried. [`PgStore::connect`] uses sqlx's
//! defaults: at most 10 connections, a 30 s acquire timeout. To choose them, build the pool
//! with [`PgPoolOptions`] (`max_connections`, `acquire_timeout`) and hand it to
//! [`PgStore::from_pool`]. Waiting subscribers hold no pooled connection: each store has one
//! more connection of its own, outside the pool, for `LISTEN`. The notifier (see "Live
//! subscriptions") takes a pooled connection for one statement after appends, like a call.
//!
//! **Lost connections and server restarts.** A connection killed under a call (for example
//! by `pg_terminate_backend` or a server restart) fails that call with
//! [`StoreError::Backend`]; an append then writes nothing (its transaction rolls back; the
//! positions it took are a hole that readers pass over). The pool replaces dead connections
//! by itself (sqlx checks each before handing it out, unless the pool was built with
//! `test_before_acquire(false)`, and waits for a restarting server within the acquire
//! timeout), so the next call, or a retry, just works. A
//! [`Subscription`](es_core::Subscription) polled again after an error resumes after the
//! last event it delivered, with no gap and no duplicate. The `LISTEN` connection reconnects
//! by itself, 50 ms after it was lost, then backing off to one attempt every 5 s while the
//! server stays unreachable, whatever the poll interval; until it has, waiters fall back to
//! polling (see [`PgStoreOptions::with_poll_interval`]).
//!
//! # Read models in tables
//!
//! Any projection runs over this store with es-core's
//! [`ProjectionRunner`](es_core::ProjectionRunner), in memory, with its checkpoint in the
//! `checkpoints` table if wanted. A read model kept in PostgreSQL tables runs on the same
//! runner with the target [`PgTables`], which writes each batch's rows and moves the
//! checkpoint in one transaction, so every event reaches the tables exactly once: see
//! [`tables`].
//!
//! A consumer split into partitions
//! ([`ProjectionRunner::run_partitioned`](es_core::ProjectionRunner::run_partitioned)) runs
//! its workers in any number of processes on the database: `PgStore` is their
//! [`LeaseStore`](es_core::projection::LeaseStore), with the leases in the tables
//! `lease_counts`, `lease_workers` and `leases`, timed by the server's clock. Each heartbeat
//! is one call of the function `lease_heartbeat`, which serializes the heartbeats of one
//! consumer with a transaction lock held only while it runs. Each partition's checkpoint is a
//! row of `checkpoints`, `<consumer>#<index>/<count>`, moved with its batch as above.
//!
//! # Tests
//!
//! With the `testing` feature, on Unix, the module `es_postgres::testing` starts a throwaway
//! PostgreSQL server from the binaries on the machine (or uses `DATABASE_URL`) and hands out
//! stores on fresh schemas. It runs Unix commands (`initdb` and `pg_ctl` as another user, a
//! `sh` watchdog), so on other platforms the module is absent and the feature adds nothing;
//! the rest of the crate is the same everywhere.
//!
//! [`EventStore`]: es_core::EventStore
//! [`EventStore::append`]: es_core::EventStore::append
//! [`EventStore::read_all`]: es_core::EventStore::read_all
//! [`EventStore::read_stream`]: es_core::EventStore::read_stream
//! [`EventStore::subscribe`]: es_core::EventStore::subscribe
//! [`EventStore::wait_for_events`]: es_core::EventStore::wait_for_events
//! [`SnapshotStore`]: es_core::snapshot::SnapshotStore
//! [`Snapshot`]: es_core::snapshot::Snapshot
//! [`CheckpointStore`]: es_core::CheckpointStore
//! [`Appended`]: es_core::Appended
//! [`Appended::duplicate`]: es_core::Appended::duplicate
//! [`ExpectedVersion::Any`]: es_core::ExpectedVersion::Any
//! [`Metadata`]: es_core::Metadata
//! [`NewEvent::event_id`]: es_core::NewEvent::event_id
//! [`check_batch`]: es_core::store::check_batch

#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod checkpoints;
mod detached;
mod events;
mod inspect;
mod leases;
mod listen;
mod migrations;
mod processes;
mod queries;
mod schema;
mod snapshots;
pub mod tables;
#[cfg(all(feature = "testing", unix))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "testing", unix))))]
pub mod testing;
mod values;

use std::fmt;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use es_core::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use schema::{InvalidSchemaName, SchemaName};
pub use sqlx;
pub use tables::{PgProjection, PgTables};

use crate::listen::{Notifier, Wakeups};
use crate::queries::Queries;
use crate::values::backend;

/// How many times an append with [`ExpectedVersion::Any`](es_core::ExpectedVersion::Any) is run again when a concurrent
/// append took its stream version first. Each retry means another append succeeded; after
/// this many the append fails with [`StoreError::Conflict`].
pub const MAX_ANY_RETRIES: usize = 100;

/// The poll interval of [`wait_for_events`](es_core::EventStore::wait_for_events) unless set with
/// [`PgStoreOptions::with_poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(500);

/// How a [`PgStore`] is set up: its schema and its poll interval.
///
/// ```
/// use std::time::Duration;
/// use es_postgres::{PgStoreOptions, SchemaName};
///
/// let options = PgStoreOptions::new()
///     .with_schema(SchemaName::new("billing")?)
///     .with_poll_interval(Duration::from_millis(250));
/// # Ok::<_, es_postgres::InvalidSchemaName>(())
/// ```
#[derive(Debug, Clone)]
pub struct PgStoreOptions {
    schema: SchemaName,
    poll_interval: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl PgStoreOptions {
    /// The defaults: schema `es`, a poll interval of [`DEFAULT_POLL_INTERVAL`].
    #[must_use]
    pub fn new() -> Self {
        Self {
            schema: SchemaName::default(),
            poll_interval: DEFAULT_POLL_INTERVAL,
        }
    }

    /// Keeps the store's tables in `schema`.
    #[must_use]
    pub fn with_schema(mut self, schema: SchemaName) -> Self {
        self.schema = schema;
        self
    }

    /// How long a live subscriber waits for a notification before it reads the log anyway
    /// (at least 1 ms). Shorter means faster recovery from a lost notification (see "Live
    /// subscriptions" in the [crate documentation](crate)), at the cost of one small query
    /// per waiting subscriber per interval.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }
}

/// The PostgreSQL event, snapshot and checkpoint store; see the [crate documentation](crate).
///
/// A cheap handle around a connection pool: clones share the pool and the store's `LISTEN`
/// connection. It also implements [`Inspect`](es_core::store::Inspect), the listings of
/// operators' tools.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    schema: SchemaName,
    poll_interval: Duration,
    channel: String,
    sql: Queries,
    wakeups: Wakeups,
    notifier: Notifier,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.inner.schema)
            .field("poll_interval", &self.inner.poll_interval)
            .field("pool", &self.inner.pool)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects a pool of sqlx's default size to `url` (such as
    /// `postgres://user:password@host/database`), for a store in the default schema `es`.
    /// Call [`migrate`](Self::migrate) before using it.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is invalid or the server cannot be reached.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PgStoreOptions::new()).await
    }

    /// Like [`connect`](Self::connect), with `options`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the URL is invalid or the server cannot be reached.
    pub async fn connect_with(url: &str, options: PgStoreOptions) -> Result<Self, StoreError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(backend)?
            // The server splits startup options on spaces; a backslash keeps this one whole.
            .options([("default_transaction_isolation", r"read\ committed")]);
        let pool = PgPoolOptions::new()
            .connect_with(connect)
            .await
            .map_err(backend)?;
        Ok(Self::from_pool_with(pool, options))
    }

    /// A store on `pool`, in the default schema `es`. The pool's settings (size, acquire
    /// timeout) are the store's: an append or read waits for a connection up to the pool's
    /// acquire timeout, then fails with [`StoreError::Backend`]. Its connections must use
    /// READ COMMITTED, PostgreSQL's default (see the crate docs, "Isolation").
    #[must_use]
    pub fn from_pool(pool: PgPool) -> Self {
        Self::from_pool_with(pool, PgStoreOptions::new())
    }

    /// A store on `pool`, with `options`.
    #[must_use]
    pub fn from_pool_with(pool: PgPool, options: PgStoreOptions) -> Self {
        let PgStoreOptions {
            schema,
            poll_interval,
        } = options;
        Self {
            inner: Arc::new(Inner {
                pool,
                channel: schema.channel(),
                sql: Queries::new(&schema),
                schema,
                poll_interval,
                wakeups: Wakeups::default(),
                notifier: Notifier::default(),
            }),
        }
    }

    /// The store's connection pool.
    #[must_use]
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema the store's tables are in.
    #[must_use]
    pub fn schema(&self) -> &SchemaName {
        &self.inner.schema
    }

    /// The channel the store notifies after its appends, `{schema}_events` (see "Live
    /// subscriptions" in the [crate documentation](crate)).
    #[must_use]
    pub fn channel(&self) -> &str {
        &self.inner.channel
    }
}

#[cfg(test)]
mod tests {
    use es_core::snapshot::{Snapshot, SnapshotStore};
    use es_core::store::CheckpointStore;
    use es_core::{EventStore, ExpectedVersion, Position, StreamId, Version};
    use uuid::Uuid;

    use super::*;

    /// Every future of the store can be spawned on a multi-threaded runtime (sqlx's generic
    /// executor futures can make a future `Send` for one lifetime only; this would not compile).
    #[allow(dead_code)]
    fn futures_are_spawnable(store: PgStore, stream: StreamId, snapshot: Snapshot) {
        tokio::spawn(async move {
            store.migrate().await?;
            store
                .append(&stream, ExpectedVersion::Any, Vec::new())
                .await?;
            store.read_stream(&stream, Version(1), 1).await?;
            store.read_all(Position::START, 1).await?;
            store.find_command(&stream, Uuid::nil()).await?;
            store.stream_version(&stream).await?;
            store.wait_for_events(Position::START).await?;
            store.subscribe(Position::START).next().await?;
            store.load_snapshot(&stream).await?;
            store.save_snapshot(snapshot).await?;
            store.load_checkpoint("p").await?;
            store.save_checkpoint("p", Position(1)).await?;
            store.delete_checkpoint("p").await?;
            Ok::<_, StoreError>(())
        });
    }
}
