//! Leases of partitions, for the workers of partitioned consumers in this process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use es_core::projection::{Heartbeat, Partitions};
use uuid::Uuid;

/// Every consumer's leases.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    consumers: HashMap<String, Consumer>,
}

/// One consumer's workers and leases.
#[derive(Debug)]
struct Consumer {
    /// The partition count the leases are kept for.
    count: u32,
    /// Each live worker, until when.
    workers: BTreeMap<Uuid, Instant>,
    /// Each held partition: by whom, until when.
    leases: BTreeMap<u32, (Uuid, Instant)>,
}

impl Leases {
    /// One heartbeat (see [`LeaseStore::heartbeat`](es_core::projection::LeaseStore::heartbeat)).
    pub(crate) fn heartbeat(
        &mut self,
        consumer: &str,
        worker: Uuid,
        count: u32,
        lease: Duration,
    ) -> Heartbeat {
        let now = Instant::now();
        let until = now + lease;
        let kept = self
            .consumers
            .entry(consumer.to_owned())
            .or_insert_with(|| Consumer {
                count,
                workers: BTreeMap::new(),
                leases: BTreeMap::new(),
            });
        if kept.count != count {
            return Heartbeat::OtherCount { count: kept.count };
        }
        kept.workers.insert(worker, until);
        kept.workers.retain(|_, alive| *alive > now);
        let rank = kept.workers.keys().take_while(|id| **id != worker).count();
        let share: BTreeSet<u32> = Partitions::share(rank, kept.workers.len(), count).collect();
        kept.leases
            .retain(|partition, (holder, _)| *holder != worker || share.contains(partition));
        for partition in share {
            let taken = kept
                .leases
                .get(&partition)
                .is_some_and(|(holder, expires)| *holder != worker && *expires > now);
            if !taken {
                kept.leases.insert(partition, (worker, until));
            }
        }
        Heartbeat::Held(
            kept.leases
                .iter()
                .filter(|(_, (holder, _))| *holder == worker)
                .map(|(partition, _)| *partition)
                .collect(),
        )
    }

    /// Gives up `worker`'s leases.
    pub(crate) fn release(&mut self, consumer: &str, worker: Uuid) {
        if let Some(kept) = self.consumers.get_mut(consumer) {
            kept.workers.remove(&worker);
            kept.leases.retain(|_, (holder, _)| *holder != worker);
        }
    }

    /// Forgets `consumer`'s leases and count.
    pub(crate) fn forget(&mut self, consumer: &str) {
        self.consumers.remove(consumer);
    }
}
