//! The repository: load an aggregate by replaying its stream, and execute commands with
//! optimistic concurrency.
//!
//! [`Repository::execute`] is the write path of the framework: load the aggregate, let it
//! decide ([`Handle`](crate::Handle)), append the events with the version it was loaded at
//! as the expected version. When another writer appended in between, the store refuses the
//! append with a conflict and the repository reloads and decides again, up to
//! [`Repository::max_retries`] times. A refused command (domain error) appends nothing.
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
//! # #[error("increments must be positive")]
//! # struct ZeroIncrement;
//! # #[derive(Aggregate, Default, Debug)]
//! # #[aggregate(name = "counter", id = u64, error = ZeroIncrement,
//! #             events(Incremented), commands(Increment))]
//! # struct Counter { total: u64 }
//! # impl Apply<Incremented> for Counter {
//! #     fn apply(&mut self, event: &Incremented) { self.total += u64::from(event.by); }
//! # }
//! # impl Handle<Increment> for Counter {
//! #     fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, ZeroIncrement> {
//! #         if cmd.by == 0 { return Err(ZeroIncrement); }
//! #         Ok(vec![Incremented { by: cmd.by }.into()])
//! #     }
//! # }
//! use es_memstore::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let counters = Repository::<Counter, _>::new(MemStore::new());
//! let done = counters.execute(Increment { id: 1, by: 5 }).await?;
//! assert_eq!(done.stream_version, Version(1));
//!
//! // A refused command is the domain error, and stores nothing.
//! let refused = counters.execute(Increment { id: 1, by: 0 }).await;
//! assert!(matches!(refused, Err(ExecuteError::Domain(ZeroIncrement))));
//!
//! let counter = counters.load(&1).await?;
//! assert_eq!((counter.state.total, counter.version), (5, Version(1)));
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use lru::LruCache;
use serde::Serialize;
use serde::de::DeserializeOwned;

use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::codec::{Codec, CodecError, JsonCodec};
use crate::command::CommandSet;
use crate::envelope::{InvalidStreamId, Metadata, NewEvent, Position, StreamId, Version};
use crate::error::DecodeError;
use crate::event::EventSet;
use crate::snapshot::{
    DEFAULT_SNAPSHOT_EVERY, NoSnapshots, SnapshotStore, Snapshots, Snapshotting,
};
use crate::store::{Appended, BATCH_SIZE, EventStore, ExpectedVersion, StoreError};
use crate::trace::{in_span, record, span};
use crate::util::YieldNow;
use crate::validation::ValidationErrors;

/// How many times [`Repository::execute`] retries a command after a version conflict, unless
/// set with [`Repository::max_retries`].
pub const DEFAULT_MAX_RETRIES: u32 = 5;

/// How many aggregates a repository keeps in memory, unless set with
/// [`Repository::cache_capacity`].
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// Loads aggregates of type `A` from store `S` and executes their commands.
///
/// A repository is a cheap handle: clone it freely (clones share the store and the cache).
/// `C` is the payload [`Codec`], JSON by default; `N` says how snapshots are kept
/// ([`NoSnapshots`] unless set with [`with_snapshots`](Self::with_snapshots)).
///
/// # The aggregate cache
///
/// After a command, the repository keeps the aggregate's state and version in memory (up to
/// [`cache_capacity`](Self::cache_capacity) aggregates, evicting the least recently used),
/// so the next command on it replays nothing. A cached state is only ever trusted through
/// the store's version check: if another writer appended to the stream meanwhile, the append
/// conflicts, the state catches up on the new events and the command is decided again; a
/// command refused (or deciding nothing) on a cached state is first checked against the
/// stream's current version, so a stale cache never refuses a command the current state
/// would accept. Time to fill the cache is spent only on commands; [`load`](Self::load)
/// always reads the store.
pub struct Repository<A, S, C = JsonCodec, N = NoSnapshots> {
    store: S,
    codec: C,
    snapshots: N,
    max_retries: u32,
    snapshot_every: u64,
    cache: Option<Arc<Cache<A>>>,
}

/// The cached aggregates, by stream.
type Cache<A> = Mutex<CacheMap<A>>;

/// The map behind [`Cache`]. Hashed with foldhash: a command looks its stream up twice, and
/// SipHash (std's default) cost more than the rest of the cache.
type CacheMap<A> = LruCache<StreamId, Cached<A>, foldhash::fast::RandomState>;

/// An aggregate's state as of `version`. A command takes the state out and puts it back
/// when done (the entry stays, so neither step allocates); `None` while it is out, or after
/// a command that could not put it back.
struct Cached<A> {
    version: Version,
    state: Option<A>,
}

/// Where a fold stops.
#[derive(Clone, Copy)]
enum Until {
    /// At the end of the stream.
    End,
    /// After this version.
    Version(Version),
    /// Before the first event recorded after this time.
    Time(SystemTime),
}

fn new_cache<A>(capacity: usize) -> Option<Arc<Cache<A>>> {
    NonZeroUsize::new(capacity).map(|capacity| {
        let cache: CacheMap<A> = LruCache::with_hasher(capacity, Default::default());
        Arc::new(Mutex::new(cache))
    })
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository over `store` with the JSON codec, no snapshots, a cache of
    /// [`DEFAULT_CACHE_CAPACITY`] aggregates and [`DEFAULT_MAX_RETRIES`].
    #[must_use]
    pub fn new(store: S) -> Self {
        Self {
            store,
            codec: JsonCodec,
            snapshots: NoSnapshots,
            max_retries: DEFAULT_MAX_RETRIES,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            cache: new_cache(DEFAULT_CACHE_CAPACITY),
        }
    }
}

impl<A: Aggregate, S: EventStore, C: Codec, N: Snapshotting<A, C>> Repository<A, S, C, N> {
    /// Uses `codec` for payloads (and snapshots) instead of the current one.
    #[must_use]
    pub fn with_codec<C2: Codec>(self, codec: C2) -> Repository<A, S, C2, N> {
        Repository {
            store: self.store,
            codec,
            snapshots: self.snapshots,
            max_retries: self.max_retries,
            snapshot_every: self.snapshot_every,
            cache: self.cache,
        }
    }

    /// Keeps snapshots of the aggregates in `store`, every
    /// [`snapshot_every`](Self::snapshot_every) events; see [`snapshot`](crate::snapshot).
    /// The state must be serde-serializable.
    #[must_use]
    pub fn with_snapshots<T: SnapshotStore>(self, store: T) -> Repository<A, S, C, Snapshots<T>>
    where
        A: Serialize + DeserializeOwned,
    {
        Repository {
            store: self.store,
            codec: self.codec,
            snapshots: Snapshots::new(store),
            max_retries: self.max_retries,
            snapshot_every: self.snapshot_every,
            cache: self.cache,
        }
    }

    /// Takes a snapshot each time a command takes the stream past a multiple of `events`
    /// (default [`DEFAULT_SNAPSHOT_EVERY`]; `0` never). An aggregate's own
    /// `#[aggregate(snapshot_every = N)]` overrides it. Has no effect without
    /// [`with_snapshots`](Self::with_snapshots).
    #[must_use]
    pub fn snapshot_every(mut self, events: u64) -> Self {
        self.snapshot_every = events;
        self
    }

    /// Keeps up to `aggregates` aggregates in memory between commands (default
    /// [`DEFAULT_CACHE_CAPACITY`]); `0` turns the cache off. Replaces the current cache
    /// (the new one starts empty and is shared by clones made after this call).
    #[must_use]
    pub fn cache_capacity(mut self, aggregates: usize) -> Self {
        self.cache = new_cache(aggregates);
        self
    }

    /// Sets how many times a command is decided again after a version conflict before
    /// [`ExecuteError::Conflict`] is returned. `0` disables retries.
    #[must_use]
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The store this repository writes to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The stream id of the aggregate `id`: `"{A::NAME}-{id}"`.
    ///
    /// # Errors
    /// When the id's `Display` form makes an invalid stream id (too long, control characters).
    pub fn stream_id(&self, id: &A::Id) -> Result<StreamId, InvalidStreamId> {
        StreamId::for_aggregate(A::NAME, id)
    }

    /// Loads the aggregate `id`: its latest usable snapshot and the events after it, or its
    /// whole stream. An aggregate with no events loads as `A::default()` at
    /// [`Version::EMPTY`].
    ///
    /// # Errors
    /// [`LoadError::Store`] when the store fails, [`LoadError::Decode`] when a stored event
    /// does not decode, [`LoadError::InvalidStreamId`] when the id makes no valid stream id.
    pub async fn load(&self, id: &A::Id) -> Result<Loaded<A>, LoadError> {
        let stream_id = self.stream_id(id)?;
        self.load_until(stream_id, Until::End).await
    }

    /// Loads the aggregate `id` as it was at `version` of its stream: the fold of its first
    /// `version` events (all of them if the stream is shorter; the returned
    /// [`Loaded::version`] says where it stopped). A snapshot is used only if it is not
    /// past `version`.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_at(&self, id: &A::Id, version: Version) -> Result<Loaded<A>, LoadError> {
        let stream_id = self.stream_id(id)?;
        self.load_until(stream_id, Until::Version(version)).await
    }

    /// Loads the aggregate `id` as it was at `time`: the fold of the events the store
    /// recorded at or before it ([`RecordedEvent::recorded_at`](crate::RecordedEvent)),
    /// stopping at the first one recorded later. Replays from the start of the stream
    /// (snapshots carry no event times).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_as_of(&self, id: &A::Id, time: SystemTime) -> Result<Loaded<A>, LoadError> {
        let stream_id = self.stream_id(id)?;
        self.load_until(stream_id, Until::Time(time)).await
    }

    async fn load_until(&self, stream_id: StreamId, until: Until) -> Result<Loaded<A>, LoadError> {
        let span = span!(
            "es.load",
            aggregate = A::NAME,
            stream = %stream_id,
            snapshot = ::tracing::field::Empty,
            version = ::tracing::field::Empty,
        );
        in_span(self.load_in_span(stream_id, until), span).await
    }

    async fn load_in_span(
        &self,
        stream_id: StreamId,
        until: Until,
    ) -> Result<Loaded<A>, LoadError> {
        let at_most = match until {
            Until::End => Some(Version(u64::MAX)),
            Until::Version(version) => Some(version),
            Until::Time(_) => None,
        };
        let start = match at_most {
            Some(at_most) => self.snapshots.load(&self.codec, &stream_id, at_most).await,
            None => None,
        };
        record!(snapshot = start.as_ref().map(|(_, version)| version.0));
        let (mut state, mut version) = start.unwrap_or_else(|| (A::default(), Version::EMPTY));
        self.fold(&stream_id, &mut state, &mut version, until)
            .await?;
        record!(version = version.0);
        Ok(Loaded {
            stream_id,
            version,
            state,
        })
    }

    /// Folds the events after `version` into `state`, up to `until`.
    async fn fold(
        &self,
        stream_id: &StreamId,
        state: &mut A,
        version: &mut Version,
        until: Until,
    ) -> Result<(), LoadError> {
        loop {
            let wanted = match until {
                Until::Version(last) if last <= *version => return Ok(()),
                Until::Version(last) => {
                    usize::try_from(last.0 - version.0).map_or(BATCH_SIZE, |n| n.min(BATCH_SIZE))
                }
                Until::End | Until::Time(_) => BATCH_SIZE,
            };
            let mut failed = None;
            let mut reached = false;
            let visited = self
                .store
                .visit_stream(stream_id, version.next(), wanted, |recorded| {
                    if let Until::Time(time) = until
                        && recorded.recorded_at > time
                    {
                        reached = true;
                        return ControlFlow::Break(());
                    }
                    match A::Event::decode(&self.codec, recorded) {
                        Ok(event) => {
                            state.apply_event(&event);
                            *version = recorded.stream_version;
                            ControlFlow::Continue(())
                        }
                        Err(error) => {
                            failed = Some(error);
                            ControlFlow::Break(())
                        }
                    }
                })
                .await?;
            if let Some(error) = failed {
                return Err(error.into());
            }
            if reached || visited < wanted {
                return Ok(());
            }
        }
    }

    /// Executes `command`: validate it, load the target aggregate (from the cache when it is
    /// there), decide, append with the loaded version as the expected version. On a version
    /// conflict the aggregate catches up on the new events and the command is decided again,
    /// up to [`max_retries`](Self::max_retries) times.
    ///
    /// A decision that produces no events appends nothing and succeeds.
    ///
    /// # Errors
    /// [`ExecuteError::Invalid`] when the command breaks its validation rules and
    /// [`ExecuteError::Domain`] when the aggregate refuses it (nothing is appended in either case),
    /// [`ExecuteError::Conflict`] when conflicts outlast the retries, and the load, encode and
    /// store errors of the steps.
    pub async fn execute(
        &self,
        command: impl Into<A::Command>,
    ) -> Result<Executed<A>, ExecuteError<A::Error>> {
        let (command, meta) = (command.into(), CommandMeta::new());
        let span = execute_span::<A>(&command, &meta);
        in_span(self.run(command, meta, true), span).await
    }

    /// [`execute`](Self::execute) with the command's metadata: every event it appends
    /// carries `meta.command_id` as its command id and causation id, inherits the correlation
    /// id (the command id when `meta` has none), and copies the headers.
    ///
    /// Commands are idempotent by command id: if `meta.command_id` already produced events on
    /// the target stream (through any repository on the store), nothing is decided or
    /// appended and the earlier outcome is returned with [`Executed::duplicate`] set. Reuse a
    /// client's request id as the command id to make retried requests safe.
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use es_core::repository::CommandMeta;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Debug, Serialize, Deserialize)]
    /// # #[event(name = "counter.incremented")]
    /// # struct Incremented { by: u32 }
    /// # #[derive(Command, Debug)]
    /// # struct Increment { #[id] id: u64, by: u32 }
    /// # #[derive(Debug, thiserror::Error)]
    /// # #[error("never")]
    /// # struct Never;
    /// # #[derive(Aggregate, Default, Debug)]
    /// # #[aggregate(name = "counter", id = u64, error = Never,
    /// #             events(Incremented), commands(Increment))]
    /// # struct Counter;
    /// # impl Apply<Incremented> for Counter { fn apply(&mut self, _: &Incremented) {} }
    /// # impl Handle<Increment> for Counter {
    /// #     fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, Never> {
    /// #         Ok(vec![Incremented { by: cmd.by }.into()])
    /// #     }
    /// # }
    /// use es_memstore::MemStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemStore::new();
    /// let counters = Repository::<Counter, _>::new(store.clone());
    /// let meta = CommandMeta::new().header("actor", "ada");
    /// let command_id = meta.command_id;
    /// counters.execute_with(Increment { id: 1, by: 2 }, meta).await?;
    ///
    /// let stored = &store.read_all(Position::START, 1).await?[0];
    /// assert_eq!(stored.metadata.command_id, Some(command_id));
    /// assert_eq!(stored.metadata.causation_id, Some(command_id));
    /// assert_eq!(stored.metadata.correlation_id, Some(command_id));
    /// assert_eq!(stored.metadata.headers["actor"], "ada");
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`execute`](Self::execute).
    pub async fn execute_with(
        &self,
        command: impl Into<A::Command>,
        meta: CommandMeta,
    ) -> Result<Executed<A>, ExecuteError<A::Error>> {
        let command = command.into();
        let span = execute_span::<A>(&command, &meta);
        in_span(self.run(command, meta, false), span).await
    }

    /// The write path; `fresh_id` says the command id was drawn for this call alone.
    async fn run(
        &self,
        command: A::Command,
        meta: CommandMeta,
        fresh_id: bool,
    ) -> Result<Executed<A>, ExecuteError<A::Error>> {
        command.validate().map_err(|errors| ExecuteError::Invalid {
            command: command.name(),
            errors,
        })?;
        let metadata = meta.event_metadata();
        let stream_id = self.stream_id(command.aggregate_id())?;
        record!(stream = %stream_id);
        // A command id seen before gets its first outcome, before any decision: deciding
        // again could refuse it (a repeated registration is "already registered"). The id
        // `execute` draws itself is new by construction: no lookup for it.
        if !fresh_id
            && let Some(earlier) = self
                .store
                .find_command(&stream_id, meta.command_id)
                .await
                .map_err(ExecuteError::Store)?
        {
            return Ok(Executed::from_earlier(stream_id, earlier, 0));
        }
        let (mut state, mut version, mut cached) = match self.take_cached(&stream_id) {
            Some((state, version)) => (state, version, true),
            None => {
                let loaded = self.load_until(stream_id.clone(), Until::End).await?;
                (loaded.state, loaded.version, false)
            }
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let decision = state.handle_command(&command);
            let refused_or_idle = !matches!(&decision, Ok(events) if !events.is_empty());
            if refused_or_idle && cached {
                // Only an append checks a cached state; check it before answering without one.
                cached = false;
                let current = self
                    .store
                    .stream_version(&stream_id)
                    .await
                    .map_err(ExecuteError::Store)?;
                if current != version {
                    self.fold(&stream_id, &mut state, &mut version, Until::End)
                        .await?;
                    attempts -= 1;
                    continue;
                }
            }
            let events = match decision {
                Err(error) => {
                    self.put_cached(stream_id, version, state);
                    return Err(ExecuteError::Domain(error));
                }
                Ok(events) if events.is_empty() => {
                    self.put_cached(stream_id.clone(), version, state);
                    return Ok(Executed {
                        stream_id,
                        stream_version: version,
                        last_position: None,
                        events,
                        attempts,
                        duplicate: false,
                    });
                }
                Ok(events) => events,
            };
            let batch = self.encode(&stream_id, &events, &metadata)?;
            let expected = ExpectedVersion::at(version);
            let span = span!(
                "es.append",
                stream = %stream_id,
                expected = version.0,
                events = batch.len(),
            );
            match in_span(self.store.append(&stream_id, expected, batch), span).await {
                // A concurrent execution of the same command id won the race; the state
                // misses its events, so it is not cached.
                Ok(appended) if appended.duplicate => {
                    return Ok(Executed::from_earlier(stream_id, appended, attempts));
                }
                Ok(appended) => {
                    for event in &events {
                        state.apply_event(event);
                    }
                    let before = version;
                    version = appended.stream_version;
                    record!(version = version.0);
                    record!(position = appended.last_position.0);
                    record!(attempts = attempts);
                    self.maybe_snapshot(&stream_id, before, version, &state)
                        .await;
                    self.put_cached(stream_id.clone(), version, state);
                    return Ok(Executed {
                        stream_id,
                        stream_version: version,
                        last_position: Some(appended.last_position),
                        events,
                        attempts,
                        duplicate: false,
                    });
                }
                Err(StoreError::Conflict { .. }) if attempts <= self.max_retries => {
                    // Let a conflicting writer on a single-threaded executor finish first.
                    YieldNow(false).await;
                    self.fold(&stream_id, &mut state, &mut version, Until::End)
                        .await?;
                    cached = false;
                }
                Err(StoreError::Conflict { actual, .. }) => {
                    return Err(ExecuteError::Conflict {
                        stream_id,
                        attempts,
                        expected: version,
                        actual,
                    });
                }
                // Whether the append happened is unknown: the state is not cached.
                Err(other) => return Err(ExecuteError::Store(other)),
            }
        }
    }

    /// Saves a snapshot when the stream went from `before` past a multiple of the policy.
    async fn maybe_snapshot(
        &self,
        stream_id: &StreamId,
        before: Version,
        after: Version,
        state: &A,
    ) {
        let every = A::SNAPSHOT_EVERY.unwrap_or(self.snapshot_every);
        if every > 0 && before.0 / every != after.0 / every {
            self.snapshots
                .save(&self.codec, stream_id, after, state)
                .await;
        }
    }

    /// The cached state of `stream_id` and its version, taken out of the cache.
    fn take_cached(&self, stream_id: &StreamId) -> Option<(A, Version)> {
        let cache = self.cache.as_ref()?;
        let mut cache = lock(cache);
        let entry = cache.get_mut(stream_id)?;
        Some((entry.state.take()?, entry.version))
    }

    fn put_cached(&self, stream_id: StreamId, version: Version, state: A) {
        let Some(cache) = &self.cache else {
            return;
        };
        // Whatever leaves the cache is dropped after the lock is released.
        let _displaced = {
            let mut cache = lock(cache);
            match cache.get_mut(&stream_id) {
                // A concurrent command on the same aggregate cached a newer state.
                Some(entry) if entry.version > version => Some(state),
                Some(entry) => {
                    entry.version = version;
                    entry.state.replace(state)
                }
                None => {
                    let state = Some(state);
                    let evicted = cache.push(stream_id, Cached { version, state });
                    evicted.and_then(|(_, entry)| entry.state)
                }
            }
        };
    }

    fn encode(
        &self,
        stream_id: &StreamId,
        events: &[A::Event],
        metadata: &Metadata,
    ) -> Result<Vec<NewEvent>, ExecuteError<A::Error>> {
        events
            .iter()
            .map(|event| {
                event
                    .encode(&self.codec)
                    .map(|encoded| NewEvent::new(encoded).with_metadata(metadata.clone()))
                    .map_err(|cause| ExecuteError::Encode {
                        stream_id: stream_id.clone(),
                        name: event.name(),
                        cause,
                    })
            })
            .collect()
    }
}

/// The span of one execution (see "Tracing" in the crate docs); the fields only known later
/// are recorded by `run`.
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn execute_span<A: Aggregate>(command: &A::Command, meta: &CommandMeta) -> crate::trace::Span {
    span!(
        "es.execute",
        aggregate = A::NAME,
        command = command.name(),
        command_id = %meta.command_id,
        stream = ::tracing::field::Empty,
        version = ::tracing::field::Empty,
        position = ::tracing::field::Empty,
        attempts = ::tracing::field::Empty,
    )
}

/// The cache, even if a panic poisoned its lock: no user code runs while it is held, and
/// each operation leaves the map whole.
fn lock<A>(cache: &Cache<A>) -> MutexGuard<'_, CacheMap<A>> {
    cache.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<A, S: Clone, C: Clone, N: Clone> Clone for Repository<A, S, C, N> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            codec: self.codec.clone(),
            snapshots: self.snapshots.clone(),
            max_retries: self.max_retries,
            snapshot_every: self.snapshot_every,
            cache: self.cache.clone(),
        }
    }
}

impl<A, S: fmt::Debug, C: fmt::Debug, N: fmt::Debug> fmt::Debug for Repository<A, S, C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &std::any::type_name::<A>())
            .field("store", &self.store)
            .field("codec", &self.codec)
            .field("snapshots", &self.snapshots)
            .field("snapshot_every", &self.snapshot_every)
            .field("max_retries", &self.max_retries)
            .field(
                "cache",
                &self.cache.as_ref().map(|cache| {
                    let cache = lock(cache);
                    (cache.len(), cache.cap())
                }),
            )
            .finish()
    }
}

/// Who and what a command comes from; see [`Repository::execute_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandMeta {
    /// The command's unique id: the command id and causation id of its events.
    pub command_id: Uuid,
    /// The id grouping everything caused by one original request; `None` makes the command
    /// id the correlation id (the command starts a new conversation).
    pub correlation_id: Option<Uuid>,
    /// Headers copied to every event, such as who acted.
    pub headers: BTreeMap<String, String>,
}

impl CommandMeta {
    /// Metadata with a fresh (time-ordered) command id, no correlation id and no headers.
    #[must_use]
    pub fn new() -> Self {
        Self {
            command_id: Uuid::now_v7(),
            correlation_id: None,
            headers: BTreeMap::new(),
        }
    }

    /// Uses `id` as the command id, such as an id the client sent (so a retried request
    /// keeps its id).
    #[must_use]
    pub fn command_id(mut self, id: Uuid) -> Self {
        self.command_id = id;
        self
    }

    /// Continues the conversation `id`, such as the correlation id of the event or request
    /// that caused this command.
    #[must_use]
    pub fn correlation_id(mut self, id: Uuid) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The metadata of the events this command produces.
    fn event_metadata(&self) -> Metadata {
        Metadata {
            correlation_id: Some(self.correlation_id.unwrap_or(self.command_id)),
            causation_id: Some(self.command_id),
            command_id: Some(self.command_id),
            headers: self.headers.clone(),
        }
    }
}

impl Default for CommandMeta {
    fn default() -> Self {
        Self::new()
    }
}

/// An aggregate as loaded from its stream.
#[derive(Debug, Clone)]
pub struct Loaded<A> {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The version of the last event folded into `state` ([`Version::EMPTY`] if none).
    pub version: Version,
    /// The state.
    pub state: A,
}

impl<A> Loaded<A> {
    /// Whether the aggregate has at least one event.
    #[must_use]
    pub fn exists(&self) -> bool {
        self.version > Version::EMPTY
    }
}

/// The outcome of a successful [`Repository::execute`].
pub struct Executed<A: Aggregate> {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The stream's version after the command.
    pub stream_version: Version,
    /// The global position of the last appended event; `None` when the command produced no
    /// events. Wait for a projection to reach it to read your own writes.
    pub last_position: Option<Position>,
    /// The events the command produced, in order, as appended.
    pub events: Vec<A::Event>,
    /// How many times the command was decided (1 unless version conflicts forced retries;
    /// 0 for a duplicate found before deciding).
    pub attempts: u32,
    /// Whether the command id had already produced events on this stream: nothing was
    /// appended, `events` is empty, and `stream_version`/`last_position` are those of the
    /// earlier append.
    pub duplicate: bool,
}

impl<A: Aggregate> Executed<A> {
    fn from_earlier(stream_id: StreamId, earlier: Appended, attempts: u32) -> Self {
        Self {
            stream_id,
            stream_version: earlier.stream_version,
            last_position: Some(earlier.last_position),
            events: Vec::new(),
            attempts,
            duplicate: true,
        }
    }
}

impl<A: Aggregate> fmt::Debug for Executed<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executed")
            .field("stream_id", &self.stream_id)
            .field("stream_version", &self.stream_version)
            .field("last_position", &self.last_position)
            .field("events", &self.events)
            .field("attempts", &self.attempts)
            .field("duplicate", &self.duplicate)
            .finish()
    }
}

/// Why [`Repository::load`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The aggregate id makes no valid stream id.
    #[error(transparent)]
    InvalidStreamId(#[from] InvalidStreamId),
}

/// Why [`Repository::execute`] failed. `E` is the aggregate's domain error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E> {
    /// The command broke its own rules ([`Command::validate`](crate::Command::validate)):
    /// it was refused before its aggregate was loaded, and nothing was appended.
    #[error("invalid command {command}: {errors}")]
    Invalid {
        /// The Rust name of the command's type.
        command: &'static str,
        /// Every broken rule, by field.
        errors: ValidationErrors,
    },
    /// The aggregate refused the command; nothing was appended.
    #[error(transparent)]
    Domain(E),
    /// Other writers kept changing the stream: every attempt met a version conflict.
    #[error(
        "version conflict on stream {stream_id} after {attempts} attempt(s): \
         last loaded at version {expected}, the store was at version {actual}"
    )]
    Conflict {
        /// The aggregate's stream.
        stream_id: StreamId,
        /// How many times the command was decided.
        attempts: u32,
        /// The version of the last attempt's load.
        expected: Version,
        /// The stream's version when the last append was refused.
        actual: Version,
    },
    /// An event the aggregate produced could not be encoded; nothing was appended.
    #[error("cannot encode event {name:?} for stream {stream_id}: {cause}")]
    Encode {
        /// The aggregate's stream.
        stream_id: StreamId,
        /// The event's wire name.
        name: &'static str,
        /// The codec's error.
        cause: CodecError,
    },
    /// A stored event of the aggregate does not decode.
    #[error(transparent)]
    Decode(DecodeError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The aggregate id makes no valid stream id.
    #[error(transparent)]
    InvalidStreamId(InvalidStreamId),
}

impl<E> From<LoadError> for ExecuteError<E> {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Store(error) => Self::Store(error),
            LoadError::Decode(error) => Self::Decode(error),
            LoadError::InvalidStreamId(error) => Self::InvalidStreamId(error),
        }
    }
}

impl<E> From<InvalidStreamId> for ExecuteError<E> {
    fn from(error: InvalidStreamId) -> Self {
        Self::InvalidStreamId(error)
    }
}
