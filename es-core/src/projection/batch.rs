//! One batch of a [`ProjectionRunner`]: read once for the partitions that continue after one
//! position, projected per partition, committed with each partition's checkpoint.

use std::collections::BTreeMap;

use crate::codec::Codec;
use crate::envelope::{Position, RecordedEvent};
use crate::projection::control::Cursors;
use crate::projection::dispatch::project_batch;
use crate::projection::runner::{name, store_error};
use crate::projection::{Advance, Committed, Partition, ProjectionError, ProjectionRunner, Target};
use crate::store::EventStore;

impl<T: Target, S: EventStore, C: Codec> ProjectionRunner<T, S, C> {
    /// Processes one batch of each of `partitions` after where it continues (see
    /// [`start`](Self::start)): the partitions that continue after one position share one
    /// read of the log. Returns whether there was a batch for any of them.
    pub(super) async fn step(
        &self,
        cursors: &mut Cursors,
        partitions: &[Partition],
    ) -> Result<bool, ProjectionError> {
        // In order, so that two workers of this process never wait for each other's locks.
        let mut locks = Vec::with_capacity(partitions.len());
        for partition in partitions {
            locks.push(self.shared.control.partition_lock(*partition));
        }
        let mut held = Vec::with_capacity(locks.len());
        for lock in &locks {
            held.push(lock.lock().await);
        }
        let mut from: BTreeMap<Position, Vec<Partition>> = BTreeMap::new();
        for partition in partitions {
            let position = self.start(cursors, *partition).await?;
            from.entry(position).or_default().push(*partition);
        }
        let mut stepped = false;
        for (position, partitions) in from {
            let batch = self
                .store
                .read_all(position, self.batch_size)
                .await
                .map_err(store_error::<T>)?;
            if batch.is_empty() {
                continue;
            }
            stepped = true;
            for partition in partitions {
                self.commit_batch(cursors, partition, position, &batch)
                    .await?;
            }
        }
        Ok(stepped)
    }

    /// Projects the events of `batch` (read after `position`) that are `partition`'s, and
    /// commits them with the partition's checkpoint moved past the whole batch.
    async fn commit_batch(
        &self,
        cursors: &mut Cursors,
        partition: Partition,
        position: Position,
        batch: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let Some(read) = batch.last().map(|event| event.position) else {
            return Ok(());
        };
        let mine: Vec<&RecordedEvent> = batch
            .iter()
            .filter(|event| partition.contains(&event.stream_id))
            .collect();
        let (changes, projected, failure) = self.project(&mine);
        let last = match (&failure, projected.checked_sub(1)) {
            // Everything projected: the checkpoint moves past the whole batch, the other
            // partitions' events included.
            (None, _) => read,
            (Some(_), Some(i)) => mine[i].position,
            // The partition's first event failed: nothing to commit. (A batch that projected
            // nothing has a failure; were it missing, it is reported as a halt rather than a
            // panic.)
            (Some(_), None) => {
                let failure = failure.unwrap_or(ProjectionError::Halted {
                    projection: name::<T>(),
                    position,
                });
                return Err(self.fail(failure, position));
            }
        };
        let advance = Advance::new(position, last).in_partition(partition);
        if T::TRANSACTIONAL {
            // Until the outcome is known, the committed checkpoint is the truth.
            cursors.set(partition, None);
            match self.shared.target.commit(changes, advance).await {
                Ok(Committed::Done) => {}
                Ok(Committed::Moved) => {
                    // Another runner got there first: continue from where it got to, and
                    // leave the rest of this batch (and its failure, if any) to the next read.
                    self.start(cursors, partition).await?;
                    return Ok(());
                }
                Err(error) => return Err(store_error::<T>(error)),
            }
            cursors.set(partition, Some(last));
            self.shared.control.publish_partition(partition, last);
        } else {
            // The state holds the batch now: advance before saving, so that a failed save
            // (reported below) is followed by the next batch, not by the same one again.
            // The next successful save covers this batch too.
            cursors.set(partition, Some(last));
            self.shared.control.publish_partition(partition, last);
            // A target changed in place has nothing to refuse.
            self.shared
                .target
                .commit(changes, advance)
                .await
                .map_err(store_error::<T>)?;
        }
        match failure {
            None => Ok(()),
            Some(failure) => Err(self.fail(failure, last)),
        }
    }

    /// Projects `batch`, stopping at the first failure: the changes to commit, how many
    /// events they hold, and the failure.
    fn project(&self, batch: &[&RecordedEvent]) -> (T::Changes, usize, Option<ProjectionError>) {
        let target = &self.shared.target;
        let (changes, (projected, failure)) =
            target.project(|projection| project_batch(projection, &self.codec, batch));
        if T::TRANSACTIONAL && matches!(failure, Some(ProjectionError::Panicked { .. })) {
            // The changes may hold part of the event that panicked: project the events
            // before it again, into fresh changes. `On` is pure, so they project as before;
            // if they do not, nothing of the batch is committed.
            drop(changes);
            let (changes, (again, refailure)) = target
                .project(|projection| project_batch(projection, &self.codec, &batch[..projected]));
            let projected = if refailure.is_none() { again } else { 0 };
            return (changes, projected, failure);
        }
        (changes, projected, failure)
    }

    /// The error a batch stopped on, after `position`: a panic halts a target changed in
    /// place.
    fn fail(&self, failure: ProjectionError, position: Position) -> ProjectionError {
        if !T::TRANSACTIONAL && matches!(failure, ProjectionError::Panicked { .. }) {
            self.shared.control.halt(position);
        }
        failure
    }
}
