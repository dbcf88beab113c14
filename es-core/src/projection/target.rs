//! [`Target`]: where a runner's batches go, and how their checkpoint commits.

use std::future::Future;

use crate::envelope::Position;
use crate::projection::{ParkedEvent, Partition, Projection};
use crate::store::StoreError;

/// Where the results of a [`ProjectionRunner`](crate::ProjectionRunner)'s batches go, and how
/// their checkpoint commits.
///
/// The runner owns the control flow, the same for every target: read a batch of the log after
/// the checkpoint, decode and dispatch each listened-to event to the projection's
/// [`On`](crate::On) impls, hand the batch's result to the target to commit with the
/// checkpoint, stop or retry on failures. A target says only where the projection lives and
/// how a batch commits:
///
/// - [`InMemory`](crate::projection::InMemory) (es-core): the read model is a value in the
///   runner, changed in place; its checkpoint, if any, goes to a
///   [`CheckpointStore`](crate::CheckpointStore) after the batch;
/// - es-postgres's `PgTables`: each batch is projected into a fresh change set, which is
///   written to tables in the transaction that moves the checkpoint, so every event reaches
///   the tables exactly once.
///
/// Another storage is one impl of this trait (and of [`IntoTarget`], returning itself) in the
/// crate that owns the storage.
///
/// # What the runner relies on
///
/// - [`project`](Self::project) is synchronous and must not block: it lends the projection
///   for the runner's dispatch loop.
/// - [`commit`](Self::commit) moves the checkpoint from [`Advance::from`] to
///   [`Advance::to`] together with the changes, or (where the storage cannot commit both
///   atomically) saves the checkpoint after the changes are in place.
/// - [`checkpoint`](Self::checkpoint) reads the committed checkpoint: where a restarted
///   runner resumes.
pub trait Target: Send + Sync + 'static {
    /// The projection whose [`On`](crate::On) impls the runner dispatches events to.
    type Projection: Projection;

    /// What a batch leaves to commit: a table target's change set; `()` for a read model
    /// changed in place.
    type Changes: Send;

    /// Whether a batch's changes reach the read model only through [`commit`](Self::commit),
    /// so that changes dropped uncommitted leave it as it was (true for tables).
    ///
    /// It decides what a panic in an `On` impl does. A transactional target commits the
    /// events before the one that panicked and is called again from there (it meets the same
    /// event again). A target changed in place may hold part of that event's changes: the
    /// runner halts it until [`ProjectionRunner::rebuild`](crate::ProjectionRunner::rebuild).
    const TRANSACTIONAL: bool;

    /// Whether [`checkpoint`](Self::checkpoint) describes a read model that every process
    /// reads (tables in a database): then [`ProjectionRunner::wait_for`](crate::ProjectionRunner::wait_for)
    /// also reads the committed checkpoint, so read-your-writes works in a process that does
    /// not run the projection itself.
    const SHARED: bool;

    /// Whether the target can run split into [partitions](crate::projection::Partitions),
    /// each with a checkpoint of its own (true by default). A read model whose changes for
    /// one stream do not depend on the order of other streams' events can; a process manager,
    /// whose instances hear from several streams, cannot yet.
    const PARTITIONABLE: bool = true;

    /// Prepares the storage once, before a runner's first batch: create or migrate the read
    /// model's tables. The runner calls it again only if it failed. It must succeed when
    /// several processes start at once (es-postgres runs it under an advisory lock).
    ///
    /// # Errors
    /// The storage's error; the runner's call fails with it and nothing is processed.
    fn setup(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }

    /// Lends `f` the projection the next batch's events go to, and returns what `f`
    /// returned with the changes to commit. Called once per batch (twice after a panic in a
    /// [transactional](Self::TRANSACTIONAL) target, whose first changes are dropped).
    fn project<R>(&self, f: impl FnOnce(&mut Self::Projection) -> R) -> (Self::Changes, R);

    /// Commits `changes` and moves the checkpoint of `advance.partition` (see
    /// [`Partition::checkpoint_name`]) from `advance.from` to `advance.to`.
    ///
    /// Returns [`Committed::Moved`], committing nothing, when the checkpoint was no longer at
    /// `advance.from` (another runner of the same projection committed first): the runner
    /// then continues from the checkpoint it reads.
    ///
    /// # Errors
    /// The storage's error. A transactional target has then committed nothing, and the
    /// runner resumes from the committed checkpoint.
    fn commit(
        &self,
        changes: Self::Changes,
        advance: Advance,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// The committed checkpoint of `partition`: the position of the last event of its
    /// streams that the read model holds (events of other streams up to there included), or
    /// `None` before any.
    ///
    /// # Errors
    /// The storage's error.
    fn checkpoint(
        &self,
        partition: Partition,
    ) -> impl Future<Output = Result<Option<Position>, StoreError>> + Send;

    /// Whether the target keeps parked events (see
    /// [`Parking`](crate::projection::Parking)): its [`commit`](Self::commit) stores
    /// [`Advance::parked`] and forgets [`Advance::unparked`] with the checkpoint, and
    /// [`parked`](Self::parked) lists them. False by default.
    const PARKING: bool = false;

    /// The events parked by `partition`, in position order. None by default.
    ///
    /// # Errors
    /// The storage's error.
    fn parked(
        &self,
        partition: Partition,
    ) -> impl Future<Output = Result<Vec<ParkedEvent>, StoreError>> + Send {
        let _ = partition;
        async { Ok(Vec::new()) }
    }

    /// Empties the read model and forgets its checkpoints, the whole one and those of
    /// every partition, and its parked events, atomically where the storage allows it, before a
    /// [rebuild](crate::ProjectionRunner::rebuild).
    ///
    /// # Errors
    /// The storage's error; the read model and the checkpoint are then as they were.
    fn reset(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Does one step of work of the target's own, besides the log's events: a process
    /// manager fires its due timers and retries the instances it was asked to. Returns whether
    /// there was something to do (the runner then asks again). The runner calls it when it
    /// has caught up with the log, in `catch_up` and in `run`. Nothing by default.
    ///
    /// # Errors
    /// The storage's error; the runner treats it as a batch's.
    fn work(&self) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async { Ok(false) }
    }

    /// Completes when [`work`](Self::work) may have something to do (a timer coming due),
    /// for a live `run` waiting for appends. Never, by default.
    fn wake(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }
}

/// What [`ProjectionRunner::new`](crate::ProjectionRunner::new) accepts: a [`Target`], or a
/// value that becomes one.
///
/// A plain [`Projection`] value (with `Default`, for rebuilds) becomes an
/// [`InMemory`](crate::projection::InMemory) target without checkpoints, so
/// `ProjectionRunner::new(store, UserDirectory::default())` keeps the read model in memory.
/// Every target converts into itself.
pub trait IntoTarget {
    /// The target.
    type Target: Target;

    /// The target.
    fn into_target(self) -> Self::Target;
}

/// The part of the log one [`Target::commit`] covers, and the events it parks and unparks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Advance {
    /// The checkpoint before the batch ([`Position::START`] before any event).
    pub from: Position,
    /// The position of the batch's last committed event: the checkpoint after it.
    pub to: Position,
    /// The partition whose checkpoint moves ([`Partition::WHOLE`] for a consumer that is
    /// not split).
    pub partition: Partition,
    /// Events the batch sets aside (see [`Parking`](crate::projection::Parking)): kept as
    /// parked in the same commit as the checkpoint, so none is lost between the two.
    pub parked: Vec<ParkedEvent>,
    /// Parked events the commit applied (a retry) or drops (a dismissal): forgotten in the
    /// same commit.
    pub unparked: Vec<Position>,
}

impl Advance {
    /// The advance from `from` to `to` of the whole log.
    #[must_use]
    pub const fn new(from: Position, to: Position) -> Self {
        Self {
            from,
            to,
            partition: Partition::WHOLE,
            parked: Vec::new(),
            unparked: Vec::new(),
        }
    }

    /// The same advance, of `partition`'s checkpoint.
    #[must_use]
    pub fn in_partition(self, partition: Partition) -> Self {
        Self { partition, ..self }
    }

    /// The same advance, parking `parked`.
    #[must_use]
    pub fn with_parked(self, parked: Vec<ParkedEvent>) -> Self {
        Self { parked, ..self }
    }

    /// The same advance, forgetting the parked events at `unparked`.
    #[must_use]
    pub fn with_unparked(self, unparked: Vec<Position>) -> Self {
        Self { unparked, ..self }
    }
}

/// What became of a [`Target::commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Committed {
    /// The changes and the checkpoint are committed.
    Done,
    /// The checkpoint was not where the batch started: nothing was committed.
    Moved,
}
