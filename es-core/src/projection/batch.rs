//! One batch of a [`ProjectionRunner`]: read once for the partitions that continue after one
//! position, projected per partition, committed with each partition's checkpoint.

use std::collections::{BTreeMap, HashSet};
use std::time::SystemTime;

use crate::codec::Codec;
use crate::envelope::{Position, RecordedEvent};
use crate::projection::control::{Cursors, ParkedSet};
use crate::projection::dispatch::project_batch;
use crate::projection::runner::{name, store_error};
use crate::projection::{
    Advance, Committed, ParkedEvent, Parking, Partition, Projection, ProjectionError,
    ProjectionRunner, Target,
};
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
        let (changes, last, parked, failure) = match self.parking {
            None => {
                let (changes, projected, failure) = self.project(&mine);
                let last = match (&failure, projected.checked_sub(1)) {
                    // Everything projected: the checkpoint moves past the whole batch, the
                    // other partitions' events included.
                    (None, _) => read,
                    (Some(_), Some(i)) => mine[i].position,
                    // The partition's first event failed: nothing to commit. (A batch that
                    // projected nothing has a failure; were it missing, it is reported as a
                    // halt rather than a panic.)
                    (Some(_), None) => {
                        let failure = failure.unwrap_or(ProjectionError::Halted {
                            projection: name::<T>(),
                            position,
                        });
                        return Err(self.fail(failure, position));
                    }
                };
                (changes, last, Vec::new(), failure)
            }
            Some(parking) => {
                let Some(set) = cursors.parked(partition) else {
                    // `start` loads it for a runner that parks; were it missing, the batch is
                    // read again after loading it.
                    cursors.set(partition, None);
                    return Ok(());
                };
                let (changes, parked, halt) = self.project_parking(set, &mine, parking);
                match halt {
                    None => (changes, read, parked, None),
                    // Only a target changed in place stops, at an event that panicked: its
                    // checkpoint stays before it.
                    Some((at, failure)) => {
                        let before = Position(at.0.saturating_sub(1)).max(position);
                        (changes, before, parked, Some(failure))
                    }
                }
            }
        };
        let advance = Advance::new(position, last)
            .in_partition(partition)
            .with_parked(parked);
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
    pub(super) fn project(
        &self,
        batch: &[&RecordedEvent],
    ) -> (T::Changes, usize, Option<ProjectionError>) {
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

    /// Projects `mine` for a runner that parks, with `set` what the partition parked so far
    /// (updated here): events parked already are skipped; with
    /// [`Parking::holds_streams`], an event of a stream held behind a parked event is parked
    /// as waiting; an event that fails is parked with its error. Returns the changes, the
    /// events to park, and, for a target changed in place whose `On` impl panicked, where it
    /// stopped.
    fn project_parking(
        &self,
        set: &mut ParkedSet,
        mine: &[&RecordedEvent],
        parking: Parking,
    ) -> (
        T::Changes,
        Vec<ParkedEvent>,
        Option<(Position, ProjectionError)>,
    ) {
        let now = SystemTime::now();
        let mut parked = Vec::new();
        let mut candidates: Vec<&RecordedEvent> = Vec::with_capacity(mine.len());
        for event in mine {
            if set.positions.contains(&event.position) {
                continue;
            }
            if parking.holds_streams()
                && let Some(behind) = set.held.get(&event.stream_id).copied()
            {
                set.positions.insert(event.position);
                parked.push(waiting(event, behind, now));
                continue;
            }
            candidates.push(event);
        }
        loop {
            let (changes, (mut failures, panic)) = self.shared.target.project(|projection| {
                project_each(
                    projection,
                    &self.codec,
                    &candidates,
                    parking.holds_streams(),
                )
            });
            // A transactional target's changes may hold part of an event that panicked: it is
            // parked too, and the others are projected again into fresh changes (`On` is
            // pure). A target changed in place stops there.
            let redo = panic.is_some() && T::TRANSACTIONAL;
            let halt = match panic {
                Some(panicked) if T::TRANSACTIONAL => {
                    failures.push(panicked);
                    None
                }
                Some((i, failure)) => Some((candidates[i].position, failure)),
                None => None,
            };
            let stop = halt.as_ref().map_or(Position(u64::MAX), |(at, _)| *at);
            for (i, failure) in failures {
                let event = candidates[i];
                if event.position < stop {
                    set.positions.insert(event.position);
                    set.held
                        .entry(event.stream_id.clone())
                        .or_insert(event.position);
                    parked.push(failed(event, &failure, now));
                }
            }
            if parking.holds_streams() {
                // Events of a stream after its parked event wait behind it; those before it
                // are projected.
                for event in &candidates {
                    if event.position < stop
                        && !set.positions.contains(&event.position)
                        && let Some(behind) = set.held.get(&event.stream_id).copied()
                        && behind < event.position
                    {
                        set.positions.insert(event.position);
                        parked.push(waiting(event, behind, now));
                    }
                }
            }
            if redo {
                drop(changes);
                candidates.retain(|event| !set.positions.contains(&event.position));
                continue;
            }
            parked.retain(|event| event.position < stop);
            parked.sort_by_key(|event| event.position);
            return (changes, parked, halt);
        }
    }

    /// The error a batch stopped on, after `position`: a panic halts a target changed in
    /// place.
    pub(super) fn fail(&self, failure: ProjectionError, position: Position) -> ProjectionError {
        if !T::TRANSACTIONAL && matches!(failure, ProjectionError::Panicked { .. }) {
            self.shared.control.halt(position);
        }
        failure
    }
}

/// A failure of the event at an index of the candidates.
type Failed = (usize, ProjectionError);

/// Projects `candidates` one at a time, for a runner that parks: an event that does not
/// decode is left out and, when `hold` is set, so are the later events of its stream; a
/// panic stops. Returns the failures (by index) and the panic, if any.
fn project_each<P: Projection, C: Codec>(
    projection: &mut P,
    codec: &C,
    candidates: &[&RecordedEvent],
    hold: bool,
) -> (Vec<Failed>, Option<Failed>) {
    let mut failures = Vec::new();
    let mut held: HashSet<&str> = HashSet::new();
    for (i, event) in candidates.iter().enumerate() {
        if hold && held.contains(event.stream_id.as_str()) {
            continue;
        }
        match project_batch(projection, codec, std::slice::from_ref(event)).1 {
            None => {}
            Some(failure @ ProjectionError::Panicked { .. }) => {
                return (failures, Some((i, failure)));
            }
            Some(failure) => {
                held.insert(event.stream_id.as_str());
                failures.push((i, failure));
            }
        }
    }
    (failures, None)
}

/// `event`, parked because it failed with `failure`.
pub(super) fn failed(
    event: &RecordedEvent,
    failure: &ProjectionError,
    now: SystemTime,
) -> ParkedEvent {
    ParkedEvent::new(
        event.position,
        event.stream_id.clone(),
        event.name.clone(),
        failure.to_string(),
        true,
        now,
    )
}

/// `event`, parked to wait behind the parked event of its stream at `behind`.
fn waiting(event: &RecordedEvent, behind: Position, now: SystemTime) -> ParkedEvent {
    ParkedEvent::new(
        event.position,
        event.stream_id.clone(),
        event.name.clone(),
        format!("waits behind the parked event at position {behind} of its stream"),
        false,
        now,
    )
}
