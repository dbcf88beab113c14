//! [`Workflow`]: the engine's target for a process manager.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::codec::{Codec, JsonCodec};
use crate::envelope::Position;
use crate::process::work::{
    Input, Unit, decode_waiting, queued_position, queued_timer, stored_state,
};
use crate::process::{
    Clock, Instance, ProcessManager, ProcessStore, Routed, RoutedEvent, Router, SystemClock,
};
use crate::projection::{Advance, Committed, IntoTarget, Partition, Target};
use crate::store::StoreError;
use crate::util::race;

use tokio::sync::Notify;

/// How often a live runner looks for work it cannot be woken for (timers set and retries
/// asked for by other processes), unless set with [`Workflow::with_poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Timers fired per step of work.
const TIMERS_PER_STEP: usize = 64;

/// How many times the API's writes to an instance (retry, dismiss) try again when a runner
/// wrote the instance meanwhile.
const API_ATTEMPTS: u32 = 8;

/// The target of a [`ProjectionRunner`](crate::ProjectionRunner) that runs process manager
/// `P`, its instances and timers kept in store `S`, its commands sent through a [`Router`];
/// see the [module documentation](crate::process).
///
/// ```
/// # use es_core::prelude::*;
/// # use es_core::process::{Router, Workflow};
/// # use es_memstore::MemStore;
/// # fn example<P: es_core::process::ProcessManager>() {
/// let store = MemStore::new();
/// let router = Router::new(); // .with(repository) for each aggregate the process sends to
/// let runner = ProjectionRunner::new(store.clone(), Workflow::<P, _>::new(store.clone(), router));
/// # let _ = runner;
/// # }
/// ```
pub struct Workflow<P, S, C = JsonCodec> {
    store: S,
    router: Router,
    codec: C,
    clock: Arc<dyn Clock>,
    poll_interval: Duration,
    /// Whether a retry was asked for through this handle since the last look, and the
    /// wake-up of a live runner waiting for work.
    retry_asked: Arc<AtomicBool>,
    retry_notify: Arc<Notify>,
    /// When the runner last looked for retries asked elsewhere.
    looked: Arc<std::sync::Mutex<Option<SystemTime>>>,
    process: PhantomData<fn() -> P>,
}

/// A parked instance, from [`Workflow::parked`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Parked<K> {
    /// The instance's key.
    pub key: K,
    /// The error that parked it.
    pub error: String,
    /// When it was parked.
    pub since: SystemTime,
    /// How many inputs wait (the one that failed included).
    pub waiting: usize,
    /// Whether a retry was asked for and has not run yet.
    pub retry: bool,
}

impl<P: ProcessManager, S: ProcessStore> Workflow<P, S> {
    /// Process manager `P` over `store`, sending its commands through `router`, on the
    /// system clock, reading events as JSON.
    pub fn new(store: S, router: Router) -> Self {
        Self {
            store,
            router,
            codec: JsonCodec,
            clock: Arc::new(SystemClock),
            poll_interval: DEFAULT_POLL_INTERVAL,
            retry_asked: Arc::new(AtomicBool::new(false)),
            retry_notify: Arc::new(Notify::new()),
            looked: Arc::new(std::sync::Mutex::new(None)),
            process: PhantomData,
        }
    }
}

impl<P: ProcessManager, S: ProcessStore, C: Codec> Workflow<P, S, C> {
    /// Reads time from `clock` (such as a [`ManualClock`](crate::process::ManualClock) in
    /// tests) instead of the system's.
    #[must_use]
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Looks for work it cannot be woken for (timers set and retries asked for by other
    /// processes) at least this often while live (default [`DEFAULT_POLL_INTERVAL`]).
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Decodes the events it re-reads (for a parked instance's retry) with `codec`: the
    /// runner's codec, if it is not JSON.
    #[must_use]
    pub fn with_codec<C2: Codec>(self, codec: C2) -> Workflow<P, S, C2> {
        Workflow {
            store: self.store,
            router: self.router,
            codec,
            clock: self.clock,
            poll_interval: self.poll_interval,
            retry_asked: self.retry_asked,
            retry_notify: self.retry_notify,
            looked: self.looked,
            process: PhantomData,
        }
    }

    /// The store.
    #[must_use]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The state of the instance `key`, if it has one: not when it does not exist, has
    /// finished, or was parked on its first input.
    ///
    /// # Errors
    /// The store's error, or [`StoreError::Corrupt`] when the state does not decode.
    pub async fn instance(&self, key: &P::Key) -> Result<Option<P>, StoreError> {
        let key = encode_key::<P>(key)?;
        let rows = self
            .store
            .load_instances(P::NAME, std::slice::from_ref(&key))
            .await?;
        let Some(state) = rows
            .iter()
            .find(|row| row.key == key)
            .and_then(stored_state)
        else {
            return Ok(None);
        };
        JsonCodec
            .decode(state)
            .map(Some)
            .map_err(|error| StoreError::Corrupt {
                location: format!("process {}, instance {key}", P::NAME),
                problem: format!("its state does not decode: {error}"),
            })
    }

    /// The parked instances: their keys, errors and how many inputs wait.
    ///
    /// # Errors
    /// The store's error, or [`StoreError::Corrupt`] when a key or a record's waiting inputs
    /// do not decode.
    pub async fn parked(&self) -> Result<Vec<Parked<P::Key>>, StoreError> {
        let rows = self.store.parked_instances(P::NAME).await?;
        let mut parked = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(record) = row.parked else { continue };
            let waiting = decode_waiting::<P>(&row.key, &record.inputs)?.len();
            parked.push(Parked {
                key: decode_key::<P>(&row.key)?,
                error: record.error,
                since: record.since,
                waiting,
                retry: record.retry,
            });
        }
        Ok(parked)
    }

    /// Asks for the parked instance `key` to handle its waiting inputs again (once its
    /// fault is fixed): a runner does it at its next step of work. Returns whether the
    /// instance was parked.
    ///
    /// # Errors
    /// The store's error.
    pub async fn retry(&self, key: &P::Key) -> Result<bool, StoreError> {
        let asked = self
            .write_instance(key, |unit, key| unit.ask_retry(key))
            .await?;
        if asked {
            self.retry_asked.store(true, Ordering::SeqCst);
            self.retry_notify.notify_one();
        }
        Ok(asked)
    }

    /// Drops the inputs the parked instance `key` waits with, and unparks it: they are
    /// never handled. Returns whether the instance was parked.
    ///
    /// # Errors
    /// The store's error.
    pub async fn dismiss(&self, key: &P::Key) -> Result<bool, StoreError> {
        self.write_instance(key, |unit, key| unit.dismiss(key))
            .await
    }

    /// Changes the instance `key` with `change` and commits it, trying again if a runner
    /// wrote it meanwhile; returns what `change` returned.
    async fn write_instance(
        &self,
        key: &P::Key,
        change: impl Fn(&mut Unit<P>, &str) -> bool,
    ) -> Result<bool, StoreError> {
        let key = encode_key::<P>(key)?;
        for _ in 0..API_ATTEMPTS {
            let rows = self
                .store
                .load_instances(P::NAME, std::slice::from_ref(&key))
                .await?;
            let mut unit = Unit::<P>::new(rows);
            if !change(&mut unit, &key) {
                return Ok(false);
            }
            if self.store.commit_process(P::NAME, unit.into_work()).await? == Committed::Done {
                return Ok(true);
            }
        }
        Err(StoreError::Backend(
            format!(
                "process {}, instance {key}: written by a runner at every one of {API_ATTEMPTS} attempts",
                P::NAME
            )
            .into(),
        ))
    }

    /// Fires the due timers, each in a unit of its own. Returns whether there were any.
    async fn fire_timers(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let due = self.store.due_timers(P::NAME, now, TIMERS_PER_STEP).await?;
        for row in &due {
            let rows = self
                .store
                .load_instances(P::NAME, std::slice::from_ref(&row.key))
                .await?;
            let mut unit = Unit::<P>::new(rows);
            unit.fire(row.id);
            unit.handle(&row.key, false, Input::Timer(row), &self.router, now)
                .await?;
            // Moved: another runner fired it, or wrote the instance first (the timer is
            // then still due, and fires at the next step).
            self.store.commit_process(P::NAME, unit.into_work()).await?;
        }
        Ok(!due.is_empty())
    }

    /// Retries the parked instances a retry was asked for. Returns whether there were any.
    async fn retry_parked(&self) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let asked_here = self.retry_asked.swap(false, Ordering::SeqCst);
        let poll_due = {
            let mut looked = self
                .looked
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let due = looked.is_none_or(|at| {
                now.duration_since(at).unwrap_or(Duration::ZERO) >= self.poll_interval
            });
            if due {
                *looked = Some(now);
            }
            due
        };
        if !asked_here && !poll_due {
            return Ok(false);
        }
        let mut any = false;
        for row in self.store.parked_instances(P::NAME).await? {
            if !row.parked.as_ref().is_some_and(|parked| parked.retry) {
                continue;
            }
            any = true;
            let key = row.key.clone();
            let mut unit = Unit::<P>::new(vec![row]);
            for queued in unit.unpark(&key)?.unwrap_or_default() {
                if let Some(timer) = queued_timer(&key, &queued) {
                    unit.handle(&key, false, Input::Timer(&timer), &self.router, now)
                        .await?;
                } else if let Some(position) = queued_position(&queued) {
                    self.retry_event(&mut unit, &key, position, now).await?;
                }
            }
            self.store.commit_process(P::NAME, unit.into_work()).await?;
        }
        Ok(any)
    }

    /// Reads the event at `position` again and hands it to the instance `key`.
    async fn retry_event(
        &self,
        unit: &mut Unit<P>,
        key: &str,
        position: Position,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let before = Position(position.0.saturating_sub(1));
        let events = self.store.read_all(before, 1).await?;
        let Some(event) = events.into_iter().find(|event| event.position == position) else {
            return Ok(());
        };
        let routed =
            RoutedEvent::<P>::route(&self.codec, &event).map_err(|error| StoreError::Corrupt {
                location: format!("process {}, instance {key}", P::NAME),
                problem: format!("a waiting event no longer decodes: {error}"),
            })?;
        let Some(routed) = routed else {
            return Ok(());
        };
        // As the event's routing says now: a retry starts an instance only for an event
        // that starts one.
        let start = match routed.instance {
            Instance::Start(_) => true,
            Instance::Existing(_) => false,
            Instance::Ignore => return Ok(()),
        };
        unit.handle(key, start, Input::Event(&routed), &self.router, now)
            .await
    }
}

fn encode_key<P: ProcessManager>(key: &P::Key) -> Result<String, StoreError> {
    serde_json::to_string(key).map_err(|error| {
        StoreError::Backend(format!("process {}: a key does not encode: {error}", P::NAME).into())
    })
}

fn decode_key<P: ProcessManager>(key: &str) -> Result<P::Key, StoreError> {
    serde_json::from_str(key).map_err(|error| StoreError::Corrupt {
        location: format!("process {}, instance {key}", P::NAME),
        problem: format!("the key does not decode: {error}"),
    })
}

impl<P: ProcessManager, S: ProcessStore, C: Codec> Target for Workflow<P, S, C> {
    type Projection = Routed<P>;
    type Changes = Routed<P>;
    const TRANSACTIONAL: bool = true;
    const SHARED: bool = true;
    // An instance hears from several streams: split by stream, two partitions could handle
    // inputs of one instance at once.
    const PARTITIONABLE: bool = false;

    fn project<R>(&self, f: impl FnOnce(&mut Routed<P>) -> R) -> (Routed<P>, R) {
        let mut routed = Routed::default();
        let out = f(&mut routed);
        (routed, out)
    }

    async fn commit(&self, routed: Routed<P>, advance: Advance) -> Result<Committed, StoreError> {
        let encoded = routed
            .events
            .iter()
            .map(|event| event.instance.key().map(encode_key::<P>).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let keys: Vec<String> = encoded
            .iter()
            .flatten()
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let rows = if keys.is_empty() {
            Vec::new()
        } else {
            self.store.load_instances(P::NAME, &keys).await?
        };
        let mut unit = Unit::<P>::new(rows);
        let now = self.clock.now();
        for (event, key) in routed.events.iter().zip(&encoded) {
            let Some(key) = key else { continue };
            let start = matches!(event.instance, Instance::Start(_));
            unit.handle(key, start, Input::Event(event), &self.router, now)
                .await?;
        }
        let mut work = unit.into_work();
        work.advance = Some(advance);
        self.store.commit_process(P::NAME, work).await
    }

    async fn checkpoint(&self, partition: Partition) -> Result<Option<Position>, StoreError> {
        // Never split (see `PARTITIONABLE`): the partition is the whole log.
        self.store
            .load_checkpoint(&partition.checkpoint_name(P::NAME))
            .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.store.reset_process(P::NAME).await
    }

    async fn work(&self) -> Result<bool, StoreError> {
        let fired = self.fire_timers().await?;
        let retried = self.retry_parked().await?;
        Ok(fired || retried)
    }

    async fn wake(&self) {
        let now = self.clock.now();
        let poll = now + self.poll_interval;
        let deadline = match self.store.next_timer(P::NAME).await {
            Ok(Some(next)) => next.min(poll),
            Ok(None) | Err(_) => poll,
        };
        // A retry asked through this handle wakes it at once.
        race(
            self.clock.sleep_until(deadline),
            self.retry_notify.notified(),
        )
        .await;
    }
}

impl<P: ProcessManager, S: ProcessStore, C: Codec> IntoTarget for Workflow<P, S, C> {
    type Target = Self;

    fn into_target(self) -> Self {
        self
    }
}

impl<P, S: Clone, C: Clone> Clone for Workflow<P, S, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            router: self.router.clone(),
            codec: self.codec.clone(),
            clock: Arc::clone(&self.clock),
            poll_interval: self.poll_interval,
            retry_asked: Arc::clone(&self.retry_asked),
            retry_notify: Arc::clone(&self.retry_notify),
            looked: Arc::clone(&self.looked),
            process: PhantomData,
        }
    }
}

impl<P: ProcessManager, S, C> fmt::Debug for Workflow<P, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Workflow")
            .field("process", &P::NAME)
            .field("router", &self.router)
            .field("poll_interval", &self.poll_interval)
            .finish_non_exhaustive()
    }
}
