//! The aggregate cache of a repository: the state and version of the aggregates it
//! commanded last, least recently used evicted.
//!
//! A cached state is a guess, never a source of truth: the repository trusts it only through
//! the store's version check (see "The aggregate cache" on
//! [`Repository`](super::Repository)).

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use lru::LruCache;

use crate::envelope::{StreamId, Version};

/// How many aggregates a repository keeps in memory, unless set with
/// [`Repository::with_cache_capacity`](super::Repository::with_cache_capacity).
pub const DEFAULT_CACHE_CAPACITY: usize = 1024;

/// The cached aggregates of a repository, by stream, shared by its clones; or nothing, when
/// the capacity is zero.
pub(super) struct Cache<A>(Option<Arc<Mutex<CacheMap<A>>>>);

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

impl<A> Cache<A> {
    /// A cache of up to `capacity` aggregates; `0` caches nothing.
    pub(super) fn new(capacity: usize) -> Self {
        Self(NonZeroUsize::new(capacity).map(|capacity| {
            let map: CacheMap<A> = LruCache::with_hasher(capacity, Default::default());
            Arc::new(Mutex::new(map))
        }))
    }

    /// The cached state of `stream_id` and its version, taken out of the cache.
    pub(super) fn take(&self, stream_id: &StreamId) -> Option<(A, Version)> {
        let mut map = self.lock()?;
        let entry = map.get_mut(stream_id)?;
        Some((entry.state.take()?, entry.version))
    }

    /// Caches `state` as the state of `stream_id` at `version`, unless a newer one is
    /// cached already.
    pub(super) fn put(&self, stream_id: StreamId, version: Version, state: A) {
        // Whatever leaves the cache is dropped after the lock is released.
        let _displaced = {
            let Some(mut map) = self.lock() else {
                return;
            };
            match map.get_mut(&stream_id) {
                // A concurrent command on the same aggregate cached a newer state.
                Some(entry) if entry.version > version => Some(state),
                Some(entry) => {
                    entry.version = version;
                    entry.state.replace(state)
                }
                None => {
                    let state = Some(state);
                    let evicted = map.push(stream_id, Cached { version, state });
                    evicted.and_then(|(_, entry)| entry.state)
                }
            }
        };
    }

    /// The map, even if a panic poisoned its lock: no user code runs while it is held, and
    /// each operation leaves the map whole. `None` without a cache.
    fn lock(&self) -> Option<MutexGuard<'_, CacheMap<A>>> {
        let map = self.0.as_ref()?;
        Some(map.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl<A> Clone for Cache<A> {
    /// The same cache: clones of a repository share it.
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<A> fmt::Debug for Cache<A> {
    /// How many aggregates are cached, and the capacity; `None` without a cache.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes = self.lock().map(|map| (map.len(), map.cap()));
        fmt::Debug::fmt(&sizes, f)
    }
}
