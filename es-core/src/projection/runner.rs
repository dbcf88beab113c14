//! [`ProjectionRunner`]: feeds a projection the global log, in order, with checkpoints, into
//! any [`Target`].

use std::fmt;
use std::future::{Future, ready};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLockReadGuard};
use std::time::Duration;

use crate::codec::{Codec, JsonCodec};
use crate::envelope::Position;
use crate::projection::control::{Cursors, Processing, RunControl, RunStatus};
use crate::projection::{
    InMemory, IntoTarget, Parking, Partition, Partitions, Projection, ProjectionError, Target,
};
use crate::retry::{RetryPolicy, sleep};
use crate::store::{BATCH_SIZE, EventStore, StoreError};
use crate::trace::warning;
use crate::util::{Either, YieldNow, race};

/// Runs a projection over the global log of store `S` into target `T`: one batch at a time,
/// decoded with codec `C`, each committed with its checkpoint.
///
/// The target says where the read model lives (see [`Target`]): in memory
/// ([`InMemory`], what `ProjectionRunner::new(store, projection)` makes of a plain projection
/// value), in PostgreSQL tables (es-postgres's `PgTables`), or elsewhere. The runner is the
/// same for all of them:
///
/// - [`catch_up`](Self::catch_up) processes the log up to its end; [`run`](Self::run)
///   catches up and follows live appends until told to stop, retrying store failures;
///   [`rebuild`](Self::rebuild) empties the read model and processes the whole log again;
/// - [`wait_for`](Self::wait_for) waits until a position (such as a command's
///   `last_position`) is processed: read-your-writes;
/// - a decode error stops the call with the checkpoint at the event before; a panic in an
///   `On` impl too, and it halts a runner whose target is changed in place (see
///   [`Target::TRANSACTIONAL`]) until a rebuild.
///
/// A runner is a cheap handle: clones share the target and the progress, so one task can
/// [`run`](Self::run) it while others [`read`](Self::read) the state or
/// [`wait_for`](Self::wait_for) a position. Only one of `catch_up`, `run` and `rebuild`
/// processes events at a time: a `catch_up` or `rebuild` waits for another `catch_up` or
/// `rebuild` to finish, and all three are refused with [`ProjectionError::Running`] while a
/// `run` is live (waiting for it could never end): use `wait_for` then.
///
/// ```
/// # use std::collections::BTreeMap;
/// # use es_core::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Debug, Serialize, Deserialize)]
/// # #[event(name = "user.created")]
/// # struct UserCreated { email: String }
/// # #[derive(Projection, Default, Debug)]
/// # #[projection(name = "user-directory", events(UserCreated))]
/// # struct Directory { by_email: BTreeMap<String, String> }
/// # impl On<UserCreated> for Directory {
/// #     fn on(&mut self, event: &UserCreated, meta: &EventMeta) {
/// #         self.by_email.insert(event.email.clone(), meta.stream_id.to_string());
/// #     }
/// # }
/// use es_core::codec::JsonCodec;
/// use es_core::event::encode_event;
/// use es_core::NewEvent;
/// use es_memstore::MemStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemStore::new();
/// let event = NewEvent::new(encode_event(&JsonCodec, &UserCreated { email: "ada@example.com".into() })?);
/// store.append(&StreamId::new("user-ada")?, ExpectedVersion::Any, vec![event]).await?;
///
/// let directory = ProjectionRunner::new(store.clone(), Directory::default());
/// let reached = directory.catch_up().await?;
/// assert_eq!(reached, Position(1));
/// assert_eq!(directory.read().by_email["ada@example.com"], "user-ada");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct ProjectionRunner<T, S, C = JsonCodec> {
    pub(super) store: S,
    pub(super) codec: C,
    pub(super) batch_size: usize,
    pub(super) retry: RetryPolicy,
    pub(super) partitions: Partitions,
    pub(super) parking: Option<Parking>,
    pub(super) shared: Arc<Shared<T>>,
}

pub(super) struct Shared<T> {
    pub(super) target: T,
    pub(super) control: RunControl,
}

impl<T: Target, S: EventStore> ProjectionRunner<T, S> {
    /// A runner feeding `target` from `store`'s log, with the JSON codec, batches of
    /// [`BATCH_SIZE`] events and [`RetryPolicy::TRANSIENT`] for [`run`](Self::run).
    ///
    /// `target` is a [`Target`], or a plain projection value, kept in memory without
    /// checkpoints (see [`IntoTarget`]).
    pub fn new(store: S, target: impl IntoTarget<Target = T>) -> Self {
        Self {
            store,
            codec: JsonCodec,
            batch_size: BATCH_SIZE,
            retry: RetryPolicy::TRANSIENT,
            partitions: Partitions::new(1),
            parking: None,
            shared: Arc::new(Shared {
                target: target.into_target(),
                control: RunControl::new(),
            }),
        }
    }
}

impl<T: Target, S: EventStore, C: Codec> ProjectionRunner<T, S, C> {
    /// Decodes payloads with `codec` instead of JSON.
    #[must_use]
    pub fn with_codec<C2: Codec>(self, codec: C2) -> ProjectionRunner<T, S, C2> {
        ProjectionRunner {
            store: self.store,
            codec,
            batch_size: self.batch_size,
            retry: self.retry,
            partitions: self.partitions,
            parking: self.parking,
            shared: self.shared,
        }
    }

    /// Reads and commits `size` events at a time (at least 1; default [`BATCH_SIZE`]).
    /// Larger batches mean fewer commits, and for a table target larger change sets.
    #[must_use]
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// How [`run`](Self::run) retries store failures (default [`RetryPolicy::TRANSIENT`]:
    /// for as long as it takes). [`RetryPolicy::NEVER`] makes `run` return at the first.
    #[must_use]
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Splits the consumer into [`Partitions`]: each partition processes the events of its
    /// streams (see [`Partition`]) and keeps a checkpoint of its own, so one stream's events
    /// stay in order while the partitions run side by side, in this process and others
    /// ([`run_partitioned`](Self::run_partitioned)). `catch_up`, `run` and `rebuild` process
    /// every partition themselves; [`wait_for`](Self::wait_for) waits for all of them.
    ///
    /// The count is part of the stored state: changing it needs a
    /// [`rebuild`](Self::rebuild). A target that cannot be split (a process manager) is
    /// refused with [`ProjectionError::Unpartitionable`] when the runner starts processing.
    #[must_use]
    pub fn with_partitions(mut self, partitions: Partitions) -> Self {
        self.partitions = partitions;
        self
    }

    /// Parks the events the projection fails on, instead of stopping at them (see
    /// [`Parking`]): each is stored with its error in the commit that moves the checkpoint
    /// past it, and the runner goes on. [`parked`](Self::parked) lists them,
    /// [`retry_parked`](Self::retry_parked) applies a stream's parked events once the code
    /// is fixed, [`dismiss_parked`](Self::dismiss_parked) drops them.
    ///
    /// The target must keep parked events ([`Target::PARKING`]: in memory and the table
    /// targets do); otherwise the runner refuses to start with
    /// [`ProjectionError::Unparkable`]. A target changed in place
    /// ([`InMemory`]) parks events that do not decode, but still halts on a panic, which may
    /// have left part of an event's changes in its state.
    #[must_use]
    pub fn with_parking(mut self, parking: Parking) -> Self {
        self.parking = Some(parking);
        self
    }

    /// The target: where the read model lives.
    #[must_use]
    pub fn target(&self) -> &T {
        &self.shared.target
    }

    /// The position of the last event this runner processed, or of the checkpoint it read
    /// ([`Position::START`] before either). Another process running the same projection
    /// into shared storage may be further on; [`checkpoint`](Self::checkpoint) reads it.
    #[must_use]
    pub fn position(&self) -> Position {
        self.shared.control.position()
    }

    /// How the runner is doing: position, live, halted, store failures being retried.
    #[must_use]
    pub fn status(&self) -> RunStatus {
        self.shared.control.status()
    }

    /// The committed checkpoint, read from the target's storage ([`Position::START`] before
    /// any); of a consumer split into partitions, the lowest of theirs: every event up to it
    /// is processed.
    ///
    /// # Errors
    /// [`ProjectionError::Store`] when the storage fails.
    pub async fn checkpoint(&self) -> Result<Position, ProjectionError> {
        let mut lowest = None;
        for partition in Partition::all(self.partitions.count()) {
            let committed = self.partition_checkpoint(partition).await?;
            lowest = Some(lowest.map_or(committed, |lowest: Position| lowest.min(committed)));
        }
        Ok(lowest.unwrap_or(Position::START))
    }

    /// The committed checkpoint of `partition` ([`Position::START`] before any).
    pub(super) async fn partition_checkpoint(
        &self,
        partition: Partition,
    ) -> Result<Position, ProjectionError> {
        self.shared
            .target
            .checkpoint(partition)
            .await
            .map(|position| position.unwrap_or(Position::START))
            .map_err(store_error::<T>)
    }

    /// This runner's partitions: all of them, processed by one call.
    fn every_partition(&self) -> impl Iterator<Item = Partition> + use<T, S, C> {
        Partition::all(self.partitions.count())
    }

    /// Processes every stored event after the checkpoint, up to the end of the log as it is
    /// when the call reaches it, and returns the position reached.
    ///
    /// # Errors
    /// See [`ProjectionError`]; the checkpoint stays at the last event committed.
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut processing = self.shared.control.lock(name::<T>()).await?;
        self.set_up(&mut processing).await?;
        self.drain(processing.cursors()).await
    }

    /// Catches up, then follows live appends until `shutdown` completes; returns the position
    /// reached. Shutdown is observed between batches (and during waits), never in the middle
    /// of a commit, so the runner stops promptly with its checkpoint committed.
    ///
    /// A store failure (a lost connection, a server restart: a [`StoreError::Backend`]) is
    /// retried under the runner's [`RetryPolicy`] (see [`with_retry`](Self::with_retry);
    /// by default for as long as it takes, with delays growing to 5 s), resuming after the
    /// last event committed, with nothing skipped or repeated; with the `tracing` feature,
    /// each failure is a `WARN` event under the target `es`, and [`status`](Self::status)
    /// counts them. The runner stays live meanwhile. The count of failures in a row starts
    /// again after each batch that commits.
    ///
    /// # Errors
    /// What retrying cannot fix: a decode error or a panic (the checkpoint at the event
    /// before), [`ProjectionError::Running`] or [`ProjectionError::Halted`]; or the last store
    /// failure once the policy gives up.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Position, ProjectionError> {
        let mut shutdown = pin!(shutdown);
        let mut processing = self.shared.control.lock(name::<T>()).await?;
        processing.go_live();
        let mut failures = 0;
        loop {
            let before = self.position();
            let error = match self.attempt(&mut processing, shutdown.as_mut()).await {
                Ok(position) => return Ok(position),
                Err(error) => error,
            };
            if self.position() != before {
                failures = 0;
            }
            failures += 1;
            if !is_transient(&error) || !self.retry.allows_retry(failures) {
                return Err(error);
            }
            let delay = self.retry.delay(failures);
            self.shared.control.retrying(failures);
            warning!(
                projection = name::<T>(),
                failures,
                retry_in = ?delay,
                error = %error,
                "projection runner failed; retrying",
            );
            if let Either::Left(()) = race(shutdown.as_mut(), sleep(delay)).await {
                return Ok(self.position());
            }
        }
    }

    /// One attempt of [`run`](Self::run): set up (unless shut down first), then follow.
    async fn attempt(
        &self,
        processing: &mut Processing<'_>,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Position, ProjectionError> {
        match race(shutdown.as_mut(), self.set_up(processing)).await {
            Either::Left(()) => return Ok(self.position()),
            Either::Right(set_up) => set_up?,
        }
        self.follow(processing.cursors(), shutdown).await
    }

    /// Empties the read model and forgets the checkpoint ([`Target::reset`]), then processes
    /// the whole log again. Also the way to restart a runner halted by a panic.
    ///
    /// # Errors
    /// See [`ProjectionError`]. A failure of the reset leaves the read model and the
    /// checkpoint as they were.
    pub async fn rebuild(&self) -> Result<Position, ProjectionError> {
        let mut processing = self.shared.control.lock(name::<T>()).await?;
        self.set_up(&mut processing).await?;
        let cursors = processing.cursors();
        cursors.clear();
        self.shared.target.reset().await.map_err(store_error::<T>)?;
        self.shared.control.forget_partitions();
        for partition in self.every_partition() {
            cursors.set(partition, Some(Position::START));
        }
        self.shared.control.publish(Position::START);
        self.drain(cursors).await
    }

    /// Waits until `position` (such as the `last_position` of an executed command) is
    /// processed, for at most `timeout`: read-your-writes.
    ///
    /// Something must be processing: a task in [`run`](Self::run) or a call to
    /// [`catch_up`](Self::catch_up) on this runner or a clone of it; or, for a target whose
    /// read model every process reads ([`Target::SHARED`], such as tables), a runner
    /// anywhere, in this process or another: the call then also reads the committed
    /// checkpoint, every 2 ms at first, backing off to every 50 ms.
    ///
    /// # Errors
    /// [`ProjectionError::Timeout`] when the time runs out, [`ProjectionError::Halted`] when
    /// the runner stopped on a panic, [`ProjectionError::Store`] when reading the committed
    /// checkpoint fails.
    pub async fn wait_for(
        &self,
        position: Position,
        timeout: Duration,
    ) -> Result<(), ProjectionError> {
        let control = &self.shared.control;
        if !T::SHARED {
            return control.wait_for(name::<T>(), position, timeout).await;
        }
        let polled = AtomicU64::new(0);
        let local = control.wait_for(name::<T>(), position, timeout);
        match race(local, self.poll_checkpoint(position, &polled)).await {
            Either::Left(Err(ProjectionError::Timeout {
                projection,
                waited_for,
                reached,
                timeout,
            })) => Err(ProjectionError::Timeout {
                projection,
                waited_for,
                reached: reached.max(Position(polled.load(Ordering::Relaxed))),
                timeout,
            }),
            Either::Left(outcome) | Either::Right(outcome) => outcome,
        }
    }

    /// Reads the committed checkpoint until it reaches `position`; records each reading in
    /// `polled`.
    async fn poll_checkpoint(
        &self,
        position: Position,
        polled: &AtomicU64,
    ) -> Result<(), ProjectionError> {
        const FIRST: Duration = Duration::from_millis(2);
        const LONGEST: Duration = Duration::from_millis(50);
        let mut interval = FIRST;
        loop {
            let committed = self.checkpoint().await?;
            polled.store(committed.0, Ordering::Relaxed);
            if committed >= position {
                return Ok(());
            }
            sleep(interval).await;
            interval = (interval * 2).min(LONGEST);
        }
    }

    /// Sets the target's storage up, unless done; refuses a split target that cannot be.
    async fn set_up(&self, processing: &mut Processing<'_>) -> Result<(), ProjectionError> {
        self.check_partitionable()?;
        if !processing.is_set_up() {
            self.shared.target.setup().await.map_err(store_error::<T>)?;
            processing.mark_set_up();
        }
        Ok(())
    }

    /// Refuses partitions for a target that cannot be split, and parking for one that keeps
    /// no parked events.
    pub(super) fn check_partitionable(&self) -> Result<(), ProjectionError> {
        if !T::PARTITIONABLE && self.partitions.count() > 1 {
            return Err(ProjectionError::Unpartitionable {
                projection: name::<T>(),
                partitions: self.partitions.count(),
            });
        }
        if !T::PARKING && self.parking.is_some() {
            return Err(ProjectionError::Unparkable {
                projection: name::<T>(),
            });
        }
        Ok(())
    }

    /// The position `partition` continues after: its cursor, or its committed checkpoint
    /// (on first use, or when the last commit's outcome is unknown), which becomes its
    /// cursor.
    pub(super) async fn start(
        &self,
        cursors: &mut Cursors,
        partition: Partition,
    ) -> Result<Position, ProjectionError> {
        if self.shared.control.is_halted() {
            return Err(ProjectionError::Halted {
                projection: name::<T>(),
                position: self.position(),
            });
        }
        if let Some(position) = cursors.get(partition) {
            let generation = self.shared.control.parked_generation();
            if self.parking.is_some()
                && cursors.parked(partition).map(|set| set.generation) != Some(generation)
            {
                self.load_parked(cursors, partition).await?;
            }
            return Ok(position);
        }
        let mut position = self.partition_checkpoint(partition).await?;
        if !T::SHARED
            && let Some(local) = self.shared.control.partition_position(partition)
        {
            // A read model in this process holds what this process applied to it (another
            // worker of it, before a handover), whatever the stored checkpoint says.
            position = position.max(local);
        }
        if position == Position::START && !partition.is_whole() {
            // A consumer processed whole so far has no partition checkpoints yet: starting
            // them from the beginning would apply its events again.
            let whole = self.partition_checkpoint(Partition::WHOLE).await?;
            if whole > Position::START {
                return Err(ProjectionError::OtherPartitionCount {
                    projection: name::<T>(),
                    partitions: partition.count(),
                    stored: 1,
                });
            }
        }
        cursors.set(partition, Some(position));
        if self.parking.is_some() {
            self.load_parked(cursors, partition).await?;
        }
        self.shared.control.publish_partition(partition, position);
        Ok(position)
    }

    /// Processes batches of every partition until none has anything left and the target
    /// has no work of its own either, and returns the lowest position reached: a catch-up.
    async fn drain(&self, cursors: &mut Cursors) -> Result<Position, ProjectionError> {
        let partitions: Vec<Partition> = self.every_partition().collect();
        loop {
            while self.step(cursors, &partitions).await? {
                // A store in memory answers at once: let the executor run other tasks
                // between batches.
                YieldNow(false).await;
            }
            if !self.work().await? {
                return Ok(cursors.lowest(self.every_partition()));
            }
        }
    }

    /// The loop of [`run`](Self::run), on a lock already [live](Processing::go_live):
    /// processes batches and the target's own work while there is something to do and waits
    /// for appends (or work) when there is not, until `shutdown` completes. Shutdown is
    /// observed between steps only. Returns the position reached.
    async fn follow(
        &self,
        cursors: &mut Cursors,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<Position, ProjectionError> {
        let partitions: Vec<Partition> = self.every_partition().collect();
        loop {
            if let Either::Left(()) = race(shutdown.as_mut(), ready(())).await {
                return Ok(cursors.lowest(self.every_partition()));
            }
            if self.step(cursors, &partitions).await? || self.work().await? {
                YieldNow(false).await;
                continue;
            }
            let position = cursors.lowest(self.every_partition());
            match race(shutdown.as_mut(), self.wait(position)).await {
                Either::Left(()) => return Ok(position),
                Either::Right(woken) => woken?,
            }
        }
    }

    /// Does one step of the target's own work (see [`Target::work`]); returns whether there
    /// was something to do.
    pub(super) async fn work(&self) -> Result<bool, ProjectionError> {
        self.shared.target.work().await.map_err(store_error::<T>)
    }

    /// Completes when there may be events after `position` (see
    /// [`EventStore::wait_for_events`]), or work of the target's own.
    pub(super) async fn wait(&self, position: Position) -> Result<(), ProjectionError> {
        let appended = self.store.wait_for_events(position);
        match race(appended, self.shared.target.wake()).await {
            Either::Left(woken) => woken.map_err(store_error::<T>),
            Either::Right(()) => Ok(()),
        }
    }
}

impl<P: Projection, K, S, C> ProjectionRunner<InMemory<P, K>, S, C> {
    /// Read access to the state of a read model kept in memory ([`InMemory::read`]). Do not
    /// hold the guard across an `.await`: the runner needs write access between batches.
    pub fn read(&self) -> RwLockReadGuard<'_, P> {
        self.shared.target.read()
    }
}

/// The projection's name, for errors.
pub(super) fn name<T: Target>() -> &'static str {
    <T::Projection as Projection>::NAME
}

pub(super) fn store_error<T: Target>(source: StoreError) -> ProjectionError {
    ProjectionError::Store {
        projection: name::<T>(),
        source,
    }
}

/// Whether retrying may fix `error`: a failure of the store's backend.
pub(super) fn is_transient(error: &ProjectionError) -> bool {
    matches!(
        error,
        ProjectionError::Store {
            source: StoreError::Backend(_),
            ..
        }
    )
}

impl<T, S: Clone, C: Clone> Clone for ProjectionRunner<T, S, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            codec: self.codec.clone(),
            batch_size: self.batch_size,
            retry: self.retry,
            partitions: self.partitions,
            parking: self.parking,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T: Target + fmt::Debug, S, C> fmt::Debug for ProjectionRunner<T, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("projection", &name::<T>())
            .field("target", &self.shared.target)
            .field("batch_size", &self.batch_size)
            .field("retry", &self.retry)
            .field("control", &self.shared.control)
            .finish_non_exhaustive()
    }
}
