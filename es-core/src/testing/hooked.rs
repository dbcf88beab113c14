//! Store wrappers for tests: change what one or two methods of a store do (count reads,
//! inject a fault, interleave another writer) and pass the rest through. Checkpoints,
//! snapshots, leases and process managers' storage pass through unhooked, so a hooked store
//! serves wherever its inner store does.
//!
//! Implement [`StoreHooks`] for a type holding the test's state, overriding only the methods
//! it changes, and wrap the store in [`Hooked`]:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use es_core::testing::hooked::{Hooked, StoreHooks};
//! use es_core::{EventStore, Position, RecordedEvent, StoreError};
//! use es_memstore::MemStore;
//!
//! /// Counts the calls of `read_all`.
//! #[derive(Debug, Clone, Default)]
//! struct CountReads(Arc<AtomicUsize>);
//!
//! impl<S: EventStore> StoreHooks<S> for CountReads {
//!     async fn read_all(
//!         &self,
//!         inner: &S,
//!         after: Position,
//!         max_count: usize,
//!     ) -> Result<Vec<RecordedEvent>, StoreError> {
//!         self.0.fetch_add(1, Ordering::SeqCst);
//!         inner.read_all(after, max_count).await
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = Hooked::new(MemStore::new(), CountReads::default());
//! store.read_all(Position::START, 10).await?;
//! assert_eq!(store.hooks.0.load(Ordering::SeqCst), 1);
//! # Ok::<_, StoreError>(())
//! # }).unwrap();
//! ```

use std::future::Future;

use bytes::Bytes;
use uuid::Uuid;

use std::time::{Duration, SystemTime};

use crate::envelope::{NewEvent, Position, RecordedEvent, StreamId, Version};

use crate::process::{InstanceRow, ProcessStore, ProcessWork, TimerRow};
use crate::projection::{Committed, Heartbeat, LeaseStore, ParkedEvent};
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::{
    Appended, CheckpointInfo, CheckpointStore, EventStore, ExpectedVersion, Inspect, Recorded,
    StoreError, StreamInfo,
};

/// What a [`Hooked`] store does in each [`EventStore`] method, given the inner store. Every
/// method passes the call through unless overridden. `visit_stream` and `subscribe` are
/// the trait's provided methods, so they go through `read_stream` and `read_all` here.
pub trait StoreHooks<S: EventStore>: Clone + Send + Sync + 'static {
    /// [`EventStore::append`].
    fn append(
        &self,
        inner: &S,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        inner.append(stream_id, expected, events)
    }

    /// [`EventStore::read_stream`].
    fn read_stream(
        &self,
        inner: &S,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        inner.read_stream(stream_id, from, max_count)
    }

    /// [`EventStore::read_all`].
    fn read_all(
        &self,
        inner: &S,
        after: Position,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        inner.read_all(after, max_count)
    }

    /// [`EventStore::find_command`].
    fn find_command(
        &self,
        inner: &S,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<Recorded>, StoreError>> + Send {
        inner.find_command(stream_id, command_id)
    }

    /// [`EventStore::refuse`].
    fn refuse(
        &self,
        inner: &S,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        inner.refuse(stream_id, expected, command_id, refusal)
    }

    /// [`EventStore::stream_version`].
    fn stream_version(
        &self,
        inner: &S,
        stream_id: &StreamId,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send {
        inner.stream_version(stream_id)
    }

    /// [`EventStore::wait_for_events`].
    fn wait_for_events(
        &self,
        inner: &S,
        after: Position,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        inner.wait_for_events(after)
    }
}

/// An [`EventStore`] that runs every call through `hooks`, around `inner`.
#[derive(Debug, Clone)]
pub struct Hooked<S, H> {
    /// The wrapped store.
    pub inner: S,
    /// The test's hooks and their state.
    pub hooks: H,
}

impl<S, H> Hooked<S, H> {
    /// `inner`, with every call going through `hooks`.
    pub fn new(inner: S, hooks: H) -> Self {
        Self { inner, hooks }
    }
}

impl<S: EventStore, H: StoreHooks<S>> EventStore for Hooked<S, H> {
    fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send {
        self.hooks.append(&self.inner, stream_id, expected, events)
    }

    fn read_stream(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        self.hooks
            .read_stream(&self.inner, stream_id, from, max_count)
    }

    fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        self.hooks.read_all(&self.inner, after, max_count)
    }

    fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<Recorded>, StoreError>> + Send {
        self.hooks.find_command(&self.inner, stream_id, command_id)
    }

    fn refuse(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send {
        self.hooks
            .refuse(&self.inner, stream_id, expected, command_id, refusal)
    }

    fn stream_version(
        &self,
        stream_id: &StreamId,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send {
        self.hooks.stream_version(&self.inner, stream_id)
    }

    fn wait_for_events(
        &self,
        after: Position,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.hooks.wait_for_events(&self.inner, after)
    }
}

/// Checkpoints pass through to the inner store, unhooked.
impl<S: CheckpointStore, H: Clone + Send + Sync + 'static> CheckpointStore for Hooked<S, H> {
    fn load_checkpoint(
        &self,
        projection: &str,
    ) -> impl Future<Output = Result<Option<Position>, StoreError>> + Send {
        self.inner.load_checkpoint(projection)
    }

    fn save_checkpoint(
        &self,
        projection: &str,
        position: Position,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.save_checkpoint(projection, position)
    }

    fn delete_checkpoint(
        &self,
        projection: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.delete_checkpoint(projection)
    }

    fn park_events(
        &self,
        consumer: &str,
        parked: &[ParkedEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.park_events(consumer, parked)
    }

    fn unpark_events(
        &self,
        consumer: &str,
        positions: &[Position],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.unpark_events(consumer, positions)
    }

    fn parked_events(
        &self,
        consumer: &str,
    ) -> impl Future<Output = Result<Vec<ParkedEvent>, StoreError>> + Send {
        self.inner.parked_events(consumer)
    }
}

/// Process managers' storage passes through to the inner store, unhooked.
impl<S: ProcessStore, H: StoreHooks<S>> ProcessStore for Hooked<S, H> {
    fn load_instances(
        &self,
        process: &str,
        keys: &[String],
    ) -> impl Future<Output = Result<Vec<InstanceRow>, StoreError>> + Send {
        self.inner.load_instances(process, keys)
    }

    fn commit_process(
        &self,
        process: &str,
        work: ProcessWork,
    ) -> impl Future<Output = Result<Committed, StoreError>> + Send {
        self.inner.commit_process(process, work)
    }

    fn due_timers(
        &self,
        process: &str,
        now: SystemTime,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TimerRow>, StoreError>> + Send {
        self.inner.due_timers(process, now, limit)
    }

    fn next_timer(
        &self,
        process: &str,
    ) -> impl Future<Output = Result<Option<SystemTime>, StoreError>> + Send {
        self.inner.next_timer(process)
    }

    fn parked_instances(
        &self,
        process: &str,
    ) -> impl Future<Output = Result<Vec<InstanceRow>, StoreError>> + Send {
        self.inner.parked_instances(process)
    }

    fn reset_process(&self, process: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.reset_process(process)
    }
}

/// Snapshots pass through to the inner store, unhooked.
impl<S: SnapshotStore, H: Clone + Send + Sync + 'static> SnapshotStore for Hooked<S, H> {
    fn load_snapshot(
        &self,
        stream_id: &StreamId,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send {
        self.inner.load_snapshot(stream_id)
    }

    fn save_snapshot(
        &self,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.save_snapshot(snapshot)
    }
}

/// Leases pass through to the inner store, unhooked.
impl<S: LeaseStore, H: Clone + Send + Sync + 'static> LeaseStore for Hooked<S, H> {
    fn heartbeat(
        &self,
        consumer: &str,
        worker: Uuid,
        count: u32,
        lease: Duration,
    ) -> impl Future<Output = Result<Heartbeat, StoreError>> + Send {
        self.inner.heartbeat(consumer, worker, count, lease)
    }

    fn release(
        &self,
        consumer: &str,
        worker: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.release(consumer, worker)
    }

    fn forget_leases(&self, consumer: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        self.inner.forget_leases(consumer)
    }
}

/// Listings pass through to the inner store, unhooked.
impl<S: Inspect, H: StoreHooks<S>> Inspect for Hooked<S, H> {
    fn streams(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StreamInfo>, StoreError>> + Send {
        self.inner.streams(after, limit)
    }

    fn head(&self) -> impl Future<Output = Result<Position, StoreError>> + Send {
        self.inner.head()
    }

    fn checkpoints(&self) -> impl Future<Output = Result<Vec<CheckpointInfo>, StoreError>> + Send {
        self.inner.checkpoints()
    }
}
