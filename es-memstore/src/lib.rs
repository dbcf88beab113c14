//! An in-memory event store: the reference implementation of es-core's store traits.
//!
//! [`MemStore`] keeps every event in one process, in one global log with a per-stream index.
//! It stores payloads as bytes exactly like a durable store, so whatever does not round-trip
//! through the codec fails here first. It is the store of examples and tests, and the model
//! other stores are checked against.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, NewEvent, Position, StreamId, Version};
//! use es_core::codec::Encoded;
//! use es_memstore::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemStore::new();
//! let stream = StreamId::new("note-1")?;
//! let event = NewEvent::new(Encoded {
//!     name: "note.written",
//!     version: 1,
//!     payload: br#"{"text":"hi"}"#.to_vec().into(),
//! });
//! let appended = store.append(&stream, ExpectedVersion::NoStream, vec![event]).await?;
//! assert_eq!(appended.stream_version, Version(1));
//!
//! // A writer that expected an empty stream now conflicts, and writes nothing.
//! let again = NewEvent::new(Encoded { name: "note.written", version: 1, payload: "{}".into() });
//! assert!(store.append(&stream, ExpectedVersion::NoStream, vec![again]).await.is_err());
//! assert_eq!(store.read_all(Position::START, 100).await?.len(), 1);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Guarantees and costs
//!
//! - Appends are atomic and serialized by one write lock: a reader never sees half of a
//!   batch. Positions are contiguous from 1 (no holes), stream versions contiguous from 1.
//! - Reads take a read lock and clone the envelopes they return; payloads and names are
//!   shared, not copied. [`visit_stream`](EventStore::visit_stream), the read replays use,
//!   lends a view of each stored envelope instead ([`StoredEvent`]), under the read lock,
//!   one page (at most `max_count` events) at a time.
//! - The limits of [`es_core::store::limits`] apply: payloads up to 16 MiB, 10,000 events per
//!   append, event names within the rule of [`es_core::names`] (up to 255 bytes). Everything
//!   is kept until the store is dropped.
//! - No user code runs under the write lock, so a panic in an aggregate or projection cannot
//!   poison it; the store stays usable. (Replay runs decoding and `Apply` under the read
//!   lock, and a panic under a read lock poisons nothing.)
//! - Live subscribers wait on a watch of the head position, never on a per-subscriber
//!   buffer: a slow subscriber costs writers nothing and memory stays bounded.
//! - Checkpoints ([`CheckpointStore`]), snapshots ([`SnapshotStore`], the latest of each
//!   stream) and process managers' instances and timers
//!   ([`ProcessStore`](es_core::process::ProcessStore)) are kept in memory too; a process's
//!   commit is atomic under one lock with its checkpoint.
//! - Idempotency costs one map entry per append that carries a command id.
//! - [`Inspect`](es_core::store::Inspect) lists streams by going through all of them: each
//!   page costs time in the number of streams, under the read lock.
#![deny(missing_docs)]

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use es_core::projection::{Heartbeat, LeaseStore, ParkedEvent};
use es_core::snapshot::Snapshot;
use es_core::store::{check_batch, visit_each};
use es_core::{
    Appended, CheckpointStore, EventStore, ExpectedVersion, NewEvent, Position, Recorded,
    RecordedEvent, Refusal, SnapshotStore, StoreError, StoredEvent, StreamId, Version,
};
use tokio::sync::watch;
use uuid::Uuid;

mod inspect;
mod leases;
mod processes;

/// An in-memory [`EventStore`]. Cloning is cheap and shares the same store; it is safe to use
/// from many threads and tasks at once.
#[derive(Clone, Default)]
pub struct MemStore {
    inner: Arc<RwLock<State>>,
    /// The position of the last appended event, for live subscribers. Updated under the
    /// write lock, so it never runs ahead of what readers can see, and only while someone
    /// is subscribed, so it may lag behind the log when nobody is.
    head: Arc<watch::Sender<Position>>,
    checkpoints: Arc<Mutex<HashMap<String, Position>>>,
    /// The instances and timers of process managers, by process name. Locked after
    /// `checkpoints` when both are needed (a process's commit moves its checkpoint).
    processes: Arc<Mutex<HashMap<String, processes::Process>>>,
    /// The latest snapshot of each stream.
    snapshots: Arc<Mutex<HashMap<StreamId, Snapshot>>>,
    /// The leases of partitioned consumers' workers.
    leases: Arc<Mutex<leases::Leases>>,
    /// The parked events of each consumer (checkpoint name), by position.
    parked: Arc<Mutex<HashMap<String, BTreeMap<Position, ParkedEvent>>>>,
}

/// The maps of the store hash with foldhash, seeded per map: an append looks several keys
/// up, and SipHash (std's default) was the largest single cost of an in-memory command.
type Hasher = foldhash::fast::RandomState;
type Map<K, V> = HashMap<K, V, Hasher>;

#[derive(Default)]
struct State {
    /// Every event; the event at index `i` has position `i + 1`.
    log: Vec<RecordedEvent>,
    /// Each stream: its events and its command ids. One lookup serves an append.
    streams: Map<StreamId, Stream>,
    /// One shared copy of each event name.
    names: HashSet<Arc<str>, Hasher>,
}

/// What the store keeps of one stream besides the events in the log.
#[derive(Default)]
struct Stream {
    /// The log indexes of its events, in version order.
    events: Vec<usize>,
    /// What the command ids it was given produced: appends and refusals (for idempotency).
    commands: Map<Uuid, Recorded>,
}

impl State {
    /// Up to `max_count` events of `stream_id` from version `from`, in version order.
    fn stream_events<'a>(
        &'a self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> impl Iterator<Item = &'a RecordedEvent> {
        let skip = usize::try_from(from.0.saturating_sub(1)).unwrap_or(usize::MAX);
        let indexes = self
            .streams
            .get(stream_id)
            .map_or(&[][..], |stream| stream.events.as_slice());
        indexes[skip.min(indexes.len())..]
            .iter()
            .take(max_count)
            .map(|&index| &self.log[index])
    }

    /// The version of `stream_id`: its number of events.
    fn stream_version(&self, stream_id: &StreamId) -> Version {
        Version(
            self.streams
                .get(stream_id)
                .map_or(0, |stream| stream.events.len() as u64),
        )
    }
}

impl MemStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of events in the store.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().log.len()
    }

    /// Whether the store holds no event.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // No user code runs while the lock is held and every mutation happens after all checks,
    // so a poisoned lock (a panic inside a critical section) still guards consistent data.
    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    fn append_now(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        check_batch(stream_id, &events)?;
        let recorded_at = SystemTime::now();
        let mut state = self.write();
        let State {
            log,
            streams,
            names,
        } = &mut *state;
        let command_id = events.first().and_then(|event| event.metadata.command_id);
        let conflict = |actual| StoreError::Conflict {
            stream_id: stream_id.clone(),
            expected,
            actual,
        };
        // The events of a stream share its key's storage, not the caller's copy of the id.
        let (shared_id, stream) = match streams.entry(stream_id.clone()) {
            Entry::Occupied(entry) => (entry.key().clone(), entry.into_mut()),
            // A new stream has no command ids yet: only the version can refuse the append,
            // and a refused append must not leave an empty entry behind.
            Entry::Vacant(_) if !expected.accepts(Version(0)) => {
                return Err(conflict(Version(0)));
            }
            Entry::Vacant(entry) => (entry.key().clone(), entry.insert(Stream::default())),
        };
        if let Some((id, earlier)) = command_id.and_then(|id| Some((id, stream.commands.get(&id)?)))
        {
            return earlier.clone().into_repeat_answer(&shared_id, id);
        }
        let actual = Version(stream.events.len() as u64);
        if !expected.accepts(actual) {
            return Err(conflict(actual));
        }
        let first_index = log.len();
        log.reserve(events.len());
        stream.events.reserve(events.len());
        let mut version = actual;
        for event in events {
            version = version.next();
            let index = log.len();
            log.push(RecordedEvent {
                stream_id: shared_id.clone(),
                stream_version: version,
                position: Position(index as u64 + 1),
                event_id: event.event_id,
                recorded_at,
                name: intern(names, &event.name),
                schema_version: event.schema_version,
                payload: event.payload,
                metadata: event.metadata,
            });
            stream.events.push(index);
        }
        // Waking costs a lock even with nobody waiting: skip it then (a new waiter reads the
        // log itself after subscribing, see `wait_for_events`).
        if self.head.receiver_count() > 0 {
            self.head.send_replace(Position(log.len() as u64));
        }
        let appended = Appended::new(
            version,
            Position(first_index as u64 + 1),
            Position(log.len() as u64),
        );
        if let Some(id) = command_id {
            stream.commands.insert(id, Recorded::Appended(appended));
        }
        Ok(appended)
    }

    /// [`EventStore::refuse`], under the write lock: the command id's outcome, the version
    /// check and the record are one step.
    fn refuse_now(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        payload: Bytes,
    ) -> Result<Recorded, StoreError> {
        let mut state = self.write();
        let actual = state.stream_version(stream_id);
        if let Some(earlier) = state
            .streams
            .get(stream_id)
            .and_then(|stream| stream.commands.get(&command_id))
        {
            return Ok(duplicate(earlier));
        }
        if !expected.accepts(actual) {
            return Err(StoreError::Conflict {
                stream_id: stream_id.clone(),
                expected,
                actual,
            });
        }
        let refused = Recorded::Refused(Refusal::new(actual, payload));
        state
            .streams
            .entry(stream_id.clone())
            .or_default()
            .commands
            .insert(command_id, refused.clone());
        Ok(refused)
    }
}

/// `recorded`, reported again: an append as a duplicate.
fn duplicate(recorded: &Recorded) -> Recorded {
    match recorded {
        Recorded::Appended(appended) => Recorded::Appended(appended.as_duplicate()),
        Recorded::Refused(refusal) => Recorded::Refused(refusal.clone()),
    }
}

fn intern(names: &mut HashSet<Arc<str>, Hasher>, name: &str) -> Arc<str> {
    if let Some(shared) = names.get(name) {
        return Arc::clone(shared);
    }
    let shared: Arc<str> = Arc::from(name);
    names.insert(Arc::clone(&shared));
    shared
}

impl EventStore for MemStore {
    async fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.append_now(stream_id, expected, events)
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.read();
        Ok(state
            .stream_events(stream_id, from, max_count)
            .cloned()
            .collect())
    }

    async fn visit_stream<F>(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(StoredEvent<'_>) -> ControlFlow<()> + Send,
    {
        let state = self.read();
        Ok(visit_each(
            state.stream_events(stream_id, from, max_count),
            &mut visit,
        ))
    }

    async fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let state = self.read();
        let start = usize::try_from(after.0)
            .unwrap_or(usize::MAX)
            .min(state.log.len());
        Ok(state.log[start..].iter().take(max_count).cloned().collect())
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<Version, StoreError> {
        Ok(self.read().stream_version(stream_id))
    }

    async fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> Result<Option<Recorded>, StoreError> {
        let state = self.read();
        let earlier = state
            .streams
            .get(stream_id)
            .and_then(|stream| stream.commands.get(&command_id));
        Ok(earlier.map(duplicate))
    }

    async fn refuse(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> Result<Recorded, StoreError> {
        self.refuse_now(stream_id, expected, command_id, refusal)
    }

    async fn wait_for_events(&self, after: Position) -> Result<(), StoreError> {
        let mut head = self.head.subscribe();
        // Appends notify only while someone is subscribed, so the watched value may lag
        // behind the log: check the log now that every later append will notify.
        if self.read().log.len() as u64 > after.0 {
            return Ok(());
        }
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = head.wait_for(|&head| head > after).await;
        Ok(())
    }
}

/// Checkpoints kept in memory, next to the events: they live and die with the store.
impl CheckpointStore for MemStore {
    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Position>, StoreError> {
        Ok(self.checkpoints().get(projection).copied())
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        position: Position,
    ) -> Result<(), StoreError> {
        self.checkpoints().insert(projection.to_owned(), position);
        Ok(())
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        let partitions = format!("{projection}#");
        let gone = |name: &String| name == projection || name.starts_with(&partitions);
        self.checkpoints().retain(|name, _| !gone(name));
        lock(&self.parked).retain(|name, _| !gone(name));
        Ok(())
    }

    async fn park_events(&self, consumer: &str, parked: &[ParkedEvent]) -> Result<(), StoreError> {
        let mut all = lock(&self.parked);
        let mine = all.entry(consumer.to_owned()).or_default();
        for event in parked {
            mine.insert(event.position, event.clone());
        }
        Ok(())
    }

    async fn unpark_events(
        &self,
        consumer: &str,
        positions: &[Position],
    ) -> Result<(), StoreError> {
        if let Some(mine) = lock(&self.parked).get_mut(consumer) {
            for position in positions {
                mine.remove(position);
            }
        }
        Ok(())
    }

    async fn parked_events(&self, consumer: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        Ok(lock(&self.parked)
            .get(consumer)
            .map(|mine| mine.values().cloned().collect())
            .unwrap_or_default())
    }
}

/// Leases for the workers of partitioned consumers in this process (see
/// [`ProjectionRunner::run_partitioned`](es_core::ProjectionRunner::run_partitioned)).
impl LeaseStore for MemStore {
    async fn heartbeat(
        &self,
        consumer: &str,
        worker: Uuid,
        count: u32,
        lease: Duration,
    ) -> Result<Heartbeat, StoreError> {
        Ok(lock(&self.leases).heartbeat(consumer, worker, count, lease))
    }

    async fn release(&self, consumer: &str, worker: Uuid) -> Result<(), StoreError> {
        lock(&self.leases).release(consumer, worker);
        Ok(())
    }

    async fn forget_leases(&self, consumer: &str) -> Result<(), StoreError> {
        lock(&self.leases).forget(consumer);
        Ok(())
    }
}

/// Snapshots kept in memory: the latest of each stream.
impl SnapshotStore for MemStore {
    async fn load_snapshot(&self, stream_id: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        Ok(lock(&self.snapshots).get(stream_id).cloned())
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let mut snapshots = lock(&self.snapshots);
        match snapshots.get(&snapshot.stream_id) {
            Some(newer) if newer.version > snapshot.version => {}
            _ => {
                snapshots.insert(snapshot.stream_id.clone(), snapshot);
            }
        }
        Ok(())
    }
}

impl MemStore {
    fn checkpoints(&self) -> MutexGuard<'_, HashMap<String, Position>> {
        lock(&self.checkpoints)
    }
}

/// A side map, even if a panic poisoned its lock: map operations cannot leave a map
/// half-changed, so it is still sound.
fn lock<T>(map: &Mutex<T>) -> MutexGuard<'_, T> {
    map.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for MemStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("MemStore")
            .field("events", &state.log.len())
            .field("streams", &state.streams.len())
            .finish()
    }
}
