//! The repository: load an aggregate by replaying its stream, and execute commands with
//! optimistic concurrency.
//!
//! [`Repository::execute`] is the write path of the framework: load the aggregate, let it
//! decide ([`Handle`](crate::Handle)), append the events with the version it was loaded at
//! as the expected version. When another writer appended in between, the store refuses the
//! append with a conflict and the repository catches up on the new events and decides
//! again, after a short random wait, as its [`RetryPolicy`] allows
//! ([`Repository::with_retry`], [`RetryPolicy::CONFLICTS`] by default). A refused command
//! (domain error) appends nothing.
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

mod cache;
mod error;
mod execute;
mod load;
mod meta;

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::aggregate::Aggregate;
use crate::codec::{Codec, JsonCodec};
use crate::envelope::{InvalidStreamId, StreamId};
use crate::retry::RetryPolicy;
use crate::snapshot::{
    DEFAULT_SNAPSHOT_EVERY, NoSnapshots, SnapshotStore, Snapshots, Snapshotting,
};
use crate::store::EventStore;

use cache::Cache;
pub use cache::DEFAULT_CACHE_CAPACITY;
pub use error::{ExecuteError, LoadError};
pub use execute::Executed;
pub use load::Loaded;
pub use meta::CommandMeta;

/// Loads aggregates of type `A` from store `S` and executes their commands.
///
/// A repository is a cheap handle: clone it freely (clones share the store and the cache).
/// `N` says how snapshots are kept ([`NoSnapshots`] unless set with
/// [`with_snapshots`](Self::with_snapshots)); `C` is the payload [`Codec`], JSON unless set
/// with [`with_codec`](Self::with_codec). The codec comes last, as the parameter a program
/// changes least: a type that names the snapshots, `Repository<A, S, Snapshots<S>>`, keeps
/// the default codec.
///
/// # The aggregate cache
///
/// After a command, the repository keeps the aggregate's state and version in memory (up to
/// [`DEFAULT_CACHE_CAPACITY`] aggregates unless set with
/// [`with_cache_capacity`](Self::with_cache_capacity), evicting the least recently used), so
/// the next command on it replays nothing. A cached state is only ever trusted through
/// the store's version check: if another writer appended to the stream meanwhile, the append
/// conflicts, the state catches up on the new events and the command is decided again; a
/// command refused (or deciding nothing) on a cached state is first checked against the
/// stream's current version, so a stale cache never refuses a command the current state
/// would accept. Time to fill the cache is spent only on commands; [`load`](Self::load)
/// always reads the store.
///
/// # Conflicts
///
/// A command whose append meets a version conflict is decided again on the caught-up state,
/// after a random wait that grows with each retry, as often as the [`RetryPolicy`] set with
/// [`with_retry`](Self::with_retry) allows: [`RetryPolicy::CONFLICTS`] by default, which
/// retries a lone conflict within a millisecond and keeps ordinary contention on a hot
/// aggregate from reaching the caller. Each retry costs a read of the new events and an
/// append; the waits need no particular executor. [`Executed::attempts`] says how many
/// decisions a command took, and [`ExecuteError::Conflict`] is returned only when every
/// attempt conflicted.
pub struct Repository<A, S, N = NoSnapshots, C = JsonCodec> {
    store: S,
    snapshots: N,
    codec: C,
    retry: RetryPolicy,
    snapshot_every: u64,
    cache: Cache<A>,
}

impl<A: Aggregate, S: EventStore> Repository<A, S> {
    /// A repository over `store` with the JSON codec, no snapshots, a cache of
    /// [`DEFAULT_CACHE_CAPACITY`] aggregates and conflicts retried under
    /// [`RetryPolicy::CONFLICTS`].
    #[must_use]
    pub fn new(store: S) -> Self {
        Self {
            store,
            snapshots: NoSnapshots,
            codec: JsonCodec,
            retry: RetryPolicy::CONFLICTS,
            snapshot_every: DEFAULT_SNAPSHOT_EVERY,
            cache: Cache::new(DEFAULT_CACHE_CAPACITY),
        }
    }
}

impl<A: Aggregate, S: EventStore, N: Snapshotting<A, C>, C: Codec> Repository<A, S, N, C> {
    /// Uses `codec` for payloads (and snapshots) instead of the current one.
    #[must_use]
    pub fn with_codec<C2: Codec>(self, codec: C2) -> Repository<A, S, N, C2> {
        Repository {
            store: self.store,
            snapshots: self.snapshots,
            codec,
            retry: self.retry,
            snapshot_every: self.snapshot_every,
            cache: self.cache,
        }
    }

    /// Keeps snapshots of the aggregates in `store`, every
    /// [`with_snapshot_every`](Self::with_snapshot_every) events; see
    /// [`snapshot`](crate::snapshot). The state must be serde-serializable.
    #[must_use]
    pub fn with_snapshots<T: SnapshotStore>(self, store: T) -> Repository<A, S, Snapshots<T>, C>
    where
        A: Serialize + DeserializeOwned,
    {
        Repository {
            store: self.store,
            snapshots: Snapshots::new(store),
            codec: self.codec,
            retry: self.retry,
            snapshot_every: self.snapshot_every,
            cache: self.cache,
        }
    }

    /// Takes a snapshot each time a command takes the stream past a multiple of `events`
    /// (default [`DEFAULT_SNAPSHOT_EVERY`]; `0` never). An aggregate's own
    /// `#[aggregate(snapshot_every = N)]` overrides it. Has no effect without
    /// [`with_snapshots`](Self::with_snapshots).
    #[must_use]
    pub fn with_snapshot_every(mut self, events: u64) -> Self {
        self.snapshot_every = events;
        self
    }

    /// Keeps up to `aggregates` aggregates in memory between commands (default
    /// [`DEFAULT_CACHE_CAPACITY`]); `0` turns the cache off. Replaces the current cache
    /// (the new one starts empty and is shared by clones made after this call).
    #[must_use]
    pub fn with_cache_capacity(mut self, aggregates: usize) -> Self {
        self.cache = Cache::new(aggregates);
        self
    }

    /// Retries a command that met a version conflict under `policy` (default
    /// [`RetryPolicy::CONFLICTS`]): at most `policy.max_attempts()` decisions, the first
    /// included, each retry after a random wait of up to
    /// [`policy.delay_bound(n)`](RetryPolicy::delay_bound) for retry `n`. When every attempt
    /// conflicts, [`execute`](Self::execute) returns [`ExecuteError::Conflict`];
    /// [`RetryPolicy::NEVER`] returns it at the first conflict.
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Debug, Serialize, Deserialize)]
    /// # #[event(name = "counter.incremented")]
    /// # struct Incremented;
    /// # #[derive(Command, Debug)]
    /// # struct Increment { #[id] id: u64 }
    /// # #[derive(Debug, thiserror::Error)]
    /// # #[error("never")]
    /// # struct Never;
    /// # #[derive(Aggregate, Default, Debug)]
    /// # #[aggregate(name = "counter", id = u64, error = Never,
    /// #             events(Incremented), commands(Increment))]
    /// # struct Counter;
    /// # impl Apply<Incremented> for Counter { fn apply(&mut self, _: &Incremented) {} }
    /// # impl Handle<Increment> for Counter {
    /// #     fn handle(&self, _: &Increment) -> Result<Vec<CounterEvent>, Never> {
    /// #         Ok(vec![Incremented.into()])
    /// #     }
    /// # }
    /// use std::time::Duration;
    /// use es_core::RetryPolicy;
    /// use es_memstore::MemStore;
    ///
    /// // A writer that would rather wait longer than see a conflict.
    /// let patient = Repository::<Counter, _>::new(MemStore::new()).with_retry(
    ///     RetryPolicy::CONFLICTS
    ///         .with_max_attempts(64)
    ///         .with_max_delay(Duration::from_millis(250)),
    /// );
    /// ```
    #[must_use]
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
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
}

impl<A, S: Clone, N: Clone, C: Clone> Clone for Repository<A, S, N, C> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            snapshots: self.snapshots.clone(),
            codec: self.codec.clone(),
            retry: self.retry,
            snapshot_every: self.snapshot_every,
            cache: self.cache.clone(),
        }
    }
}

impl<A, S: fmt::Debug, N: fmt::Debug, C: fmt::Debug> fmt::Debug for Repository<A, S, N, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("aggregate", &std::any::type_name::<A>())
            .field("store", &self.store)
            .field("snapshots", &self.snapshots)
            .field("codec", &self.codec)
            .field("snapshot_every", &self.snapshot_every)
            .field("retry", &self.retry)
            .field("cache", &self.cache)
            .finish()
    }
}
