//! Read models in tables of the store's own file, written in the transaction that moves their
//! checkpoint: [`SqliteProjection`] and the runner target [`SqliteTables`].
//!
//! A table projection is a [`Projection`] whose value is the *change set of one batch*: its
//! `On` impls record what each event changes (plain data, no I/O, tested like any
//! projection), and [`SqliteProjection::write`] turns the record into SQL. The runner
//! ([`ProjectionRunner`]) is the same as for a read model in memory.
//!
//! ```
//! use es_core::prelude::*;
//! use es_sqlite::rusqlite::{self, Connection};
//! use es_sqlite::{SqliteProjection, SqliteStore, SqliteTables};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Event, Debug, Serialize, Deserialize)]
//! #[event(name = "user.created")]
//! struct UserCreated { email: String }
//!
//! /// What one batch of events changes in the `emails` table.
//! #[derive(Projection, Default, Debug)]
//! #[projection(name = "emails", events(UserCreated))]
//! struct EmailRows { inserts: Vec<(String, String)> }
//!
//! impl On<UserCreated> for EmailRows {
//!     fn on(&mut self, event: &UserCreated, meta: &EventMeta) {
//!         self.inserts.push((meta.stream_id.to_string(), event.email.clone()));
//!     }
//! }
//!
//! impl SqliteProjection for EmailRows {
//!     fn setup(conn: &Connection) -> rusqlite::Result<()> {
//!         conn.execute_batch("CREATE TABLE IF NOT EXISTS emails (user_id TEXT, email TEXT)")
//!     }
//!
//!     fn write(self, conn: &Connection) -> rusqlite::Result<()> {
//!         let mut insert = conn.prepare_cached("INSERT INTO emails VALUES (?1, ?2)")?;
//!         for (user, email) in self.inserts {
//!             insert.execute((user, email))?;
//!         }
//!         Ok(())
//!     }
//!
//!     fn clear(conn: &Connection) -> rusqlite::Result<()> {
//!         conn.execute_batch("DELETE FROM emails")
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! # let dir = std::env::temp_dir().join(format!("es-sqlite-doc-tables-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("app.db");
//! # let _ = std::fs::remove_file(&path);
//! let store = SqliteStore::open(&path).await?;
//! let stream = StreamId::new("user-1")?;
//! let created = es_core::codec::Encoded {
//!     name: "user.created", version: 1, payload: br#"{"email":"ada@example.com"}"#.to_vec().into(),
//! };
//! store.append(&stream, ExpectedVersion::NoStream, vec![NewEvent::new(created)]).await?;
//!
//! let emails = ProjectionRunner::new(store.clone(), SqliteTables::<EmailRows>::new(store.clone()));
//! emails.catch_up().await?; // rows and checkpoint, one transaction per batch
//!
//! let rows = store
//!     .query(|conn| conn.query_row("SELECT count(*) FROM emails", [], |row| row.get::<_, i64>(0)))
//!     .await?;
//! assert_eq!(rows, 1);
//! # store.close().await;
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Exactly once
//!
//! For each batch the runner reads the events after its position, projects them into a fresh
//! change set (`P::default()`), and hands it to the store's writer, which runs, inside the
//! batch's savepoint of a write transaction:
//!
//! 1. the move of the projection's row of `es_checkpoints` from the position the batch
//!    started from to its last position (`UPDATE ... WHERE position = <from>`);
//! 2. the keeping of the events the batch parks, and the forgetting of those it unparks
//!    (table `es_parked_events`, see [`Parking`](es_core::projection::Parking));
//! 3. [`SqliteProjection::write`];
//!
//! and answers once that transaction has committed. If the checkpoint was no longer where the
//! batch started (another runner of the same projection, in this process or another,
//! committed that batch first, or rebuilt the projection), nothing is written and the runner
//! continues from the checkpoint it finds. If `write` fails or panics, its savepoint is rolled
//! back: nothing of the batch is written, the checkpoint stays, and the next call of the
//! runner projects the batch again. A crash at any moment leaves the rows and the checkpoint
//! of the same batch, both or neither.
//!
//! The writer is the store's one writer, so a batch's transaction may also commit other
//! callers' appends (group commit): a batch costs no `fsync` of its own under load.
//!
//! # Set-up, and other processes
//!
//! Before its first batch, a runner calls [`SqliteProjection::setup`] in a write transaction
//! of its own. SQLite lets one write transaction run at a time per file, in every process, so
//! `CREATE TABLE IF NOT EXISTS` there is safe when several processes start at once.
//!
//! The tables are in the file every process opens, so [`ProjectionRunner::wait_for`] on a
//! runner over `SqliteTables` also reads the committed checkpoint: a process that does not
//! run the projection can still wait for its own writes to reach the tables.
//!
//! The checkpoint row is the one [`CheckpointStore`] uses, under the projection's
//! [`NAME`](Projection::NAME): give a table projection a name of its own, not the name of an
//! in-memory projection checkpointed in the same store.

use std::fmt;
use std::marker::PhantomData;

#[cfg(doc)]
use es_core::ProjectionRunner;
use es_core::projection::{
    Advance, Committed, IntoTarget, ParkedEvent, Partition, Projection, Target,
};
use es_core::{CheckpointStore, Position, StoreError};
use rusqlite::Connection;

use crate::SqliteStore;
use crate::checkpoints::{advance_checkpoint, forget_parked_in};
use crate::error::{ErrorKind, SqliteError, store_error};
use crate::queries;
use crate::values::now_micros;

/// A read model kept in tables of the store's SQLite file; see the [module
/// documentation](self).
///
/// The implementing type is the change set of one batch: it derives [`Projection`], its `On`
/// impls record what each event changes (pure, no I/O), and [`write`](Self::write) applies the
/// record in the batch's transaction. The runner makes a fresh one, with `Default`, for every
/// batch.
///
/// The methods run on the store's writer thread, inside a savepoint of a write transaction.
/// They must not end it (`COMMIT`, `ROLLBACK`, `RELEASE`), and should be quick: the store's
/// other writes wait for them.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a read model in SQLite tables",
    label = "`{Self}` has no `SqliteProjection` impl",
    note = "add `impl SqliteProjection for {Self} {{ fn write(self, conn: &Connection) -> rusqlite::Result<()> {{ .. }} fn clear(conn: &Connection) -> rusqlite::Result<()> {{ .. }} }}`"
)]
pub trait SqliteProjection: Projection + Default {
    /// Creates or migrates the read model's tables, once before a runner's first batch (the
    /// default does nothing). It runs in a write transaction of its own, which excludes every
    /// other writer of the file, in every process.
    ///
    /// # Errors
    /// Any driver error: the transaction is rolled back and the runner's call fails; the
    /// next call sets up again.
    fn setup(conn: &Connection) -> rusqlite::Result<()> {
        let _ = conn;
        Ok(())
    }

    /// Writes the changes the `On` impls recorded for one batch, in the transaction that also
    /// moves the projection's checkpoint past the batch: both commit, or neither.
    ///
    /// # Errors
    /// Any driver error: the batch's writes are rolled back and it is projected and written
    /// again by the next call of the runner.
    fn write(self, conn: &Connection) -> rusqlite::Result<()>;

    /// Deletes every row of the read model, for [`ProjectionRunner::rebuild`], in the
    /// transaction that resets the checkpoint to the start of the log.
    ///
    /// # Errors
    /// Any driver error: the read model and its checkpoint stay as they were.
    fn clear(conn: &Connection) -> rusqlite::Result<()>;
}

/// The [`Target`] of a table projection `P` in a [`SqliteStore`]'s file: each batch's changes
/// are written in the transaction that moves `P`'s checkpoint; see the
/// [module documentation](self).
pub struct SqliteTables<P> {
    store: SqliteStore,
    projection: PhantomData<fn() -> P>,
}

impl<P: SqliteProjection> SqliteTables<P> {
    /// `P`'s tables in `store`'s file, checkpointed in its `es_checkpoints` table under
    /// `P::NAME`.
    #[must_use]
    pub fn new(store: SqliteStore) -> Self {
        Self {
            store,
            projection: PhantomData,
        }
    }

    /// The store whose file holds the tables.
    #[must_use]
    pub fn store(&self) -> &SqliteStore {
        &self.store
    }
}

impl<P: SqliteProjection> Target for SqliteTables<P> {
    type Projection = P;
    type Changes = P;
    const TRANSACTIONAL: bool = true;
    const SHARED: bool = true;

    async fn setup(&self) -> Result<(), StoreError> {
        self.store
            .inner
            .writer
            .run("setting up a table projection", |tx| {
                P::setup(tx.conn())
                    .map_err(|e| store_error(tx.path(), "setting up a table projection", &e))
            })
            .await
    }

    fn project<R>(&self, f: impl FnOnce(&mut P) -> R) -> (P, R) {
        let mut changes = P::default();
        let out = f(&mut changes);
        (changes, out)
    }

    async fn commit(&self, changes: P, advance: Advance) -> Result<Committed, StoreError> {
        const OPERATION: &str = "writing a table projection's batch";
        // `write` takes the change set: a second run (see `Writer::run`) has none left.
        let mut changes = Some(changes);
        self.store
            .inner
            .writer
            .run(OPERATION, move |tx| {
                let (conn, path) = (tx.conn(), tx.path());
                let Some(changes) = changes.take() else {
                    return Err(StoreError::Backend(Box::new(SqliteError::new(
                        ErrorKind::Aborted,
                        path,
                        OPERATION,
                        "rolled back with another write of its transaction; the runner writes \
                         the batch again",
                    ))));
                };
                let moved = advance_checkpoint(conn, P::NAME, &advance)
                    .map_err(|e| store_error(path, OPERATION, &e))?;
                if !moved {
                    return Ok(Committed::Moved);
                }
                changes
                    .write(conn)
                    .map_err(|e| store_error(path, OPERATION, &e))?;
                Ok(Committed::Done)
            })
            .await
    }

    async fn checkpoint(&self, partition: Partition) -> Result<Option<Position>, StoreError> {
        self.store
            .load_checkpoint(&partition.checkpoint_name(P::NAME))
            .await
    }

    const PARKING: bool = true;

    async fn parked(&self, partition: Partition) -> Result<Vec<ParkedEvent>, StoreError> {
        self.store
            .parked_events(&partition.checkpoint_name(P::NAME))
            .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        const OPERATION: &str = "clearing a table projection";
        self.store
            .inner
            .writer
            .run(OPERATION, |tx| {
                let (conn, path) = (tx.conn(), tx.path());
                conn.prepare_cached(queries::DELETE_PARTITION_CHECKPOINTS)
                    .and_then(|mut s| s.execute([P::NAME]))
                    .and_then(|_| conn.prepare_cached(queries::TABLES_RESET))
                    .and_then(|mut s| s.execute((P::NAME, now_micros())))
                    .and_then(|_| forget_parked_in(conn, P::NAME))
                    .map_err(|e| store_error(path, OPERATION, &e))?;
                P::clear(conn).map_err(|e| store_error(path, OPERATION, &e))
            })
            .await
    }
}

impl<P: SqliteProjection> IntoTarget for SqliteTables<P> {
    type Target = Self;

    fn into_target(self) -> Self {
        self
    }
}

impl<P> Clone for SqliteTables<P> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            projection: PhantomData,
        }
    }
}

impl<P: Projection> fmt::Debug for SqliteTables<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteTables")
            .field("projection", &P::NAME)
            .field("path", &self.store.path())
            .finish_non_exhaustive()
    }
}
