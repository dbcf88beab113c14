//! [`ProcessStore`]: where process managers' instances and timers live, next to the events.

use std::future::Future;
use std::time::SystemTime;

use bytes::Bytes;
use uuid::Uuid;

use crate::projection::{Advance, Committed};
use crate::store::{CheckpointStore, EventStore, StoreError};

/// Where the instances and timers of process managers live: implemented by each store next
/// to its events (es-memstore's `MemStore` in memory, es-postgres's `PgStore` in tables), so
/// that an instance's new state, its timers and the process's checkpoint commit together.
///
/// The rows are opaque to the store: keys, states, timer payloads and parked inputs are
/// encoded by es-core. Every method takes the process manager's
/// [`NAME`](crate::process::ProcessManager::NAME); its checkpoint is the
/// [`CheckpointStore`] row of that name.
///
/// # What [`commit_process`](Self::commit_process) must guarantee
///
/// All of a [`ProcessWork`] or nothing of it, and only if every expectation holds:
///
/// - the checkpoint moves from `advance.from` to `advance.to` (when there is an `advance`),
///   as [`Target::commit`](crate::projection::Target::commit) moves it;
/// - each fired timer still exists with its id (it is then deleted);
/// - each written instance is still at the [`revision`](InstanceRow::revision) it was
///   loaded at (0: absent), and is stored at the next revision.
///
/// If an expectation fails (another runner committed first), nothing is written and the
/// answer is [`Committed::Moved`].
pub trait ProcessStore: EventStore + CheckpointStore {
    /// The instances of `process` with these keys (absent keys are missing from the answer).
    ///
    /// # Errors
    /// The store's error.
    fn load_instances(
        &self,
        process: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceRow>, StoreError>> + Send;

    /// Commits `work` for `process`, atomically, if its expectations hold; see the trait's
    /// documentation.
    ///
    /// # Errors
    /// The store's error; nothing is written then.
    fn commit_process(
        &self,
        process: &str,
        work: ProcessWork,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send;

    /// Up to `limit` timers of `process` due at `now` (their time at or before it), earliest
    /// first.
    ///
    /// # Errors
    /// The store's error.
    fn due_timers(
        &self,
        process: &str,
        now: SystemTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TimerRow>, StoreError>> + Send;

    /// When the earliest timer of `process` is due, if it has any.
    ///
    /// # Errors
    /// The store's error.
    fn next_timer(
        &self,
        process: &str,
    ) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send;

    /// The parked instances of `process` (with a [`parked`](InstanceRow::parked) record).
    ///
    /// # Errors
    /// The store's error.
    fn parked_instances(
        &self,
        process: &str,
    ) -> impl Future<Output = Result<Vec<InstanceRow>, StoreError>> + Send;

    /// Deletes the instances and timers of `process` and its checkpoint, for a rebuild.
    ///
    /// # Errors
    /// The store's error; nothing is deleted then.
    fn reset_process(&self, process: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// One instance of a process manager as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceRow {
    /// The instance's key (encoded).
    pub key: String,
    /// Its state (encoded); empty once finished, and while it has none (parked on its first
    /// input).
    pub state: Bytes,
    /// Whether it finished: later inputs for its key are ignored.
    pub finished: bool,
    /// Counts the commits that wrote it: 1 after the first. A write expects the revision it
    /// was loaded at.
    pub revision: u64,
    /// Why it is parked, and the inputs that wait, if it is.
    pub parked: Option<ParkedRow>,
}

impl InstanceRow {
    /// An instance row; for stores and es-core.
    #[must_use]
    pub fn new(
        key: String,
        state: Bytes,
        finished: bool,
        revision: u64,
        parked: Option<ParkedRow>,
    ) -> Self {
        Self {
            key,
            state,
            finished,
            revision,
            parked,
        }
    }
}

/// Why an instance is parked, and what waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkedRow {
    /// The error that parked it.
    pub error: String,
    /// The inputs that wait, the one that failed first (encoded).
    pub inputs: Bytes,
    /// When it was parked.
    pub since: SystemTime,
    /// Whether a retry was asked for: the runner handles its inputs again.
    pub retry: bool,
}

impl ParkedRow {
    /// A parked record; for stores and es-core.
    #[must_use]
    pub fn new(error: String, inputs: Bytes, since: SystemTime, retry: bool) -> Self {
        Self {
            error,
            inputs,
            since,
            retry,
        }
    }
}

/// A timer of an instance, as stored. An instance has at most one timer of each name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerRow {
    /// The instance's key (encoded).
    pub key: String,
    /// The timer's name.
    pub name: String,
    /// The timer's id, derived from the input that set it: the trigger of the commands it
    /// sends when it fires.
    pub id: Uuid,
    /// When it fires.
    pub due: SystemTime,
    /// The timer (encoded).
    pub payload: Bytes,
    /// The correlation id of the input that set it, carried to the commands it sends.
    pub correlation_id: Option<Uuid>,
}

impl TimerRow {
    /// A timer row; for stores and es-core.
    #[must_use]
    pub fn new(
        key: String,
        name: String,
        id: Uuid,
        due: SystemTime,
        payload: Bytes,
        correlation_id: Option<Uuid>,
    ) -> Self {
        Self {
            key,
            name,
            id,
            due,
            payload,
            correlation_id,
        }
    }
}

/// What one step of a process manager commits: see [`ProcessStore::commit_process`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProcessWork {
    /// The checkpoint's move, for a batch of the log.
    pub advance: Option<Advance>,
    /// The ids of the timers that fired (each must still exist; they are deleted).
    pub fired: Vec<Uuid>,
    /// The instances written, each at the revision it was loaded at (stored at the next).
    pub instances: Vec<InstanceRow>,
    /// The timers set, replacing an instance's timer of the same name.
    pub set_timers: Vec<TimerRow>,
    /// The timers cancelled: `(key, name)`.
    pub cancelled_timers: Vec<(String, String)>,
    /// The instances whose timers are all cancelled (finished ones).
    pub cleared_timers: Vec<String>,
}

impl ProcessWork {
    /// Whether there is nothing to write besides the checkpoint.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.fired.is_empty()
            && self.instances.is_empty()
            && self.set_timers.is_empty()
            && self.cancelled_timers.is_empty()
            && self.cleared_timers.is_empty()
    }
}
