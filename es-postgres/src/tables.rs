//! Read models in PostgreSQL tables, updated in the same transaction as their checkpoint.
//!
//! A read model in tables must not save its checkpoint apart from its rows: a crash between
//! the two would apply a batch twice (or, the other way round, lose it). [`PgTables`] is the
//! [`Target`] of es-core's [`ProjectionRunner`] that commits both in one transaction, so
//! every event is applied to the tables exactly once, whatever stops the process and
//! wherever.
//!
//! The projection stays a plain [`Projection`] with pure [`On`](es_core::On) impls: for a
//! table, its value is the *change set* of one batch of events, what `On` recorded for them.
//! [`PgProjection::write`] then turns the change set into SQL, inside the batch's
//! transaction. The domain side stays free of I/O and is tested like any projection; the SQL
//! lives in one place.
//!
//! ```no_run
//! use es_core::prelude::*;
//! use es_postgres::sqlx::{self, PgConnection};
//! use es_postgres::{PgProjection, PgStore, PgTables};
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
//!     async fn setup(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
//!         sqlx::query("CREATE TABLE IF NOT EXISTS emails (user_id text, email text)")
//!             .execute(tx)
//!             .await?;
//!         Ok(())
//!     }
//!
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
//!
//! let emails = ProjectionRunner::new(store.clone(), PgTables::<EmailRows>::new(store.clone()));
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
//!    then keeps the events the batch parked and forgets those it unparked (see
//!    [`Parking`](es_core::projection::Parking)), in the `parked_events` table;
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
//! A panic in an `On` impl does not halt the runner: nothing of the event that panicked
//! reaches the tables (the events before it in the batch are written), so the call returns
//! [`ProjectionError::Panicked`](es_core::ProjectionError::Panicked) and the next call meets
//! the same event again.
//!
//! # Set-up, and other processes
//!
//! Before its first batch, a runner calls [`PgProjection::setup`] in a transaction of its
//! own, holding an advisory lock that serializes the set-up of every table projection of the
//! schema: `CREATE TABLE IF NOT EXISTS` and `CREATE INDEX IF NOT EXISTS` there succeed when
//! several processes start at once (run concurrently without the lock, they can fail on the
//! catalog's unique keys).
//!
//! The tables are what every process reads, so [`ProjectionRunner::wait_for`] on a runner
//! over `PgTables` also reads the committed checkpoint: a service instance that does not run
//! the projection can still wait for its own writes to reach the tables.
//!
//! The checkpoint row is the one [`CheckpointStore`] uses, under
//! the projection's [`NAME`](es_core::Projection::NAME): give a table projection a name of
//! its own, not the name of an in-memory projection checkpointed in the same store. Deleting
//! that row by hand makes the runner start over from the beginning of the log *without*
//! clearing its tables; [`ProjectionRunner::rebuild`] is the way to start over.

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;

#[cfg(doc)]
use es_core::ProjectionRunner;
use es_core::projection::{
    Advance, Committed, IntoTarget, ParkedEvent, Partition, Projection, Target,
};
use es_core::{CheckpointStore, Position, StoreError};
use sqlx::Executor as _;
use sqlx::postgres::PgConnection;

use crate::PgStore;
use crate::detached::detached;
use crate::migrations::SETUP_LOCK_CLASS;
use crate::queries::Queries;
use crate::values::backend;

/// A read model kept in PostgreSQL tables; see the [module documentation](self).
///
/// The implementing type is the change set of one batch: it derives
/// [`Projection`], its `On` impls record what each event changes
/// (pure, no I/O), and [`write`](Self::write) applies the record in the batch's transaction.
/// The runner makes a fresh one, with `Default`, for every batch.
///
/// Every method runs in a transaction whose `search_path` is the store's schema, then
/// `public`. They must not commit or roll back that transaction (`COMMIT`, `ROLLBACK`), nor
/// run a statement that cannot run inside a transaction.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a read model in PostgreSQL tables",
    label = "`{Self}` has no `PgProjection` impl",
    note = "add `impl PgProjection for {Self} {{ async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {{ .. }} async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {{ .. }} }}`"
)]
pub trait PgProjection: Projection + Default {
    /// Creates or migrates the read model's tables, once before a runner's first batch (the
    /// default does nothing). It runs under an advisory lock that serializes the set-up of
    /// the schema's table projections in every process, so `CREATE TABLE IF NOT EXISTS`
    /// and the like are safe when several processes start at once. Unqualified names are
    /// created in the store's schema.
    ///
    /// # Errors
    /// Any driver error: the transaction is rolled back and the runner's call fails; the
    /// next call sets up again.
    fn setup(tx: &mut PgConnection) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        let _ = tx;
        async { Ok(()) }
    }

    /// Writes the changes the `On` impls recorded for one batch. It runs in the transaction
    /// that also moves the projection's checkpoint past the batch: both commit, or neither.
    ///
    /// # Errors
    /// Any driver error: the transaction is rolled back and the batch is projected and
    /// written again by the next call of the runner.
    fn write(self, tx: &mut PgConnection) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Deletes every row of the read model, for [`ProjectionRunner::rebuild`], in the
    /// transaction that resets the checkpoint to the start of the log.
    ///
    /// # Errors
    /// Any driver error: the transaction is rolled back, the read model and its checkpoint
    /// stay as they were.
    fn clear(tx: &mut PgConnection) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

/// The [`Target`] of a table projection `P` in a [`PgStore`]'s database: each batch's changes
/// are written in the transaction that moves `P`'s checkpoint; see the
/// [module documentation](self).
///
/// ```no_run
/// # use es_core::prelude::*;
/// # use es_postgres::sqlx::{self, PgConnection};
/// # use es_postgres::{PgProjection, PgStore, PgTables};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Debug, Serialize, Deserialize)]
/// # #[event(name = "tick")]
/// # struct Tick;
/// # #[derive(Projection, Default, Debug)]
/// # #[projection(name = "rows", events(Tick))]
/// # struct Rows;
/// # impl On<Tick> for Rows { fn on(&mut self, _: &Tick, _: &EventMeta) {} }
/// # impl PgProjection for Rows {
/// #     async fn write(self, _: &mut PgConnection) -> Result<(), sqlx::Error> { Ok(()) }
/// #     async fn clear(_: &mut PgConnection) -> Result<(), sqlx::Error> { Ok(()) }
/// # }
/// # async fn run(store: PgStore) -> Result<(), ProjectionError> {
/// let rows = ProjectionRunner::new(store.clone(), PgTables::<Rows>::new(store.clone()));
/// rows.catch_up().await?;
/// assert_eq!(rows.checkpoint().await?, rows.position());
/// # Ok(())
/// # }
/// ```
pub struct PgTables<P> {
    store: PgStore,
    projection: PhantomData<fn() -> P>,
}

impl<P: PgProjection> PgTables<P> {
    /// `P`'s tables in `store`'s database, checkpointed in `store`'s `checkpoints` table
    /// under `P::NAME`.
    #[must_use]
    pub fn new(store: PgStore) -> Self {
        Self {
            store,
            projection: PhantomData,
        }
    }

    /// The store whose database holds the tables.
    #[must_use]
    pub fn store(&self) -> &PgStore {
        &self.store
    }

    /// The store's statements.
    fn sql(&self) -> &Queries {
        &self.store.inner.sql
    }

    /// Runs `P::setup` under the set-up lock, in one transaction.
    async fn set_up(&self) -> Result<(), sqlx::Error> {
        let mut tx = self.store.pool().begin().await?;
        let conn: &mut PgConnection = &mut tx;
        let sql = self.sql();
        let lock = sqlx::query(&sql.xact_lock)
            .bind(SETUP_LOCK_CLASS)
            .bind(self.store.schema().lock_key());
        conn.execute(lock).await?;
        conn.execute(sql.tables_search_path.as_str()).await?;
        P::setup(conn).await?;
        tx.commit().await
    }

    /// Writes `changes` and moves the checkpoint as `advance` says, in one transaction.
    async fn write(&self, changes: P, advance: Advance) -> Result<Committed, sqlx::Error> {
        let sql = self.sql();
        // Executor's boxed futures: see `PgStore::migrate`.
        let mut tx = self.store.pool().begin().await?;
        let conn: &mut PgConnection = &mut tx;
        let advanced = self
            .store
            .advance_checkpoint(conn, P::NAME, &advance)
            .await?;
        if advanced == Committed::Moved {
            // Dropping the transaction rolls it back.
            return Ok(Committed::Moved);
        }
        conn.execute(sql.tables_search_path.as_str()).await?;
        changes.write(conn).await?;
        tx.commit().await?;
        Ok(Committed::Done)
    }

    /// Clears the tables and resets the checkpoint to the start, in one transaction.
    async fn clear(&self) -> Result<(), sqlx::Error> {
        let sql = self.sql();
        let mut tx = self.store.pool().begin().await?;
        let conn: &mut PgConnection = &mut tx;
        conn.execute(sqlx::query(&sql.checkpoint_reset).bind(P::NAME))
            .await?;
        conn.execute(sql.tables_search_path.as_str()).await?;
        P::clear(conn).await?;
        tx.commit().await
    }
}

impl<P: PgProjection> Target for PgTables<P> {
    type Projection = P;
    type Changes = P;
    const TRANSACTIONAL: bool = true;
    const SHARED: bool = true;
    const PARKING: bool = true;

    async fn setup(&self) -> Result<(), StoreError> {
        let tables = self.clone();
        detached(async move { tables.set_up().await.map_err(backend) }).await
    }

    fn project<R>(&self, f: impl FnOnce(&mut P) -> R) -> (P, R) {
        let mut changes = P::default();
        let out = f(&mut changes);
        (changes, out)
    }

    async fn commit(&self, changes: P, advance: Advance) -> Result<Committed, StoreError> {
        let tables = self.clone();
        detached(async move { tables.write(changes, advance).await.map_err(backend) }).await
    }

    async fn checkpoint(&self, partition: Partition) -> Result<Option<Position>, StoreError> {
        self.store
            .load_checkpoint(&partition.checkpoint_name(P::NAME))
            .await
    }

    async fn parked(&self, partition: Partition) -> Result<Vec<ParkedEvent>, StoreError> {
        self.store
            .parked_events(&partition.checkpoint_name(P::NAME))
            .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let tables = self.clone();
        detached(async move { tables.clear().await.map_err(backend) }).await
    }
}

impl<P: PgProjection> IntoTarget for PgTables<P> {
    type Target = Self;

    fn into_target(self) -> Self {
        self
    }
}

impl<P> Clone for PgTables<P> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            projection: PhantomData,
        }
    }
}

impl<P: Projection> fmt::Debug for PgTables<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgTables")
            .field("projection", &P::NAME)
            .field("schema", self.store.schema())
            .finish_non_exhaustive()
    }
}
