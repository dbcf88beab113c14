//! The events a [`ProjectionRunner`] parked (see [`Parking`](crate::projection::Parking)): what
//! each partition parked, as its runner loads it; listing, retrying and dismissing them.

use std::time::SystemTime;

use crate::codec::Codec;
use crate::envelope::{Position, RecordedEvent, StreamId};
use crate::projection::batch::failed;
use crate::projection::control::{Cursors, ParkedSet};
use crate::projection::runner::{name, store_error};
use crate::projection::{
    Advance, Committed, ParkedEvent, Partition, ProjectionError, ProjectionRunner, Target,
};
use crate::store::{EventStore, StoreError};

/// What [`ProjectionRunner::retry_parked`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retried {
    /// The parked events applied, now in the read model.
    pub applied: usize,
    /// The parked events of the stream still parked: the one that failed again, and those
    /// after it.
    pub parked: usize,
}

impl<T: Target, S: EventStore, C: Codec> ProjectionRunner<T, S, C> {
    /// Every event the consumer parked, in all its partitions, in position order.
    ///
    /// # Errors
    /// [`ProjectionError::Store`] when the storage fails.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        let mut all = Vec::new();
        for partition in Partition::all(self.partitions.count()) {
            all.extend(
                self.shared
                    .target
                    .parked(partition)
                    .await
                    .map_err(store_error::<T>)?,
            );
        }
        all.sort_by_key(|event| event.position);
        Ok(all)
    }

    /// Applies the parked events of `stream`, in order, once the code they failed on is
    /// fixed: each is applied once, in one commit with its removal from the parked events.
    /// It stops at an event that fails again, whose record gets the new error; it and the
    /// events after it stay parked. A runner of this process (or a clone) sees the change
    /// at its next batch; a runner in another process, when it next loads its checkpoint or
    /// takes the partition.
    ///
    /// # Errors
    /// [`ProjectionError::Store`] when the storage fails, or when a parked position holds no
    /// event of `stream` ([`StoreError::Corrupt`]). For a target changed in place, a panic
    /// halts the runner as a batch's does.
    pub async fn retry_parked(&self, stream: &StreamId) -> Result<Retried, ProjectionError> {
        self.unpark(stream, true).await
    }

    /// Drops the parked events of `stream` without applying them; returns how many.
    ///
    /// # Errors
    /// [`ProjectionError::Store`] when the storage fails.
    pub async fn dismiss_parked(&self, stream: &StreamId) -> Result<usize, ProjectionError> {
        self.unpark(stream, false).await.map(|done| done.applied)
    }

    /// Retries (`apply`) or dismisses the parked events of `stream`, under the lock of its
    /// partition, committed without moving its checkpoint (again if a batch moved it
    /// meanwhile).
    async fn unpark(&self, stream: &StreamId, apply: bool) -> Result<Retried, ProjectionError> {
        let partition = Partition::of(stream, self.partitions.count());
        let lock = self.shared.control.partition_lock(partition);
        let _processing = lock.lock().await;
        loop {
            let checkpoint = self.partition_checkpoint(partition).await?;
            let parked: Vec<ParkedEvent> = self
                .shared
                .target
                .parked(partition)
                .await
                .map_err(store_error::<T>)?
                .into_iter()
                .filter(|event| event.stream_id == *stream)
                .collect();
            if parked.is_empty() {
                return Ok(Retried {
                    applied: 0,
                    parked: 0,
                });
            }
            let positions: Vec<Position> = parked.iter().map(|event| event.position).collect();
            let (changes, done, refailed, failure) = if apply {
                let events = self.read_parked(&parked).await?;
                let refs: Vec<&RecordedEvent> = events.iter().collect();
                let (changes, projected, failure) = self.project(&refs);
                let refailed = failure
                    .as_ref()
                    .map(|failure| failed(&events[projected], failure, SystemTime::now()));
                (changes, projected, refailed, failure)
            } else {
                let (changes, ()) = self.shared.target.project(|_| ());
                (changes, positions.len(), None, None)
            };
            let advance = Advance::new(checkpoint, checkpoint)
                .in_partition(partition)
                .with_unparked(positions[..done].to_vec())
                .with_parked(refailed.into_iter().collect());
            match self.shared.target.commit(changes, advance).await {
                Ok(Committed::Done) => {}
                // A batch moved the checkpoint meanwhile: do it again from there.
                Ok(Committed::Moved) => continue,
                Err(error) => return Err(store_error::<T>(error)),
            }
            self.shared.control.parked_changed();
            if let Some(failure) = failure {
                let failure = self.fail(failure, checkpoint);
                if matches!(failure, ProjectionError::Panicked { .. }) && !T::TRANSACTIONAL {
                    return Err(failure);
                }
            }
            return Ok(Retried {
                applied: done,
                parked: positions.len() - done,
            });
        }
    }

    /// Loads what `partition` has parked into `cursors`.
    pub(super) async fn load_parked(
        &self,
        cursors: &mut Cursors,
        partition: Partition,
    ) -> Result<(), ProjectionError> {
        let generation = self.shared.control.parked_generation();
        let parked = self
            .shared
            .target
            .parked(partition)
            .await
            .map_err(store_error::<T>)?;
        let mut set = ParkedSet {
            generation,
            ..ParkedSet::default()
        };
        for event in parked {
            set.positions.insert(event.position);
            let held = set.held.entry(event.stream_id).or_insert(event.position);
            *held = (*held).min(event.position);
        }
        cursors.set_parked(partition, set);
        Ok(())
    }

    /// The stored events at the positions of `parked`.
    async fn read_parked(
        &self,
        parked: &[ParkedEvent],
    ) -> Result<Vec<RecordedEvent>, ProjectionError> {
        let mut events = Vec::with_capacity(parked.len());
        for event in parked {
            let after = Position(event.position.0.saturating_sub(1));
            let found = self
                .store
                .read_all(after, 1)
                .await
                .map_err(store_error::<T>)?
                .into_iter()
                .next()
                .filter(|found| {
                    found.position == event.position && found.stream_id == event.stream_id
                });
            let Some(found) = found else {
                return Err(store_error::<T>(StoreError::Corrupt {
                    location: format!(
                        "parked event of projection {} at position {}",
                        name::<T>(),
                        event.position
                    ),
                    problem: format!("no event of stream {} at that position", event.stream_id),
                }));
            };
            events.push(found);
        }
        Ok(events)
    }
}
