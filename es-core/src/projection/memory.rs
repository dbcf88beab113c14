//! [`InMemory`]: the target of a read model kept in the runner's memory.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};

use crate::envelope::Position;
use crate::projection::{
    Advance, Committed, IntoTarget, ParkedEvent, Partition, Projection, Target,
};
use crate::store::{CheckpointStore, NoCheckpoints, StoreError};

/// A read model kept in memory: the projection value itself, changed in place by each batch,
/// and read through [`read`](Self::read) (or
/// [`ProjectionRunner::read`](crate::ProjectionRunner::read)).
///
/// Without checkpoints (the default, [`NoCheckpoints`]) the read model is rebuilt by replay
/// each time a runner starts, which is right for state that lives only in the runner.
/// [`with_checkpoints`](Self::with_checkpoints) saves the position after each batch, for
/// state that outlives the runner (a shared map, a file): the runner then resumes after the
/// saved position and never hands an event to the projection twice, as long as it is stopped
/// through its API (a future dropped in the middle of a checkpoint write may repeat that
/// batch). State in a database should commit its rows with its checkpoint instead (a table
/// target, such as es-postgres's `PgTables`), so that not even a crash can repeat a batch.
///
/// Not [transactional](Target::TRANSACTIONAL): a panic in an `On` impl may leave part of an
/// event's changes in the state, so it halts the runner until a rebuild.
///
/// ```
/// # use es_core::prelude::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Debug, Serialize, Deserialize)]
/// # #[event(name = "tick")]
/// # struct Tick;
/// #[derive(Projection, Default, Debug)]
/// #[projection(name = "ticks", events(Tick))]
/// struct Ticks { seen: u64 }
/// # impl On<Tick> for Ticks { fn on(&mut self, _: &Tick, _: &EventMeta) { self.seen += 1; } }
///
/// use es_core::projection::InMemory;
/// use es_memstore::MemStore;
///
/// let store = MemStore::new();
/// // The same as `ProjectionRunner::new(store.clone(), Ticks::default())`, with checkpoints.
/// let ticks = ProjectionRunner::new(
///     store.clone(),
///     InMemory::new(Ticks::default()).with_checkpoints(store.clone()),
/// );
/// assert_eq!(ticks.read().seen, 0);
/// ```
pub struct InMemory<P, K = NoCheckpoints> {
    state: RwLock<P>,
    checkpoints: K,
    /// The parked events of each checkpoint name, kept here too: without checkpoints they
    /// live only here, as the state does.
    parked: Mutex<BTreeMap<String, BTreeMap<Position, ParkedEvent>>>,
}

impl<P: Projection> InMemory<P> {
    /// The read model `projection`, without checkpoints.
    pub fn new(projection: P) -> Self {
        Self {
            state: RwLock::new(projection),
            checkpoints: NoCheckpoints,
            parked: Mutex::default(),
        }
    }
}

impl<P: Projection, K> InMemory<P, K> {
    /// Saves the position after each batch in `checkpoints` (often the event store itself),
    /// under the projection's [`NAME`](Projection::NAME), and resumes after it.
    #[must_use]
    pub fn with_checkpoints<K2: CheckpointStore>(self, checkpoints: K2) -> InMemory<P, K2> {
        InMemory {
            state: self.state,
            checkpoints,
            parked: self.parked,
        }
    }

    /// Read access to the state. Do not hold the guard across an `.await`: the runner needs
    /// write access between batches.
    pub fn read(&self) -> RwLockReadGuard<'_, P> {
        // A panic in `On` is caught before it can poison the lock; a poisoned lock can only
        // come from a panic in `Debug` or similar while reading, which leaves the state whole.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<P: Projection + Default, K: CheckpointStore> Target for InMemory<P, K> {
    type Projection = P;
    type Changes = ();
    const TRANSACTIONAL: bool = false;
    const SHARED: bool = false;

    fn project<R>(&self, f: impl FnOnce(&mut P) -> R) -> ((), R) {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        ((), f(&mut state))
    }

    async fn commit(&self, (): (), advance: Advance) -> Result<Committed, StoreError> {
        let name = advance.partition.checkpoint_name(P::NAME);
        {
            let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
            let mine = parked.entry(name.to_string()).or_default();
            for event in &advance.parked {
                mine.insert(event.position, event.clone());
            }
            for position in &advance.unparked {
                mine.remove(position);
            }
        }
        if !advance.parked.is_empty() {
            self.checkpoints.park_events(&name, &advance.parked).await?;
        }
        if !advance.unparked.is_empty() {
            self.checkpoints
                .unpark_events(&name, &advance.unparked)
                .await?;
        }
        // A retry or a dismissal moves no checkpoint: it must not write back an older one
        // over a batch saved meanwhile.
        if advance.to != advance.from {
            self.checkpoints.save_checkpoint(&name, advance.to).await?;
        }
        Ok(Committed::Done)
    }

    async fn checkpoint(&self, partition: Partition) -> Result<Option<Position>, StoreError> {
        let name = partition.checkpoint_name(P::NAME);
        self.checkpoints.load_checkpoint(&name).await
    }

    const PARKING: bool = true;

    async fn parked(&self, partition: Partition) -> Result<Vec<ParkedEvent>, StoreError> {
        let name = partition.checkpoint_name(P::NAME);
        let stored = self.checkpoints.parked_events(&name).await?;
        let mut parked = self.parked.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = parked.entry(name.to_string()).or_default();
        // Kept by a process before this one (checkpoints that outlive it), or by this one.
        for event in stored {
            mine.entry(event.position).or_insert(event);
        }
        Ok(mine.values().cloned().collect())
    }

    async fn reset(&self) -> Result<(), StoreError> {
        // The checkpoint first: if forgetting it fails, the state is still the one it
        // describes.
        self.checkpoints.delete_checkpoint(P::NAME).await?;
        self.parked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        *self.state.write().unwrap_or_else(PoisonError::into_inner) = P::default();
        self.state.clear_poison();
        Ok(())
    }
}

impl<P: Projection + Default> IntoTarget for P {
    type Target = InMemory<P>;

    fn into_target(self) -> InMemory<P> {
        InMemory::new(self)
    }
}

impl<P: Projection + Default, K: CheckpointStore> IntoTarget for InMemory<P, K> {
    type Target = Self;

    fn into_target(self) -> Self {
        self
    }
}

impl<P: Projection, K: fmt::Debug> fmt::Debug for InMemory<P, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InMemory")
            .field("projection", &P::NAME)
            .field("checkpoints", &self.checkpoints)
            .finish_non_exhaustive()
    }
}
