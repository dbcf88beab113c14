//! What a store tells an operator about itself: its streams, its head and its consumers'
//! checkpoints. The inspector reads a store through this trait; the runtime never needs it.

use std::future::Future;
use std::time::SystemTime;

use crate::envelope::{Position, StreamId, Version};
use crate::store::{CheckpointStore, EventStore, StoreError};

/// One stream as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The stream.
    pub id: StreamId,
    /// Its version: the number of events it holds.
    pub version: Version,
    /// The global position of its last event.
    pub last_position: Position,
    /// When its last event was recorded.
    pub last_recorded_at: SystemTime,
}

impl StreamInfo {
    /// A stream at `version`, whose last event is at `last_position`, recorded at
    /// `last_recorded_at`.
    #[must_use]
    pub fn new(
        id: StreamId,
        version: Version,
        last_position: Position,
        last_recorded_at: SystemTime,
    ) -> Self {
        Self {
            id,
            version,
            last_position,
            last_recorded_at,
        }
    }
}

/// One stored checkpoint: how far a consumer (or one partition of it, `name#p/n`) has
/// processed the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointInfo {
    /// The checkpoint's name, as the consumer saves it.
    pub name: String,
    /// The position of the last event it processed.
    pub position: Position,
}

impl CheckpointInfo {
    /// The checkpoint `name` at `position`.
    #[must_use]
    pub fn new(name: impl Into<String>, position: Position) -> Self {
        Self {
            name: name.into(),
            position,
        }
    }
}

/// Listing what a store holds, for operators and tools.
///
/// Every method reads a consistent view at one moment; none changes the store.
pub trait Inspect: EventStore + CheckpointStore {
    /// Up to `limit` streams in stream-id order (byte order of the id), starting after
    /// `after` (`None` starts at the first). Streams with no events are not listed.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn streams(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StreamInfo>, StoreError>> + Send;

    /// The head of the log: the position of the last event a reader of
    /// [`read_all`](EventStore::read_all) can see now ([`Position::START`] when there is none).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails.
    fn head(&self) -> impl Future<Output = Result<Position, StoreError>> + Send;

    /// Every stored checkpoint, in name order.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn checkpoints(&self) -> impl Future<Output = Result<Vec<CheckpointInfo>, StoreError>> + Send;
}
