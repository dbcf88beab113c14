//! Snapshots: an aggregate's state saved at a version, so loading it replays only the events
//! after that version.
//!
//! A snapshot is a cache of a fold, never a source of truth: the events stay the record. A
//! [`Repository`](crate::Repository) given a [`SnapshotStore`] with
//! [`with_snapshots`](crate::Repository::with_snapshots) saves the state every N events
//! ([`Repository::with_snapshot_every`](crate::Repository::with_snapshot_every), or the
//! aggregate's own `#[aggregate(snapshot_every = N)]`), and loads the latest snapshot plus
//! the events after it. A snapshot that cannot be used is ignored and the stream is replayed in full: one
//! whose schema version differs from the aggregate's `snapshot_version` (the state's shape
//! changed), one that no longer decodes, one that fails to load, or one ahead of the
//! version asked for. A bad snapshot costs time, never a wrong state.
//!
//! ```
//! # use es_core::prelude::*;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Debug, Serialize, Deserialize)]
//! # #[event(name = "counter.incremented")]
//! # struct Incremented { by: u32 }
//! # #[derive(Command, Debug)]
//! # struct Increment { #[id] id: u64, by: u32 }
//! # #[derive(Debug, thiserror::Error)]
//! # #[error("never")]
//! # struct Never;
//! // The state must be serde-serializable to be snapshotted.
//! #[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
//! #[aggregate(name = "counter", id = u64, error = Never,
//!             events(Incremented), commands(Increment))]
//! struct Counter { total: u64 }
//! # impl Apply<Incremented> for Counter {
//! #     fn apply(&mut self, event: &Incremented) { self.total += u64::from(event.by); }
//! # }
//! # impl Handle<Increment> for Counter {
//! #     fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, Never> {
//! #         Ok(vec![Incremented { by: cmd.by }.into()])
//! #     }
//! # }
//! use es_core::snapshot::SnapshotStore;
//! use es_memstore::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemStore::new();
//! let counters = Repository::<Counter, _>::new(store.clone())
//!     .with_snapshots(store.clone())
//!     .with_snapshot_every(10);
//! for _ in 0..25 {
//!     counters.execute(Increment { id: 1, by: 1 }).await?;
//! }
//! let stream = counters.stream_id(&1)?;
//! let snapshot = store.load_snapshot(&stream).await?.expect("taken at version 20");
//! assert_eq!(snapshot.version, Version(20));
//!
//! // Loading reads the snapshot and the 5 events after it.
//! let counter = counters.load(&1).await?;
//! assert_eq!((counter.state.total, counter.version), (25, Version(25)));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::future::Future;
use std::time::SystemTime;

use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aggregate::Aggregate;
use crate::codec::Codec;
use crate::envelope::{StreamId, Version};
use crate::store::StoreError;

/// How many events apart a repository takes snapshots, unless set with
/// [`Repository::with_snapshot_every`](crate::Repository::with_snapshot_every) or the
/// aggregate's `snapshot_every`.
pub const DEFAULT_SNAPSHOT_EVERY: u64 = 100;

/// An aggregate's encoded state after the events up to `version` of its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The stream version the state includes: loading continues after it.
    pub version: Version,
    /// The aggregate's `snapshot_version` when it was taken: the shape of `payload`.
    pub schema_version: u32,
    /// The state, encoded with the repository's codec.
    pub payload: Bytes,
    /// When it was taken.
    pub taken_at: SystemTime,
}

impl Snapshot {
    /// A snapshot of `stream_id` at `version`, taken now.
    #[must_use]
    pub fn new(stream_id: StreamId, version: Version, schema_version: u32, payload: Bytes) -> Self {
        Self {
            stream_id,
            version,
            schema_version,
            payload,
            taken_at: SystemTime::now(),
        }
    }
}

/// Where snapshots are kept: the latest one of each stream.
///
/// Stores usually implement this next to [`EventStore`](crate::EventStore), so one handle
/// serves both; a snapshot store must belong to the event store whose streams it snapshots.
pub trait SnapshotStore: Clone + Send + Sync + 'static {
    /// The latest snapshot of `stream_id`, if any.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when the stored
    /// snapshot cannot be read back (a repository then replays the stream instead).
    fn load_snapshot(
        &self,
        stream_id: &StreamId,
    ) -> impl Future<Output = Result<Option<Snapshot>, StoreError>> + Send;

    /// Keeps `snapshot` as the latest of its stream, unless the store holds one at a higher
    /// version already (a slower writer must not replace a newer snapshot).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails; the previous snapshot then stays.
    fn save_snapshot(
        &self,
        snapshot: Snapshot,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// How a repository reads and writes snapshots of `A` with codec `C`: the repository's
/// snapshot parameter. Implemented by [`NoSnapshots`] (the default) and by [`Snapshots`]
/// (set with [`Repository::with_snapshots`](crate::Repository::with_snapshots)), and sealed:
/// a new place to keep snapshots is a [`SnapshotStore`], which [`Snapshots`] wraps.
pub trait Snapshotting<A: Aggregate, C: Codec>:
    sealed::Sealed + Clone + Send + Sync + 'static
{
    /// The state and version of the latest usable snapshot of `stream_id` at or below
    /// `at_most`; `None` when there is none, or it cannot be used.
    fn load(
        &self,
        codec: &C,
        stream_id: &StreamId,
        at_most: Version,
    ) -> impl Future<Output = Option<(A, Version)>> + Send;

    /// Saves `state` as the snapshot of `stream_id` at `version`. Failures are ignored: the
    /// events are stored already, and a missing snapshot only costs replay time.
    fn save(
        &self,
        codec: &C,
        stream_id: &StreamId,
        version: Version,
        state: &A,
    ) -> impl Future<Output = ()> + Send;
}

mod sealed {
    /// Keeps [`Snapshotting`](super::Snapshotting) to this crate's two impls.
    pub trait Sealed {}
    impl Sealed for super::NoSnapshots {}
    impl<T> Sealed for super::Snapshots<T> {}
}

/// No snapshots: every load replays the whole stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSnapshots;

impl<A: Aggregate, C: Codec> Snapshotting<A, C> for NoSnapshots {
    async fn load(&self, _: &C, _: &StreamId, _: Version) -> Option<(A, Version)> {
        None
    }

    async fn save(&self, _: &C, _: &StreamId, _: Version, _: &A) {}
}

/// Snapshots kept in the [`SnapshotStore`] `T`, for aggregates whose state is
/// serde-serializable.
#[derive(Debug, Clone)]
pub struct Snapshots<T> {
    store: T,
}

impl<T> Snapshots<T> {
    /// Snapshots kept in `store`.
    pub fn new(store: T) -> Self {
        Self { store }
    }

    /// The snapshot store.
    pub fn store(&self) -> &T {
        &self.store
    }
}

impl<A, C, T> Snapshotting<A, C> for Snapshots<T>
where
    A: Aggregate + Serialize + DeserializeOwned,
    C: Codec,
    T: SnapshotStore,
{
    async fn load(
        &self,
        codec: &C,
        stream_id: &StreamId,
        at_most: Version,
    ) -> Option<(A, Version)> {
        // Any failure means a full replay, which is always right.
        let snapshot = self.store.load_snapshot(stream_id).await.ok()??;
        if snapshot.schema_version != A::SNAPSHOT_VERSION
            || snapshot.version > at_most
            || snapshot.stream_id != *stream_id
        {
            return None;
        }
        let state = codec.decode::<A>(&snapshot.payload).ok()?;
        Some((state, snapshot.version))
    }

    async fn save(&self, codec: &C, stream_id: &StreamId, version: Version, state: &A) {
        let Ok(payload) = codec.encode(state) else {
            return;
        };
        let snapshot = Snapshot::new(
            stream_id.clone(),
            version,
            A::SNAPSHOT_VERSION,
            payload.into(),
        );
        let _ignored = self.store.save_snapshot(snapshot).await;
    }
}
