//! Read models in PostgreSQL tables, updated in the same transaction as their checkpoint.
//!
//! es-core's [`ProjectionRunner`](es_core::ProjectionRunner) keeps a read model in memory and
//! saves its checkpoint separately. A read model in tables must not: a crash between writing
//! the rows and saving the checkpoint would apply a batch twice (or, the other way round,
//! lose it). [`PgProjectionRunner`] commits both in one transaction, so every event is
//! applied to the tables exactly once, whatever stops the process and wherever.
//!
//! The projection stays a plain [`Projection`] with pure
//! [`On`](es_core::On) impls: for a table, its value is the *change set* of one batch of
//! events, what `On` recorded for them. [`PgProjection::write`] then turns the change set
//! into SQL, inside the batch's transaction. The domain side stays free of I/O and is tested
//! like any projection; the SQL lives in one place.
//!
//! ```no_run
//! use es_core::prelude::*;
//! use es_postgres::sqlx::{self, PgConnection};
//! use es_postgres::{PgProjection, PgProjectionRunner, PgStore};
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
//! impl PgProjection for EmailRows {
//!     async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
//!         for (user, email) in self.inserts {
//!             sqlx::query("INSERT INTO emails (user_id, email) VALUES ($1, $2)")
//!                 .bind(user)
//!                 .bind(email)
//!                 .execute(&mut *tx)
//!                 .await?;
//!         }
//!         Ok(())
//!     }
//!
//!     async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
//!         sqlx::query("DELETE FROM emails").execute(tx).await?;
//!         Ok(())
//!     }
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = PgStore::connect("postgres://app@localhost/app").await?;
//! store.migrate().await?;
//! sqlx::raw_sql("CREATE TABLE IF NOT EXISTS es.emails (user_id text, email text)")
//!     .execute(store.pool())
//!     .await?;
//!
//! let emails = PgProjectionRunner::<EmailRows>::new(store.clone());
//! let reached = emails.catch_up().await?; // rows and checkpoint, one transaction per batch
//! # let _ = reached;
//! # Ok(())
//! # }
//! ```
//!
//! # Exactly once
//!
//! For each batch the runner reads the events after its position, projects them into a fresh
//! change set (`P::default()`), then, in one transaction:
//!
//! 1. moves the projection's row of the `checkpoints` table from the position it started
//!    from to the batch's last position (`UPDATE ... WHERE position = <from>`). This also
//!    locks the row, so batches of one projection commit one at a time, in every process;
//! 2. sets `search_path` to the store's schema, then `public` (`SET LOCAL`, this transaction
//!    only), so unqualified table names refer to tables in the store's schema first;
//! 3. calls [`PgProjection::write`];
//! 4. commits.
//!
//! If the checkpoint was no longer where the runner started (another runner of the same
//! projection, in this process or another, committed that batch first, or rebuilt the
//! projection), the transaction is rolled back and the runner continues from the checkpoint
//! it finds. If anything fails, the transaction is rolled back, nothing of the batch is
//! written, and the next call resumes from the checkpoint in the database, which is the
//! truth even when the connection was lost during the commit. One runner per projection is
//! the intended set-up; a second one is safe but repeats the work of projecting.
//!
//! The checkpoint row is the one [`CheckpointStore`] uses, under
//! the projection's [`NAME`](es_core::Projection::NAME): give a table projection a name of
//! its own, not the name of an in-memory projection checkpointed in the same store. Deleting
//! that row by hand makes the runner start over from the beginning of the log *without*
//! clearing its tables; [`PgProjectionRunner::rebuild`] is the way to start over.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use es_core::codec::{Codec, JsonCodec};
use es_core::projection::{
    Batches, Processing, Projection, ProjectionError, RunControl, project_batch,
};
use es_core::store::BATCH_SIZE;
use es_core::{CheckpointStore, EventStore, Position, StoreError};
use sqlx::Executor as _;
use sqlx::postgres::PgConnection;

use crate::PgStore;
use crate::values::{backend, checkpoint_param};

/// A read model kept in PostgreSQL tables; see the [module documentation](self).
///
/// The implementing type is the change set of one batch: it derives
/// [`Projection`], its `On` impls record what each event changes
/// (pure, no I/O), and [`write`](Self::write) applies the record in the batch's transaction.
/// The runner makes a fresh one, with `Default`, for every batch.
///
/// Both methods run in a transaction whose `search_path` is the store's schema, then
/// `public`. They must not commit or roll back that transaction (`COMMIT`, `ROLLBACK`), nor
/// run a statement that cannot run inside a transaction.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a read model in PostgreSQL tables",
    label = "`{Self}` has no `PgProjection` impl",
    note = "add `impl PgProjection for {Self} {{ async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {{ .. }} async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {{ .. }} }}`"
)]
pub trait PgProjection: Projection + Default {
    /// Writes the changes the `On` impls recorded for one batch. It runs in the transaction
    /// that also moves the projection's checkpoint past the batch: both commit, or neither.
    ///
    /// # Errors
    /// Any driver error: the transaction is rolled back and the batch is projected and
    /// written again by the next call of the runner.
    fn write(self, tx: &mut PgConnection) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Deletes every row of the read model, for [`PgProjectionRunner::rebuild`], in the
    /// transaction that resets the checkpoint to the start of the log.
    ///
    /// # Errors
    /// Any driver error: the transaction is rolled back, the read model and its checkpoint
    /// stay as they were.
    fn clear(tx: &mut PgConnection) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// Runs the table projection `P` over a [`PgStore`]'s log: each batch of events is written
/// to the tables in the same transaction as the projection's checkpoint; see the
/// [module documentation](self).
///
/// The API follows es-core's [`ProjectionRunner`](es_core::ProjectionRunner): a cheap
/// handle whose clones share progress; [`catch_up`](Self::catch_up),
/// [`run`](Self::run) and [`rebuild`](Self::rebuild) process events, one at a time, and are
/// refused with [`ProjectionError::Running`] while a `run` is live;
/// [`wait_for`](Self::wait_for) waits for a position. There is no state in memory to
/// read: query the tables.
///
/// Unlike the in-memory runner, a panic in an `On` impl does not halt it: nothing of the
/// event that panicked reaches the tables (the events before it in the batch are written),
/// so the call returns [`ProjectionError::Panicked`] and the next call meets the same event
/// again.
pub struct PgProjectionRunner<P, C = JsonCodec> {
    store: PgStore,
    codec: C,
    batch_size: usize,
    sql: Arc<Sql>,
    control: Arc<RunControl>,
    projection: PhantomData<fn() -> P>,
}

/// The runner's statements, with the store's schema in place.
#[derive(Debug)]
struct Sql {
    advance_from_start: String,
    advance: String,
    reset: String,
    search_path: String,
}

impl Sql {
    fn new(store: &PgStore) -> Self {
        let s = store.schema().as_str();
        Self {
            // The first batch: there may be no row yet. Two runners inserting at once
            // collide on the key; the second then finds the first's position, not 0.
            advance_from_start: format!(
                "INSERT INTO {s}.checkpoints AS c (projection, position) VALUES ($1, $2) \
                 ON CONFLICT (projection) DO UPDATE SET position = excluded.position, \
                 updated_at = now() WHERE c.position = 0"
            ),
            advance: format!(
                "UPDATE {s}.checkpoints SET position = $2, updated_at = now() \
                 WHERE projection = $1 AND position = $3"
            ),
            reset: format!(
                "INSERT INTO {s}.checkpoints (projection, position) VALUES ($1, 0) \
                 ON CONFLICT (projection) DO UPDATE SET position = 0, updated_at = now()"
            ),
            search_path: format!("SET LOCAL search_path TO {s}, public"),
        }
    }
}

/// What became of a batch's transaction.
enum Commit {
    /// Rows and checkpoint are committed.
    Done,
    /// The checkpoint was not where the runner started: rolled back.
    Moved,
}

impl<P: PgProjection> PgProjectionRunner<P> {
    /// A runner writing `P`'s tables from `store`'s log, with the JSON codec, checkpointed
    /// in `store`'s `checkpoints` table under `P::NAME`.
    #[must_use]
    pub fn new(store: PgStore) -> Self {
        Self {
            sql: Arc::new(Sql::new(&store)),
            store,
            codec: JsonCodec,
            batch_size: BATCH_SIZE,
            control: Arc::new(RunControl::new()),
            projection: PhantomData,
        }
    }
}

impl<P: PgProjection, C: Codec> PgProjectionRunner<P, C> {
    /// Decodes payloads with `codec` instead of JSON.
    #[must_use]
    pub fn with_codec<C2: Codec>(self, codec: C2) -> PgProjectionRunner<P, C2> {
        PgProjectionRunner {
            store: self.store,
            codec,
            batch_size: self.batch_size,
            sql: self.sql,
            control: self.control,
            projection: PhantomData,
        }
    }

    /// Reads, writes and commits `size` events at a time (at least 1; default
    /// [`BATCH_SIZE`]). Larger batches mean fewer transactions, and larger change sets.
    #[must_use]
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// The position of the last event this runner committed, or of the checkpoint it read
    /// ([`Position::START`] before either). Another process running the same projection
    /// may be further on; [`checkpoint`](Self::checkpoint) reads the database.
    #[must_use]
    pub fn position(&self) -> Position {
        self.control.position()
    }

    /// The projection's committed checkpoint, read from the database: the position of the
    /// last event its tables hold.
    ///
    /// # Errors
    /// [`ProjectionError::Store`] when the database fails.
    pub async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        self.store
            .load_checkpoint(P::NAME)
            .await
            .map(|position| position.unwrap_or(Position::START))
            .map_err(|source| self.store_error(source))
    }

    /// Writes every stored event after the checkpoint, up to the end of the log as it is
    /// when the call reaches it, and returns the position reached.
    ///
    /// # Errors
    /// See [`ProjectionError`]; the tables and the checkpoint stay at the last batch
    /// committed.
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut processing = self.control.lock(P::NAME).await?;
        let position = self.start(&mut processing).await?;
        processing.drain(position, &Steps(self)).await
    }

    /// Catches up, then follows live appends until `shutdown` completes; returns the position
    /// reached. Shutdown is observed between batches, never inside a transaction.
    ///
    /// It returns at the first error, such as a lost connection or a server restart; calling
    /// it again resumes after the last event processed, with nothing skipped or repeated. A
    /// long-running service calls it in a loop that reports the error and waits a moment
    /// before the next call.
    ///
    /// # Errors
    /// See [`ProjectionError`]; the tables and the checkpoint stay at the last batch
    /// committed, and a later call resumes from there.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Position, ProjectionError> {
        let mut processing = self.control.lock(P::NAME).await?;
        let position = self.start(&mut processing).await?;
        processing.follow(position, shutdown, &Steps(self)).await
    }

    /// Deletes the read model's rows ([`PgProjection::clear`]) and resets the checkpoint to
    /// the start of the log, in one transaction, then writes the whole log again.
    ///
    /// # Errors
    /// See [`ProjectionError`]. A failure of the first transaction leaves the tables and the
    /// checkpoint as they were.
    pub async fn rebuild(&self) -> Result<Position, ProjectionError> {
        let mut processing = self.control.lock(P::NAME).await?;
        processing.set_cursor(None);
        self.reset().await.map_err(|error| self.error(error))?;
        processing.set_cursor(Some(Position::START));
        self.control.publish(Position::START);
        processing.drain(Position::START, &Steps(self)).await
    }

    /// Waits until this runner has committed `position` (such as the `last_position` of an
    /// executed command), for at most `timeout`. Something else must be processing: a task
    /// in [`run`](Self::run), or a call to [`catch_up`](Self::catch_up).
    ///
    /// # Errors
    /// [`ProjectionError::Timeout`] when the time runs out.
    pub async fn wait_for(
        &self,
        position: Position,
        timeout: Duration,
    ) -> Result<(), ProjectionError> {
        self.control.wait_for(P::NAME, position, timeout).await
    }

    /// The position to continue after: the checkpoint in the database, unless this runner
    /// knows it already.
    async fn start(&self, processing: &mut Processing<'_>) -> Result<Position, ProjectionError> {
        if let Some(position) = processing.cursor() {
            return Ok(position);
        }
        let position = self.checkpoint().await?;
        processing.set_cursor(Some(position));
        self.control.publish(position);
        Ok(position)
    }

    /// Processes one batch after `position`; returns where processing continues, or `None`
    /// when there was nothing to process.
    async fn step(
        &self,
        processing: &mut Processing<'_>,
        position: Position,
    ) -> Result<Option<Position>, ProjectionError> {
        let batch = self
            .store
            .read_all(position, self.batch_size)
            .await
            .map_err(|source| self.store_error(source))?;
        if batch.is_empty() {
            return Ok(None);
        }
        let mut changes = P::default();
        let (mut projected, failure) = project_batch(&mut changes, &self.codec, &batch);
        if matches!(failure, Some(ProjectionError::Panicked { .. })) {
            // The change set may hold part of the event that panicked: record the events
            // before it again, in a fresh one. `On` is pure, so they project as before; if
            // they do not, nothing of the batch is written.
            changes = P::default();
            if project_batch(&mut changes, &self.codec, &batch[..projected])
                .1
                .is_some()
            {
                projected = 0;
            }
        }
        let last = projected.checked_sub(1).map(|i| batch[i].position);
        if let Some(last) = last {
            // Until the outcome is known, the checkpoint in the database is the truth.
            processing.set_cursor(None);
            match self.commit(changes, position, last).await {
                Ok(Commit::Done) => {
                    processing.set_cursor(Some(last));
                    self.control.publish(last);
                }
                Ok(Commit::Moved) => {
                    // Another runner got there first: continue from where it got to, and
                    // leave the rest of this batch (and its failure, if any) to the next read.
                    return self.start(processing).await.map(Some);
                }
                Err(error) => return Err(self.error(error)),
            }
        }
        match failure {
            Some(failure) => Err(failure),
            // No failure: every event of the (non-empty) batch was projected.
            None => Ok(last),
        }
    }

    /// Writes `changes` and moves the checkpoint from `from` to `to`, in one transaction.
    async fn commit(
        &self,
        changes: P,
        from: Position,
        to: Position,
    ) -> Result<Commit, sqlx::Error> {
        let (from, to) = (checkpoint_param(from)?, checkpoint_param(to)?);
        // Executor's boxed futures: see `PgStore::migrate`.
        let mut tx = self.store.pool().begin().await?;
        let conn: &mut PgConnection = &mut tx;
        let advance = if from == 0 {
            sqlx::query(&self.sql.advance_from_start)
                .bind(P::NAME)
                .bind(to)
        } else {
            sqlx::query(&self.sql.advance)
                .bind(P::NAME)
                .bind(to)
                .bind(from)
        };
        if conn.execute(advance).await?.rows_affected() == 0 {
            // Dropping the transaction rolls it back.
            return Ok(Commit::Moved);
        }
        conn.execute(self.sql.search_path.as_str()).await?;
        changes.write(conn).await?;
        tx.commit().await?;
        Ok(Commit::Done)
    }

    /// Clears the tables and resets the checkpoint to the start, in one transaction.
    async fn reset(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.store.pool().begin().await?;
        let conn: &mut PgConnection = &mut tx;
        conn.execute(sqlx::query(&self.sql.reset).bind(P::NAME))
            .await?;
        conn.execute(self.sql.search_path.as_str()).await?;
        P::clear(conn).await?;
        tx.commit().await
    }

    fn error(&self, error: sqlx::Error) -> ProjectionError {
        self.store_error(backend(error))
    }

    fn store_error(&self, source: StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: P::NAME,
            source,
        }
    }
}

/// The runner's batches, for [`Processing::drain`] and [`Processing::follow`].
struct Steps<'a, P, C>(&'a PgProjectionRunner<P, C>);

impl<P: PgProjection, C: Codec> Batches for Steps<'_, P, C> {
    async fn step(
        &self,
        processing: &mut Processing<'_>,
        position: Position,
    ) -> Result<Option<Position>, ProjectionError> {
        self.0.step(processing, position).await
    }

    async fn wait(&self, position: Position) -> Result<(), ProjectionError> {
        self.0
            .store
            .wait_for_events(position)
            .await
            .map_err(|source| self.0.store_error(source))
    }
}

impl<P, C: Clone> Clone for PgProjectionRunner<P, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            codec: self.codec.clone(),
            batch_size: self.batch_size,
            sql: Arc::clone(&self.sql),
            control: Arc::clone(&self.control),
            projection: PhantomData,
        }
    }
}

impl<P: Projection, C> fmt::Debug for PgProjectionRunner<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgProjectionRunner")
            .field("projection", &P::NAME)
            .field("schema", self.store.schema())
            .field("control", &self.control)
            .finish_non_exhaustive()
    }
}
