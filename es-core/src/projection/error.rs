//! [`ProjectionError`]: why a runner stopped.

use std::sync::Arc;
use std::time::Duration;

use crate::envelope::{Position, StreamId};
use crate::error::DecodeError;
use crate::store::StoreError;

/// Why a [`ProjectionRunner`] stopped. Every variant names the projection.
///
/// [`ProjectionRunner`]: crate::ProjectionRunner
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// An event the projection listens to did not decode. The checkpoint is at the event
    /// before it; the runner can be called again (and will meet the same event).
    #[error("projection {projection}: {source}")]
    Decode {
        /// The projection.
        projection: &'static str,
        /// Which event, where, and why.
        source: DecodeError,
    },
    /// The projection's `On` impl panicked. The checkpoint is at the event before. A runner
    /// whose target is changed in place (not [transactional](crate::projection::Target::TRANSACTIONAL),
    /// such as [`InMemory`](crate::projection::InMemory)) is halted, since its state may be
    /// half-updated: [`ProjectionRunner::rebuild`](crate::ProjectionRunner::rebuild) restarts it. A transactional target
    /// committed the events before it, and meets the same event again on the next call.
    #[error(
        "projection {projection} panicked on event {name:?} at position {position} \
         (stream {stream_id}): {message}"
    )]
    Panicked {
        /// The projection.
        projection: &'static str,
        /// The event's stream.
        stream_id: StreamId,
        /// The event's wire name.
        name: Arc<str>,
        /// The event's global position.
        position: Position,
        /// The panic message.
        message: String,
    },
    /// `catch_up`, `rebuild` or `run` was called while a `run` is live on this runner (or a
    /// clone of it); wait for positions with `wait_for` instead.
    #[error("projection {projection} is running live; use wait_for instead")]
    Running {
        /// The projection.
        projection: &'static str,
    },
    /// The runner was halted by an earlier panic; rebuild it to continue.
    #[error("projection {projection} is halted after a panic at position {position}; rebuild it")]
    Halted {
        /// The projection.
        projection: &'static str,
        /// The position of the last event processed.
        position: Position,
    },
    /// [`ProjectionRunner::wait_for`](crate::ProjectionRunner::wait_for) timed out.
    #[error(
        "projection {projection} did not reach position {waited_for} within {timeout:?} \
         (it is at {reached})"
    )]
    Timeout {
        /// The projection.
        projection: &'static str,
        /// The position waited for.
        waited_for: Position,
        /// The position processed when the time ran out.
        reached: Position,
        /// The time allowed.
        timeout: Duration,
    },
    /// The runner was split into partitions
    /// ([`with_partitions`](crate::ProjectionRunner::with_partitions)), and its target cannot
    /// be (see [`Target::PARTITIONABLE`](crate::projection::Target::PARTITIONABLE)).
    #[error("projection {projection} cannot run in {partitions} partitions; run it whole")]
    Unpartitionable {
        /// The projection.
        projection: &'static str,
        /// The partitions asked for.
        partitions: u32,
    },
    /// The runner parks events ([`with_parking`](crate::ProjectionRunner::with_parking)), and
    /// its target keeps no parked events (see
    /// [`Target::PARKING`](crate::projection::Target::PARKING)).
    #[error("projection {projection}'s target keeps no parked events; run it without parking")]
    Unparkable {
        /// The projection.
        projection: &'static str,
    },
    /// The consumer was processed split another way than the runner's partitions (its
    /// leases are kept for another count, or it has a whole checkpoint and no partition
    /// checkpoints): its checkpoints only that count reads. To change the count, stop every
    /// worker, forget the leases ([`LeaseStore::forget_leases`](crate::projection::LeaseStore::forget_leases))
    /// and rebuild.
    #[error(
        "projection {projection} was processed in {stored} partition(s), not {partitions}; \
         rebuild it to change the count"
    )]
    OtherPartitionCount {
        /// The projection.
        projection: &'static str,
        /// The runner's partition count.
        partitions: u32,
        /// The count the leases are kept for.
        stored: u32,
    },
    /// The event store or the target's storage failed. [`ProjectionRunner::run`](crate::ProjectionRunner::run)
    /// retries a [`StoreError::Backend`] under its retry policy before it returns one.
    #[error("projection {projection}: {source}")]
    Store {
        /// The projection.
        projection: &'static str,
        /// The store's error.
        source: StoreError,
    },
}
