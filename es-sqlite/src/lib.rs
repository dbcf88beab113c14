//! An SQLite event store for es-core: [`EventStore`], [`SnapshotStore`], [`CheckpointStore`]
//! and read models in tables, all in one file that the process opens itself. No server; the
//! durable store for one machine.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, NewEvent, Position, StreamId};
//! use es_core::codec::Encoded;
//! use es_sqlite::SqliteStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let dir = std::env::temp_dir().join(format!("es-sqlite-doc-lib-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("app.db");
//! # let _ = std::fs::remove_file(&path);
//! // Creates the file, or opens and migrates it: safe at every start, from several processes.
//! let store = SqliteStore::open(&path).await?;
//!
//! let stream = StreamId::new("note-1")?;
//! let event = NewEvent::new(Encoded { name: "note.written", version: 1, payload: "{}".into() });
//! let appended = store.append(&stream, ExpectedVersion::NoStream, vec![event]).await?;
//! // Returned: the append is on disk (durable by default, see `Durability`).
//!
//! let mut subscription = store.subscribe(Position::START);
//! let first = subscription.next().await?; // stored events first, then live ones
//! assert_eq!(first.position, appended.first_position);
//! # store.close().await;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! The driver is [rusqlite](https://docs.rs/rusqlite) 0.32 with SQLite compiled in (its
//! `bundled` feature, SQLite 3.46): a fresh machine needs no system library, every build runs
//! the same SQLite, and the store can rely on what it needs (WAL, `STRICT` tables, upserts).
//! rusqlite is synchronous and thin, which suits a store that runs all its SQL on threads of
//! its own (below); sqlx's SQLite driver would bring an async layer over the same C library
//! and a second SQLite-linking crate to keep in step with es-postgres's sqlx. The store
//! itself needs no particular executor: its futures wait on `tokio::sync` channels only,
//! which work on any.
//!
//! # Threads, and why
//!
//! SQLite's calls block on disk I/O, so none runs on the caller's thread:
//!
//! - **one writer thread** with the only read-write connection: every write of the store
//!   (appends, snapshot and checkpoint saves, table projections' batches) is a job it runs;
//! - **reader threads** ([`SqliteOptions::with_readers`], default 4), each with a read-only
//!   connection: reads of streams and of the log, and [`SqliteStore::query`];
//! - **one poller thread**, which looks for other processes' appends while a subscriber waits
//!   (see "Live subscriptions").
//!
//! An async call sends its job to a thread and awaits the answer on a `oneshot` channel, so
//! an executor thread never waits for the disk. The threads end when the last clone of the
//! store is dropped, or at [`SqliteStore::close`].
//!
//! # Group commit
//!
//! The writer takes the first job waiting and every job queued behind it (up to
//! [`MAX_GROUP`](options::MAX_GROUP)) and runs them in one transaction, each inside a
//! savepoint of its own, then commits once: one `fsync` for all of them. Each append keeps its
//! own checks (command-id idempotency, then the expected version) and its atomicity: one whose
//! check fails, or whose writes fail (say the disk fills up), is rolled back to its savepoint
//! and fails alone; the others commit. No caller is answered before the commit has returned,
//! so an acknowledged append is on disk. There is no timer: a caller alone is committed at
//! once, and callers that arrive while a commit is under way form the next group.
//!
//! On some errors (a full disk, an I/O error) SQLite rolls back the whole transaction rather
//! than the failing statement; the appends that had run before in it lost their writes, so
//! they run again, with the rest of the group, in a new transaction: the failing append still
//! fails alone. If the transaction cannot begin or commit (the disk is full at commit time, an
//! I/O error, another process holding the write lock past the busy timeout), SQLite rolls it
//! back whole and every append of the group fails with that error: nothing of any of them was
//! written.
//!
//! An append is a request to the writer: a caller that stops waiting (its future dropped)
//! does not withdraw it, and it may still be committed. Retry with the same command id
//! ([`Metadata::command_id`](es_core::Metadata::command_id)) and idempotency answers either
//! way.
//!
//! # Durability
//!
//! The file is in WAL mode. By default ([`Durability::Full`], SQLite's `synchronous = FULL`)
//! every commit is flushed to the disk before any caller hears of it: an acknowledged append
//! survives a crash of the process *and* a power loss. [`Durability::Normal`]
//! (`synchronous = NORMAL`) drops the per-commit `fsync`: an acknowledged append survives a
//! crash of the process (`SIGKILL` included) but may be lost, with the appends after it, if
//! the machine stops before the next WAL checkpoint; the file is never corrupted and never
//! holds part of an append. See [`Durability`] for what each costs.
//!
//! # Global order
//!
//! Positions are the primary key of `es_events` (SQLite's rowid) and are taken by the writer,
//! inside its write transaction, as the largest stored position plus one. SQLite runs one
//! write transaction at a time per file, in every process, so a transaction's positions
//! directly follow those already committed, and commits happen in position order: the log
//! has no holes and a reader, whose statement sees one committed state of the file, never
//! meets a position that a later commit could precede. This is what es-postgres needs
//! transaction-id bounds for; here it holds by construction, and `read_all` is a plain
//! `WHERE position > ?` read.
//!
//! # Live subscriptions
//!
//! [`subscribe`](EventStore::subscribe) reads the log until it has caught up, then waits in
//! [`wait_for_events`](EventStore::wait_for_events) and reads again. A waiter is woken:
//!
//! - by this store's own commits, at once: the writer moves the store's head after each
//!   commit, before it answers the appenders;
//! - by other processes' commits to the same file (and other [`SqliteStore`]s opened on it in
//!   this process) within the **poll interval** ([`SqliteOptions::with_poll_interval`],
//!   default [`DEFAULT_POLL_INTERVAL`](options::DEFAULT_POLL_INTERVAL), 50 ms): the poller
//!   asks SQLite for the file's `data_version` at that pace while someone waits, and reads the
//!   last position only when it changed.
//!
//! # Several processes
//!
//! Any number of processes may open the same file (on a local file system: WAL needs shared
//! memory, so not over NFS). Opening migrates under the file's write lock, so processes that
//! start at once apply each migration once. Their writers take turns on SQLite's write lock;
//! one waits up to the busy timeout ([`SqliteOptions::with_busy_timeout`], default 10 s),
//! then fails with [`ErrorKind::Busy`] having written nothing. Reads never wait for writers.
//!
//! The workers of a partitioned consumer
//! ([`ProjectionRunner::run_partitioned`](es_core::ProjectionRunner::run_partitioned)) share
//! its partitions through leases kept in the file
//! ([`LeaseStore`](es_core::projection::LeaseStore)), so workers in any of the processes on
//! the file split a table projection between them. Each heartbeat is one write transaction:
//! the write lock runs every process's heartbeats one at a time. Lease times are read from
//! the system clock, which processes on one machine share.
//!
//! # Schema
//!
//! The tables, created by the embedded migrations (`migrations/NNNN_<what>.sql`, applied in
//! order and recorded in `es_migrations`; the file carries the application id `0x45535351`
//! in its header). All are `STRICT`.
//!
//! | table | columns |
//! |---|---|
//! | `es_events` | `position` (integer primary key: the global position, no holes), `stream_id`, `stream_version` (`UNIQUE (stream_id, stream_version)`), `event_id` (16-byte blob), `name`, `schema_version`, `payload` (blob, byte for byte), `correlation_id`, `causation_id`, `command_id` (16-byte blobs or NULL: [`Metadata`]'s ids), `headers` ([`Metadata`]'s headers as a JSON object, NULL when empty), `recorded_at` (µs since 1970) |
//! | `es_commands` | `(stream_id, command_id)` primary key, `stream_version`, `first_position`, `last_position`: the append each command id produced on a stream, for idempotency |
//! | `es_snapshots` | `stream_id` primary key, `version`, `schema_version`, `payload`, `taken_at`: the newest snapshot per stream (never replaced by an older one) |
//! | `es_checkpoints` | `projection` primary key, `position`, `updated_at` |
//! | `es_refusals` | `(stream_id, command_id)` primary key, `stream_version`, `payload`, `recorded_at`: the refusal each command id got on a stream ([`EventStore::refuse`]); a command id has one outcome per stream, here or in `es_commands` |
//! | `es_process_instances` | `(process, key)` primary key, `state`, `finished`, `revision`, `parked_error`, `parked_inputs`, `parked_since`, `parked_retry` (set while an instance is parked), `updated_at`: process managers' instances ([`ProcessStore`](es_core::process::ProcessStore)) |
//! | `es_process_timers` | `(process, key, name)` primary key, `id`, `due`, `payload`, `correlation_id`: process managers' timers, at most one of each name per instance |
//! | `es_lease_counts` | `consumer` primary key, `count`: the partition count a partitioned consumer's leases are kept for |
//! | `es_lease_workers` | `(consumer, worker)` primary key, `expires` (µs since 1970): a partitioned consumer's live workers |
//! | `es_leases` | `(consumer, partition)` primary key, `worker`, `expires` (µs since 1970): which worker holds each partition, until when |
//! | `es_parked_events` | `(consumer, position)` primary key, `stream_id`, `name`, `error`, `failed`, `parked_at` (µs since 1970): the events each consumer (a checkpoint name: a projection's or a partition's) parked, with their errors ([`ParkedEvent`](es_core::projection::ParkedEvent)) |
//! | `es_migrations` | `version` primary key, `applied_at` |
//!
//! The store never updates or deletes a row of `es_events`. The file can be inspected with
//! the `sqlite3` shell or any SQLite tool while the store runs. Read models of
//! [`SqliteTables`] live in the same file, in tables of their own.
//!
//! # Bad days
//!
//! Opening refuses a file with an [`OpenError`], and leaves it as it was: not a database
//! ([`OpenError::NotADatabase`]), another program's database
//! ([`OpenError::NotAnEventStore`]), a schema of a newer release ([`OpenError::NewerSchema`]),
//! a file that cannot be written ([`OpenError::ReadOnly`]; open it with
//! [`SqliteOptions::read_only`] to read it), a damaged file ([`OpenError::Corrupt`]).
//!
//! On an open store, a failure is a [`StoreError`]:
//!
//! - [`StoreError::Backend`] holding a [`SqliteError`], whose [`kind`](SqliteError::kind)
//!   says what happened: [`ErrorKind::DiskFull`] (the disk, or
//!   [`SqliteOptions::with_size_limit`]), [`ErrorKind::ReadOnly`], [`ErrorKind::Busy`],
//!   [`ErrorKind::Io`], [`ErrorKind::Panicked`] (user code the store ran), ... A failed write
//!   wrote nothing; the store goes on, and works again once the cause is gone (space freed).
//! - [`StoreError::Corrupt`] when the file is damaged (SQLite reports a malformed page)
//!   — its location names the file and what was being read — or when a stored value is one
//!   no append writes (edited by hand): then the location names the file, the table, the
//!   row and the column (`app.db, es_events, position 17, column recorded_at`). Event names
//!   are the exception: a read checks them by the looser rule of earlier releases (1 to
//!   [`MAX_EVENT_NAME_LEN`](es_core::store::limits::MAX_EVENT_NAME_LEN) bytes, no control
//!   characters), so events stored under it still read. Reads that do not touch the damage
//!   keep working.
//!
//! # Limits
//!
//! es-core's [`limits`](es_core::store::limits), checked before anything is sent to the
//! writer. Positions, versions and checkpoints are SQLite integers: up to `i64::MAX`. Event
//! ids are not checked for uniqueness (as in the in-memory store).
//!
//! [`Metadata`]: es_core::Metadata
//! [`StoreError`]: es_core::StoreError
//! [`StoreError::Backend`]: es_core::StoreError::Backend
//! [`StoreError::Corrupt`]: es_core::StoreError::Corrupt
//! [`EventStore`]: es_core::EventStore
//! [`SnapshotStore`]: es_core::SnapshotStore
//! [`CheckpointStore`]: es_core::CheckpointStore
//! [`EventStore::subscribe`]: es_core::EventStore::subscribe
//! [`EventStore::refuse`]: es_core::EventStore::refuse
//! [`EventStore::wait_for_events`]: es_core::EventStore::wait_for_events
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod checkpoints;
mod error;
mod events;
mod inspect;
mod leases;
mod migrations;
mod open;
pub mod options;
mod processes;
mod queries;
mod readers;
mod snapshots;
pub mod tables;
mod values;
mod wake;
mod writer;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::thread;

#[cfg(doc)]
use es_core::EventStore;
use es_core::{Position, StoreError};
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

pub use error::{ErrorKind, OpenError, SqliteError};
pub use options::{Durability, SqliteOptions};
pub use rusqlite;
pub use tables::{SqliteProjection, SqliteTables};

use crate::readers::Readers;
use crate::writer::Writer;

/// An event store in one SQLite file; see the [crate documentation](crate).
///
/// A cheap handle: clones share the same connections and threads. It implements
/// [`EventStore`], [`SnapshotStore`](es_core::SnapshotStore),
/// [`CheckpointStore`](es_core::CheckpointStore),
/// [`ProcessStore`](es_core::process::ProcessStore),
/// [`LeaseStore`](es_core::projection::LeaseStore) and
/// [`Inspect`](es_core::store::Inspect).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: Arc<Path>,
    writer: Writer,
    readers: Readers,
    /// The position of the last event known to be committed, for live subscribers.
    head: Arc<watch::Sender<Position>>,
    /// Stops the poller when told to, or when dropped.
    poller: wake::Stop,
    options: SqliteOptions,
}

impl SqliteStore {
    /// Opens the store in the file at `path` with the default [`SqliteOptions`]: creates the
    /// file, or opens it and brings its schema up to date. See [`open_with`](Self::open_with).
    ///
    /// # Errors
    /// [`OpenError`] when the file cannot be a store; it is then left as it was.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(path, SqliteOptions::new()).await
    }

    /// Opens the store in the file at `path` with `options`: creates the file, or opens it and
    /// applies the migrations it lacks, in one transaction under the file's write lock (safe
    /// at every start, and when several processes open the file at once). The work runs on a
    /// thread of its own; the future only waits for it.
    ///
    /// # Errors
    /// [`OpenError`] when the file cannot be a store: not a database, another program's
    /// database, a newer schema, read-only, damaged, or any other SQLite failure. The file is
    /// then left as it was.
    pub async fn open_with(
        path: impl AsRef<Path>,
        options: SqliteOptions,
    ) -> Result<Self, OpenError> {
        let path: Arc<Path> = Arc::from(path.as_ref());
        let (reply, opened) = oneshot::channel();
        let thread_path = Arc::clone(&path);
        let thread_options = options.clone();
        thread::Builder::new()
            .name("es-sqlite-open".to_owned())
            .spawn(move || {
                let _ = reply.send(open::open(&thread_path, &thread_options));
            })
            .map_err(|error| thread_error(&path, &error))?;
        let opened = opened.await.map_err(|_| {
            OpenError::Sqlite(SqliteError::new(
                ErrorKind::Stopped,
                &path,
                "opening",
                "the opening thread ended without an answer",
            ))
        })??;
        let head = Arc::new(watch::Sender::new(Position(opened.last_position)));
        let writer = Writer::spawn(opened.writer, &path, Arc::clone(&head))
            .map_err(|error| thread_error(&path, &error))?;
        let readers =
            Readers::spawn(opened.readers, &path).map_err(|error| thread_error(&path, &error))?;
        let poller = wake::spawn_poller(
            opened.poller,
            &path,
            Arc::clone(&head),
            options.poll_interval,
        )
        .map_err(|error| thread_error(&path, &error))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writer,
                readers,
                head,
                poller,
                options,
            }),
        })
    }

    /// The store's file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The options the store was opened with.
    #[must_use]
    pub fn options(&self) -> &SqliteOptions {
        &self.inner.options
    }

    /// The schema versions this release's migrations bring a file to, in order.
    #[must_use]
    pub fn migration_versions() -> Vec<i64> {
        migrations::MIGRATIONS
            .iter()
            .map(|(version, _)| *version)
            .collect()
    }

    /// Runs `read` on a reader thread, with a read-only connection to the file, and returns
    /// what it returned: the way to query read models kept in [`SqliteTables`], or anything
    /// else in the file. One statement sees one committed state of the file; several
    /// statements see the same state only inside a transaction `read` opens (`BEGIN` ...
    /// `COMMIT`).
    ///
    /// ```
    /// # use es_sqlite::SqliteStore;
    /// # async fn run(store: SqliteStore) -> Result<(), es_core::StoreError> {
    /// let events: i64 = store
    ///     .query(|conn| conn.query_row("SELECT count(*) FROM es_events", [], |row| row.get(0)))
    ///     .await?;
    /// # let _ = events;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// [`StoreError::Backend`] holding a [`SqliteError`] for the error `read` returned (or a
    /// panic in it, [`ErrorKind::Panicked`]); [`StoreError::Corrupt`] for a damaged file.
    pub async fn query<R, F>(&self, read: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    {
        const OPERATION: &str = "running a query";
        let path = Arc::clone(&self.inner.path);
        self.inner
            .readers
            .run(OPERATION, move |conn| {
                read(conn).map_err(|error| error::store_error(&path, OPERATION, &error))
            })
            .await
    }

    /// Closes the store: waits for the writes and reads already started by any clone, then
    /// closes every connection (the last one to close folds the WAL into the file). Every
    /// later call on any clone fails with [`ErrorKind::Stopped`]. Dropping the last clone
    /// does the same without waiting; `close` is for a clean shutdown, or before copying the
    /// file.
    pub async fn close(&self) {
        let (reply, stopped) = oneshot::channel();
        if self.inner.poller.send(reply).is_ok() {
            let _ = stopped.await;
        }
        self.inner.readers.close().await;
        // The writer last: the last connection to close folds the WAL into the file.
        self.inner.writer.close().await;
    }
}

fn thread_error(path: &Path, error: &std::io::Error) -> OpenError {
    OpenError::Sqlite(SqliteError::new(
        ErrorKind::Io,
        path,
        "starting the store's threads",
        error.to_string(),
    ))
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("head", &*self.inner.head.borrow())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}
