//! [`ProjectionRunner`]: feeds a projection the global log, in order, with checkpoints.

use std::fmt;
use std::future::Future;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use crate::codec::{Codec, JsonCodec};
use crate::envelope::{Position, RecordedEvent, StreamId};
use crate::error::DecodeError;
use crate::projection::{Batches, Processing, Projection, RunControl, project_batch};
use crate::store::{BATCH_SIZE, CheckpointStore, EventStore, NoCheckpoints, StoreError};

/// Runs projection `P` over the global log of store `S`, saving checkpoints in `K`.
///
/// A runner is a cheap handle: clones share the projection's state and progress, so one task
/// can [`run`](Self::run) it while others [`read`](Self::read) the state or
/// [`wait_for`](Self::wait_for) a position. Only one of `catch_up`, `run` and `rebuild`
/// processes events at a time: a `catch_up` or `rebuild` waits for another `catch_up` or
/// `rebuild` to finish, and all three are refused with [`ProjectionError::Running`] while a
/// `run` is live (waiting for it could never end): use `wait_for` then.
///
/// Checkpoints (see [`with_checkpoints`](Self::with_checkpoints)) are for read models whose
/// state outlives the runner, such as a table or a shared map: the runner resumes after the
/// saved position and never hands an event to the projection twice, as long as it is stopped
/// through its API (a future dropped in the middle of a checkpoint write may repeat that
/// batch). A read model kept only in the runner uses the default, [`NoCheckpoints`], and is
/// rebuilt by replay each time it starts. A read model kept in a database should commit its
/// rows and its checkpoint together instead, so that even a crash cannot repeat a batch:
/// es-postgres's `PgProjectionRunner` does that for PostgreSQL tables.
///
/// ```
/// # use std::collections::BTreeMap;
/// # use es_core::prelude::*;
/// # use es_core::projection::EventMeta;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Debug, Serialize, Deserialize)]
/// # #[event(name = "user.created")]
/// # struct UserCreated { email: String }
/// # #[derive(Projection, Default, Debug)]
/// # #[projection(name = "user-directory", events(UserCreated))]
/// # struct Directory { by_email: BTreeMap<String, String> }
/// # impl On<UserCreated> for Directory {
/// #     fn on(&mut self, event: &UserCreated, meta: &EventMeta) {
/// #         self.by_email.insert(event.email.clone(), meta.stream_id.to_string());
/// #     }
/// # }
/// use es_core::codec::{Encoded, JsonCodec};
/// use es_core::{EventSet, NewEvent};
/// use es_memstore::MemStore;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemStore::new();
/// let event = NewEvent::new(es_core::event::encode_event(&JsonCodec, &UserCreated { email: "ada@example.com".into() })?);
/// store.append(&StreamId::new("user-ada")?, ExpectedVersion::Any, vec![event]).await?;
///
/// let directory = ProjectionRunner::new(store.clone(), Directory::default());
/// let reached = directory.catch_up().await?;
/// assert_eq!(reached, Position(1));
/// assert_eq!(directory.read().by_email["ada@example.com"], "user-ada");
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct ProjectionRunner<P, S, K = NoCheckpoints, C = JsonCodec> {
    store: S,
    checkpoints: K,
    codec: C,
    batch_size: usize,
    shared: Arc<Shared<P>>,
}

struct Shared<P> {
    state: RwLock<P>,
    control: RunControl,
}

impl<P: Projection, S: EventStore> ProjectionRunner<P, S> {
    /// A runner feeding `projection` from `store`, without checkpoints, with the JSON codec.
    pub fn new(store: S, projection: P) -> Self {
        Self {
            store,
            checkpoints: NoCheckpoints,
            codec: JsonCodec,
            batch_size: BATCH_SIZE,
            shared: Arc::new(Shared {
                state: RwLock::new(projection),
                control: RunControl::new(),
            }),
        }
    }
}

impl<P: Projection, S: EventStore, K: CheckpointStore, C: Codec> ProjectionRunner<P, S, K, C> {
    /// Saves and resumes from checkpoints in `checkpoints` (often the event store itself).
    #[must_use]
    pub fn with_checkpoints<K2: CheckpointStore>(
        self,
        checkpoints: K2,
    ) -> ProjectionRunner<P, S, K2, C> {
        ProjectionRunner {
            store: self.store,
            checkpoints,
            codec: self.codec,
            batch_size: self.batch_size,
            shared: self.shared,
        }
    }

    /// Decodes payloads with `codec` instead of JSON.
    #[must_use]
    pub fn with_codec<C2: Codec>(self, codec: C2) -> ProjectionRunner<P, S, K, C2> {
        ProjectionRunner {
            store: self.store,
            checkpoints: self.checkpoints,
            codec,
            batch_size: self.batch_size,
            shared: self.shared,
        }
    }

    /// Reads and checkpoints `size` events at a time (at least 1; default [`BATCH_SIZE`]).
    #[must_use]
    pub fn with_batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// Read access to the projection's state. Do not hold the guard across an `.await`: the
    /// runner needs write access between events.
    pub fn read(&self) -> RwLockReadGuard<'_, P> {
        // A panic in `On` is caught before it can poison the lock; a poisoned lock can only
        // come from a panic in `Debug` or similar while reading, which leaves the state whole.
        self.shared
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The position of the last event processed ([`Position::START`] before any).
    #[must_use]
    pub fn position(&self) -> Position {
        self.shared.control.position()
    }

    /// Processes every stored event after the checkpoint, up to the end of the log as it is
    /// when the call reaches it, and returns the position reached.
    ///
    /// # Errors
    /// See [`ProjectionError`]; the checkpoint stays at the last event processed.
    pub async fn catch_up(&self) -> Result<Position, ProjectionError> {
        let mut processing = self.shared.control.lock(P::NAME).await?;
        let position = self.start(&mut processing).await?;
        processing.drain(position, &Steps(self)).await
    }

    /// Catches up, then follows live appends until `shutdown` completes; returns the position
    /// reached. Shutdown is observed between batches, so the runner stops promptly and
    /// cleanly, with its checkpoint saved.
    ///
    /// It returns at the first error, such as a lost connection or a server restart; calling
    /// it again resumes after the last event processed, with nothing skipped or repeated. A
    /// long-running service calls it in a loop that reports the error and waits a moment
    /// before the next call.
    ///
    /// # Errors
    /// See [`ProjectionError`]; the checkpoint stays at the last event processed.
    pub async fn run(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Position, ProjectionError> {
        let mut processing = self.shared.control.lock(P::NAME).await?;
        let position = self.start(&mut processing).await?;
        processing.follow(position, shutdown, &Steps(self)).await
    }

    /// Replaces the state with `P::default()`, forgets the checkpoint and processes the whole
    /// log again. Also the way to restart a runner halted by a panic.
    ///
    /// # Errors
    /// See [`ProjectionError`].
    pub async fn rebuild(&self) -> Result<Position, ProjectionError>
    where
        P: Default,
    {
        let mut processing = self.shared.control.lock(P::NAME).await?;
        self.checkpoints
            .delete_checkpoint(P::NAME)
            .await
            .map_err(|source| self.store_error(source))?;
        *self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner) = P::default();
        self.shared.state.clear_poison();
        processing.set_cursor(Some(Position::START));
        self.shared.control.publish(Position::START);
        processing.drain(Position::START, &Steps(self)).await
    }

    /// Waits until the runner has processed `position` (such as the `last_position` of an
    /// executed command), for at most `timeout`. Something else must be processing: a task
    /// in [`run`](Self::run), or a call to [`catch_up`](Self::catch_up).
    ///
    /// # Errors
    /// [`ProjectionError::Timeout`] when the time runs out, [`ProjectionError::Halted`] when
    /// the runner stopped on a panic.
    pub async fn wait_for(
        &self,
        position: Position,
        timeout: Duration,
    ) -> Result<(), ProjectionError> {
        self.shared
            .control
            .wait_for(P::NAME, position, timeout)
            .await
    }

    /// The position to continue after: the loaded checkpoint on first use.
    async fn start(&self, processing: &mut Processing<'_>) -> Result<Position, ProjectionError> {
        if self.shared.control.is_halted() {
            return Err(ProjectionError::Halted {
                projection: P::NAME,
                position: self.position(),
            });
        }
        if let Some(position) = processing.cursor() {
            return Ok(position);
        }
        let position = self
            .checkpoints
            .load_checkpoint(P::NAME)
            .await
            .map_err(|source| self.store_error(source))?
            .unwrap_or(Position::START);
        processing.set_cursor(Some(position));
        self.shared.control.publish(position);
        Ok(position)
    }

    /// Processes one batch after `position`; `None` when there was nothing to process.
    async fn step(
        &self,
        processing: &mut Processing<'_>,
        position: Position,
    ) -> Result<Option<Position>, ProjectionError> {
        let batch = self
            .store
            .read_all(position, self.batch_size)
            .await
            .map_err(|source| self.store_error(source))?;
        if batch.is_empty() {
            return Ok(None);
        }
        let (last_good, failure) = self.apply(&batch);
        if let Some(last) = last_good {
            // The state holds the batch now: advance before saving, so that a failed save
            // (reported below) is followed by the next batch, not by the same one again.
            // The next successful save covers this batch too.
            processing.set_cursor(Some(last));
            self.shared.control.publish(last);
            self.checkpoints
                .save_checkpoint(P::NAME, last)
                .await
                .map_err(|source| self.store_error(source))?;
        }
        match failure {
            None => Ok(last_good),
            Some(failure) => {
                if matches!(failure, ProjectionError::Panicked { .. }) {
                    self.shared.control.halt(last_good.unwrap_or(position));
                }
                Err(failure)
            }
        }
    }

    /// Hands `batch` to the projection, stopping at the first failure. Returns the position
    /// of the last event processed, and the failure if any.
    fn apply(&self, batch: &[RecordedEvent]) -> (Option<Position>, Option<ProjectionError>) {
        let mut state = self
            .shared
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let (done, failure) = project_batch(&mut *state, &self.codec, batch);
        let last_good = done.checked_sub(1).map(|last| batch[last].position);
        (last_good, failure)
    }

    fn store_error(&self, source: StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: P::NAME,
            source,
        }
    }
}

/// The runner's batches, for [`Processing::drain`] and [`Processing::follow`].
struct Steps<'a, P, S, K, C>(&'a ProjectionRunner<P, S, K, C>);

impl<P: Projection, S: EventStore, K: CheckpointStore, C: Codec> Batches for Steps<'_, P, S, K, C> {
    async fn step(
        &self,
        processing: &mut Processing<'_>,
        position: Position,
    ) -> Result<Option<Position>, ProjectionError> {
        self.0.step(processing, position).await
    }

    async fn wait(&self, position: Position) -> Result<(), ProjectionError> {
        self.0
            .store
            .wait_for_events(position)
            .await
            .map_err(|source| self.0.store_error(source))
    }
}

impl<P, S: Clone, K: Clone, C: Clone> Clone for ProjectionRunner<P, S, K, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            checkpoints: self.checkpoints.clone(),
            codec: self.codec.clone(),
            batch_size: self.batch_size,
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<P: Projection, S, K, C> fmt::Debug for ProjectionRunner<P, S, K, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("projection", &P::NAME)
            .field("control", &self.shared.control)
            .finish_non_exhaustive()
    }
}

/// Why a [`ProjectionRunner`] stopped. Every variant names the projection.
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
    /// The projection's `On` impl panicked. The checkpoint is at the event before. A
    /// [`ProjectionRunner`] is halted, since its state may be half-updated:
    /// [`ProjectionRunner::rebuild`] restarts it.
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
    /// [`ProjectionRunner::wait_for`] timed out.
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
    /// The event or checkpoint store failed.
    #[error("projection {projection}: {source}")]
    Store {
        /// The projection.
        projection: &'static str,
        /// The store's error.
        source: StoreError,
    },
}
