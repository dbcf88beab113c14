//! Partitions: a consumer of the log split by stream, so that its parts run in parallel, in
//! one process or several, with one stream's events kept in order.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use uuid::Uuid;

use crate::envelope::StreamId;
use crate::store::StoreError;

/// One part of the log: the events of the streams that fall in partition `index` of `count`.
///
/// A stream falls in one partition, chosen by a hash of its id ([`Partition::of`]), so a
/// consumer split into partitions sees each stream's events in order while its partitions
/// run side by side. [`Partition::WHOLE`], the one partition of one, holds every stream: a
/// consumer that is not split.
///
/// The hash is part of the stored format: each partition keeps a checkpoint of its own
/// ([`checkpoint_name`](Self::checkpoint_name)), which is only right as long as the same
/// streams fall in it. It is a fixed function of the stream id's bytes (FNV-1a, mixed, then
/// reduced to `count`), the same on every platform and in every release.
///
/// ```
/// use es_core::StreamId;
/// use es_core::projection::Partition;
///
/// let stream = StreamId::new("account-42")?;
/// let partition = Partition::of(&stream, 8);
/// assert!(partition.index() < 8);
/// assert!(partition.contains(&stream));
/// assert_eq!(Partition::of(&stream, 8), partition, "the same stream, the same partition");
/// assert!(Partition::WHOLE.contains(&stream));
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Partition {
    index: u32,
    count: u32,
}

impl Partition {
    /// The one partition of one: every stream.
    pub const WHOLE: Self = Self { index: 0, count: 1 };

    /// Partition `index` of `count`, or `None` unless `index < count`.
    #[must_use]
    pub const fn new(index: u32, count: u32) -> Option<Self> {
        if index < count {
            Some(Self { index, count })
        } else {
            None
        }
    }

    /// The partition of `count` that `stream` falls in (`count` 0 is taken as 1).
    #[must_use]
    pub fn of(stream: &StreamId, count: u32) -> Self {
        let count = count.max(1);
        let reduced =
            (u128::from(mix(fnv1a(stream.as_str().as_bytes()))) * u128::from(count)) >> 64;
        Self {
            // Below `count`, which is a u32.
            index: u32::try_from(reduced).unwrap_or(0),
            count,
        }
    }

    /// The partition's number, from 0.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.index
    }

    /// How many partitions the log is split into.
    #[must_use]
    pub const fn count(self) -> u32 {
        self.count
    }

    /// Whether this is [`Partition::WHOLE`].
    #[must_use]
    pub const fn is_whole(self) -> bool {
        self.count == 1
    }

    /// Whether `stream` falls in this partition.
    #[must_use]
    pub fn contains(self, stream: &StreamId) -> bool {
        self.is_whole() || Self::of(stream, self.count) == self
    }

    /// The name the partition's checkpoint of `consumer` is kept under: the consumer's name
    /// for [`Partition::WHOLE`], `"<consumer>#<index>/<count>"` otherwise. `#` is in no
    /// consumer's name (see [`names`](crate::names)), so these names meet no other.
    #[must_use]
    pub fn checkpoint_name(self, consumer: &str) -> Cow<'_, str> {
        if self.is_whole() {
            Cow::Borrowed(consumer)
        } else {
            Cow::Owned(format!("{consumer}#{}/{}", self.index, self.count))
        }
    }

    /// The partitions of `count`, in order.
    pub fn all(count: u32) -> impl Iterator<Item = Self> {
        let count = count.max(1);
        (0..count).map(move |index| Self { index, count })
    }
}

impl fmt::Debug for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Partition({}/{})", self.index, self.count)
    }
}

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.index, self.count)
    }
}

/// FNV-1a, 64 bits.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut at = 0;
    while at < bytes.len() {
        hash ^= bytes[at] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        at += 1;
    }
    hash
}

/// Spreads every bit of `hash` over the high bits the reduction reads (the finalizer of
/// SplitMix64).
const fn mix(mut hash: u64) -> u64 {
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// How a consumer runs split into partitions across workers: how many partitions, and the
/// leases by which workers share them (see
/// [`ProjectionRunner::run_partitioned`](crate::ProjectionRunner::run_partitioned)).
///
/// A worker holds a partition for [`lease`](Self::with_lease) at a time and renews its leases
/// every [`heartbeat`](Self::with_heartbeat); a worker that stops renewing (killed, cut off)
/// loses its partitions to the others within the lease time plus one of their heartbeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partitions {
    count: u32,
    lease: Duration,
    heartbeat: Duration,
}

impl Partitions {
    /// `count` partitions (at least 1), held for 10 s at a time and renewed every 2 s.
    #[must_use]
    pub const fn new(count: u32) -> Self {
        Self {
            count: if count == 0 { 1 } else { count },
            lease: Duration::from_secs(10),
            heartbeat: Duration::from_secs(2),
        }
    }

    /// How long a worker holds a partition without renewing it.
    #[must_use]
    pub const fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often a worker renews its leases and rebalances; keep it well under the lease.
    #[must_use]
    pub const fn with_heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = heartbeat;
        self
    }

    /// How many partitions.
    #[must_use]
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// How long a lease lasts.
    #[must_use]
    pub const fn lease(&self) -> Duration {
        self.lease
    }

    /// How often a worker renews.
    #[must_use]
    pub const fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// The share of the worker at `rank` among `live` workers (sorted by id) of `count`
    /// partitions: partition `p` is the share of rank `p % live`. For [`LeaseStore`]
    /// implementations.
    pub fn share(rank: usize, live: usize, count: u32) -> impl Iterator<Item = u32> {
        let live = live.max(1);
        (0..count).filter(move |p| *p as usize % live == rank)
    }
}

impl Default for Partitions {
    /// One partition: a consumer that is not split.
    fn default() -> Self {
        Self::new(1)
    }
}

/// What a worker holds after a [`LeaseStore::heartbeat`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Heartbeat {
    /// The partitions the worker holds now, each until the lease runs out; in order.
    Held(Vec<u32>),
    /// The consumer's leases are kept for another partition count: its workers run (or ran)
    /// it split `count` ways. Nothing was taken.
    OtherCount {
        /// The count the consumer's leases are kept for.
        count: u32,
    },
}

/// Leases of partitions, where the workers of a partitioned consumer agree on who processes
/// which partition. Stores that several workers share implement it: in memory (workers in one
/// process), and a database (workers in several processes).
///
/// # What an implementation keeps
///
/// Per consumer and partition, a lease: the worker holding it and until when. Per consumer
/// and worker, until when the worker is live. Per consumer, the partition count its leases
/// are kept for, from its first heartbeat until [`forget_leases`](Self::forget_leases).
/// A heartbeat, in one atomic step:
///
/// 1. answers [`Heartbeat::OtherCount`] if the consumer's leases are kept for another count
///    (and changes nothing: the worker is not marked live); otherwise marks the worker live
///    until now + `lease`, and forgets workers whose time ran out;
/// 2. works out the share of each live worker: with the live workers sorted by id, partition
///    `p` is the share of worker `p % live`;
/// 3. gives up the worker's leases outside its share, renews those inside it, and takes the
///    partitions of its share that nobody holds or whose lease ran out; it never takes a
///    partition another live lease holds (its holder gives it up at its own next heartbeat);
/// 4. answers the partitions the worker holds now.
///
/// Leases keep workers from repeating each other's work; they are not what keeps a batch from
/// being applied twice. That is the checkpoint's job: a batch commits only from the
/// checkpoint it was read after, so a worker that lost its lease without knowing fails to
/// commit, and continues from the checkpoint it finds.
pub trait LeaseStore: Clone + Send + Sync + 'static {
    /// One heartbeat of `worker` of `consumer`, split into `count` partitions (at least 1;
    /// the runner never asks for 0), with leases of `lease` (see the trait's docs).
    ///
    /// # Errors
    /// A store failure.
    fn heartbeat(
        &self,
        consumer: &str,
        worker: Uuid,
        count: u32,
        lease: Duration,
    ) -> impl Future<Output = Result<Heartbeat, StoreError>> + Send;

    /// Gives up every lease of `worker` and marks it gone, so that the others take its
    /// partitions at their next heartbeat: a worker's clean stop.
    ///
    /// # Errors
    /// A store failure.
    fn release(
        &self,
        consumer: &str,
        worker: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Forgets every lease of `consumer` and the partition count they are kept for: with
    /// every worker stopped and the read model rebuilt, the way to run the consumer split
    /// another way.
    ///
    /// # Errors
    /// A store failure.
    fn forget_leases(&self, consumer: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(n: u32) -> StreamId {
        StreamId::new(format!("account-{n}")).expect("a valid stream id")
    }

    #[test]
    fn streams_spread_over_every_partition() {
        let mut per = [0_u32; 8];
        for n in 0..8_000 {
            per[Partition::of(&stream(n), 8).index() as usize] += 1;
        }
        for (index, streams) in per.iter().enumerate() {
            assert!(
                (800..1_200).contains(streams),
                "partition {index} has {streams} of 8,000 streams: {per:?}"
            );
        }
    }

    #[test]
    fn the_hash_is_fixed() {
        // Stored checkpoints depend on it: these values must never change.
        let indexes: Vec<u32> = (0..8)
            .map(|n| Partition::of(&stream(n), 8).index())
            .collect();
        assert_eq!(indexes, FIXED);
    }

    const FIXED: [u32; 8] = [4, 4, 3, 1, 6, 4, 5, 1];

    #[test]
    fn one_partition_holds_every_stream() {
        assert_eq!(Partition::of(&stream(7), 1), Partition::WHOLE);
        assert_eq!(Partition::of(&stream(7), 0), Partition::WHOLE);
        assert_eq!(Partition::WHOLE.checkpoint_name("emails"), "emails");
        let third = Partition::new(2, 8).expect("2 < 8");
        assert_eq!(third.checkpoint_name("emails"), "emails#2/8");
        assert_eq!(Partition::new(8, 8), None);
    }

    #[test]
    fn shares_cover_every_partition_once() {
        for live in 1..=5 {
            let mut seen: Vec<u32> = (0..live)
                .flat_map(|rank| Partitions::share(rank, live, 8))
                .collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..8).collect::<Vec<_>>(), "{live} workers");
        }
    }
}
