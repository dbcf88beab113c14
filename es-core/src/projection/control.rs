//! [`RunControl`]: the bookkeeping a projection runner shares between its handles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Mutex, MutexGuard, watch};

use crate::envelope::{Position, StreamId};
use crate::projection::{Partition, ProjectionError};
use crate::util::{Either, race};

/// What a projection runner's handles share: the position processed, whether a `run` is
/// live, whether a panic halted it, and the lock that lets one call process at a time.
///
/// [`ProjectionRunner`](crate::ProjectionRunner) is built on it:
///
/// - one processing call at a time: [`lock`](Self::lock) waits for the one in progress,
///   and refuses with [`ProjectionError::Running`] while a `run` is live (waiting for it
///   could never end);
/// - [`wait_for`](Self::wait_for) waits for a position to be processed, or fails with
///   [`ProjectionError::Halted`] or [`ProjectionError::Timeout`];
/// - [`Processing::go_live`] marks a `run` live for as long as it holds the lock.
///
/// It needs no particular executor (its waits are tokio `sync` primitives and
/// `futures-timer`).
pub(crate) struct RunControl {
    /// Where processing continues. Held while processing.
    cursor: Mutex<Cursor>,
    progress: watch::Sender<RunStatus>,
    /// The position each partition of a split consumer reached, in this process.
    partitions: StdMutex<BTreeMap<Partition, Position>>,
    /// One lock per partition, held while a batch of it is processed, so that two workers
    /// of this process never process one partition at once.
    locks: StdMutex<BTreeMap<Partition, Arc<Mutex<()>>>>,
    /// Counts the retries and dismissals of parked events made through this runner: a
    /// partition whose parked set is older reloads it.
    parked_generation: AtomicU64,
}

/// Where processing continues, behind [`RunControl`]'s lock.
#[derive(Debug, Default)]
struct Cursor {
    /// Where each partition continues; a partition missing until its checkpoint is loaded
    /// (or when it must be loaded again).
    cursors: Cursors,
    /// Whether the target's storage is set up.
    set_up: bool,
}

/// Where each partition's processing continues: after the position it holds, or, for a
/// partition it does not hold, after the checkpoint that must be loaded first; and, for a
/// runner that parks, what each partition has parked.
#[derive(Debug, Default)]
pub(crate) struct Cursors {
    positions: BTreeMap<Partition, Position>,
    parked: BTreeMap<Partition, ParkedSet>,
}

/// What a partition has parked, as far as its runner knows: the parked positions, and the
/// streams held behind a parked event (with its position).
#[derive(Debug, Default)]
pub(crate) struct ParkedSet {
    pub(crate) positions: BTreeSet<Position>,
    pub(crate) held: HashMap<StreamId, Position>,
    /// The [`RunControl::parked_generation`] it was loaded at.
    pub(crate) generation: u64,
}

impl Cursors {
    /// Where `partition` continues, if known.
    pub(crate) fn get(&self, partition: Partition) -> Option<Position> {
        self.positions.get(&partition).copied()
    }

    /// Sets where `partition` continues (`None`: load its checkpoint, and what it parked,
    /// first).
    pub(crate) fn set(&mut self, partition: Partition, position: Option<Position>) {
        match position {
            Some(position) => {
                self.positions.insert(partition, position);
            }
            None => {
                self.positions.remove(&partition);
                self.parked.remove(&partition);
            }
        }
    }

    /// What `partition` parked, if loaded.
    pub(crate) fn parked(&mut self, partition: Partition) -> Option<&mut ParkedSet> {
        self.parked.get_mut(&partition)
    }

    /// Records what `partition` parked.
    pub(crate) fn set_parked(&mut self, partition: Partition, parked: ParkedSet) {
        self.parked.insert(partition, parked);
    }

    /// Forgets every partition's position.
    pub(crate) fn clear(&mut self) {
        self.positions.clear();
        self.parked.clear();
    }

    /// The lowest position of `partitions` (a partition not known counts as the start).
    pub(crate) fn lowest(&self, partitions: impl Iterator<Item = Partition>) -> Position {
        partitions
            .map(|partition| self.get(partition).unwrap_or(Position::START))
            .min()
            .unwrap_or(Position::START)
    }
}

/// How a [`ProjectionRunner`](crate::ProjectionRunner) is doing, from
/// [`status`](crate::ProjectionRunner::status): for health checks and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunStatus {
    /// The position of the last event processed (as
    /// [`position`](crate::ProjectionRunner::position)).
    pub position: Position,
    /// Whether a `run` is following the log.
    pub live: bool,
    /// Whether a panic halted the runner (until a rebuild).
    pub halted: bool,
    /// How many store failures in a row `run` is retrying now: 0 when healthy, reset when a
    /// batch commits.
    pub failing: u32,
    /// How many store failures `run` has retried since the runner was made.
    pub retried: u64,
}

impl RunControl {
    /// Nothing processed yet, no cursor, not live, not halted.
    pub(crate) fn new() -> Self {
        Self {
            cursor: Mutex::new(Cursor::default()),
            progress: watch::Sender::new(RunStatus {
                position: Position::START,
                live: false,
                halted: false,
                failing: 0,
                retried: 0,
            }),
            partitions: StdMutex::new(BTreeMap::new()),
            locks: StdMutex::new(BTreeMap::new()),
            parked_generation: AtomicU64::new(0),
        }
    }

    /// The position of the last event processed ([`Position::START`] before any).
    pub(crate) fn position(&self) -> Position {
        self.progress.borrow().position
    }

    /// The runner's status.
    pub(crate) fn status(&self) -> RunStatus {
        *self.progress.borrow()
    }

    /// Records that `run` is retrying its `failing`-th failure in a row.
    pub(crate) fn retrying(&self, failing: u32) {
        self.progress.send_modify(|progress| {
            progress.failing = failing;
            progress.retried += 1;
        });
    }

    /// Whether a panic halted the runner.
    pub(crate) fn is_halted(&self) -> bool {
        self.progress.borrow().halted
    }

    /// Records that everything up to `position` is processed (and the runner neither halted
    /// nor failing), waking [`wait_for`](Self::wait_for) callers.
    pub(crate) fn publish(&self, position: Position) {
        self.set(position, false);
    }

    /// Records that `partition` has processed everything up to `position`, and publishes the
    /// lowest position of the consumer's partitions (a partition not seen yet counts as the
    /// start): what every partition has processed.
    pub(crate) fn publish_partition(&self, partition: Partition, position: Position) {
        if partition.is_whole() {
            self.publish(position);
            return;
        }
        let lowest = {
            let mut partitions = self
                .partitions
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            partitions.insert(partition, position);
            Partition::all(partition.count())
                .map(|each| partitions.get(&each).copied().unwrap_or(Position::START))
                .min()
                .unwrap_or(Position::START)
        };
        self.publish(lowest);
    }

    /// The position `partition` reached in this process, if it processed any.
    pub(crate) fn partition_position(&self, partition: Partition) -> Option<Position> {
        if partition.is_whole() {
            return Some(self.position());
        }
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&partition)
            .copied()
    }

    /// The lock of `partition`, held while a batch of it is processed.
    pub(crate) fn partition_lock(&self, partition: Partition) -> Arc<Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(partition).or_default())
    }

    /// The count of retries and dismissals of parked events made through this runner.
    pub(crate) fn parked_generation(&self) -> u64 {
        self.parked_generation.load(Ordering::Acquire)
    }

    /// Records a retry or dismissal of parked events.
    pub(crate) fn parked_changed(&self) {
        self.parked_generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets the positions of the partitions, before a rebuild.
    pub(crate) fn forget_partitions(&self) {
        self.partitions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// Records that a panic halted the runner after `position`; waiters get
    /// [`ProjectionError::Halted`] until the next [`publish`](Self::publish).
    pub(crate) fn halt(&self, position: Position) {
        self.set(position, true);
    }

    fn set(&self, position: Position, halted: bool) {
        self.progress.send_modify(|progress| {
            progress.position = position;
            progress.halted = halted;
            progress.failing = 0;
        });
    }

    /// The right to process, for one call of `catch_up`, `run` or `rebuild` at a time.
    ///
    /// # Errors
    /// [`ProjectionError::Running`] naming `projection` while a `run` is live, also one that
    /// starts while this call waits.
    pub(crate) async fn lock(
        &self,
        projection: &'static str,
    ) -> Result<Processing<'_>, ProjectionError> {
        let mut progress = self.progress.subscribe();
        match race(progress.wait_for(|p| p.live), self.cursor.lock()).await {
            Either::Left(_) => Err(ProjectionError::Running { projection }),
            Either::Right(cursor) => Ok(Processing {
                cursor,
                progress: &self.progress,
                live: false,
            }),
        }
    }

    /// Waits until `position` is processed (such as the `last_position` of an executed
    /// command), for at most `timeout`. Something else must be processing.
    ///
    /// # Errors
    /// [`ProjectionError::Timeout`] when the time runs out, [`ProjectionError::Halted`] when
    /// a panic halted the runner; both name `projection`.
    pub(crate) async fn wait_for(
        &self,
        projection: &'static str,
        position: Position,
        timeout: Duration,
    ) -> Result<(), ProjectionError> {
        let mut progress = self.progress.subscribe();
        let reached = progress.wait_for(|p| p.position >= position || p.halted);
        let outcome = match race(reached, futures_timer::Delay::new(timeout)).await {
            Either::Left(Ok(progress)) => Some(*progress),
            // The sender lives in `self`, which outlives this call.
            Either::Left(Err(_)) | Either::Right(()) => None,
        };
        match outcome {
            Some(p) if p.position >= position => Ok(()),
            Some(p) => Err(ProjectionError::Halted {
                projection,
                position: p.position,
            }),
            None => Err(ProjectionError::Timeout {
                projection,
                waited_for: position,
                reached: self.position(),
                timeout,
            }),
        }
    }
}

impl fmt::Debug for RunControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let progress = *self.progress.borrow();
        f.debug_struct("RunControl")
            .field("position", &progress.position)
            .field("halted", &progress.halted)
            .field("live", &progress.live)
            .finish_non_exhaustive()
    }
}

/// The right to process, from [`RunControl::lock`]: the cursor, held until dropped.
pub(crate) struct Processing<'a> {
    cursor: MutexGuard<'a, Cursor>,
    progress: &'a watch::Sender<RunStatus>,
    live: bool,
}

impl Processing<'_> {
    /// Where each partition's processing continues.
    pub(crate) fn cursors(&mut self) -> &mut Cursors {
        &mut self.cursor.cursors
    }

    /// Whether the target's storage is set up.
    pub(crate) fn is_set_up(&self) -> bool {
        self.cursor.set_up
    }

    /// Records that the target's storage is set up.
    pub(crate) fn mark_set_up(&mut self) {
        self.cursor.set_up = true;
    }

    /// Marks the runner live until this guard is dropped: other processing calls are
    /// refused meanwhile.
    pub(crate) fn go_live(&mut self) {
        if !self.live {
            self.live = true;
            self.progress.send_modify(|progress| progress.live = true);
        }
    }
}

impl Drop for Processing<'_> {
    fn drop(&mut self) {
        // However the `run` ends, also when its future is dropped.
        if self.live {
            self.progress.send_modify(|progress| progress.live = false);
        }
    }
}

impl fmt::Debug for Processing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Processing")
            .field("cursors", &self.cursor.cursors)
            .field("live", &self.live)
            .finish()
    }
}
