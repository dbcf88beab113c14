//! [`ProjectionRunner::run_partitioned`]: one worker of a consumer split into partitions,
//! sharing them with the consumer's other workers, here and in other processes, by leases.

use std::future::{Future, ready};
use std::pin::{Pin, pin};
use std::time::Instant;

use uuid::Uuid;

use crate::codec::Codec;
use crate::projection::control::Cursors;
use crate::projection::runner::{is_transient, name, store_error};
use crate::projection::{
    Heartbeat, LeaseStore, Partition, ProjectionError, ProjectionRunner, Target,
};
use crate::retry::sleep;
use crate::store::EventStore;
use crate::trace::warning;
use crate::util::{Either, YieldNow, race};

/// What one worker keeps between its heartbeats.
#[derive(Debug)]
struct Worker {
    /// The worker's id in the lease store.
    id: Uuid,
    /// The partitions it holds, in order.
    held: Vec<Partition>,
    /// Where each partition it holds continues.
    cursors: Cursors,
    /// When it renews its leases next.
    next_beat: Instant,
    /// Whether the target's storage is set up.
    set_up: bool,
    /// Store failures in a row: 0 after a batch that commits.
    failures: u32,
}

impl<T: Target, S: EventStore + LeaseStore, C: Codec> ProjectionRunner<T, S, C> {
    /// Runs as one *worker* of the consumer split into the runner's
    /// [partitions](Self::with_partitions), until `shutdown` completes: it follows the log
    /// live for the partitions it holds, and shares the partitions with the consumer's other
    /// workers through the store's leases ([`LeaseStore`]).
    ///
    /// Every call is a worker of its own, so several tasks of one process (each calling this
    /// on a clone of the runner) share the work as several processes do. At each heartbeat a
    /// worker renews its leases and moves toward its share: partition `p` goes to the
    /// `p % n`-th of the `n` live workers. A worker that joins gets its share as the others
    /// give it up at their next heartbeat; the partitions of a worker that dies (its leases
    /// not renewed) are taken over within the lease time plus one heartbeat.
    ///
    /// Each partition keeps its own checkpoint, committed with its batch: a table target
    /// applies every event once, also when two workers meet on one partition during a
    /// takeover (the batch that commits second finds the checkpoint moved, and is dropped).
    /// A clean stop gives the worker's leases up at once.
    ///
    /// Store failures are retried under the runner's [`RetryPolicy`](crate::RetryPolicy), as
    /// [`run`](Self::run) retries them.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use es_core::prelude::*;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Event, Debug, Serialize, Deserialize)]
    /// # #[event(name = "account.opened")]
    /// # struct Opened { owner: String }
    /// # #[derive(Projection, Default, Debug)]
    /// # #[projection(name = "owners", events(Opened))]
    /// # struct Owners { by_stream: BTreeMap<String, String> }
    /// # impl On<Opened> for Owners {
    /// #     fn on(&mut self, event: &Opened, meta: &EventMeta) {
    /// #         self.by_stream.insert(meta.stream_id.to_string(), event.owner.clone());
    /// #     }
    /// # }
    /// use std::time::Duration;
    /// use es_core::codec::JsonCodec;
    /// use es_core::event::encode_event;
    /// use es_core::projection::Partitions;
    /// use es_memstore::MemStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = MemStore::new();
    /// for n in 0..20 {
    ///     let event = NewEvent::new(encode_event(&JsonCodec, &Opened { owner: format!("owner {n}") })?);
    ///     store.append(&StreamId::new(format!("account-{n}"))?, ExpectedVersion::Any, vec![event]).await?;
    /// }
    /// let owners = ProjectionRunner::new(store.clone(), Owners::default())
    ///     .with_partitions(Partitions::new(4).with_heartbeat(Duration::from_millis(50)));
    /// // Two workers share the four partitions.
    /// let workers: Vec<_> = (0..2)
    ///     .map(|_| {
    ///         let owners = owners.clone();
    ///         tokio::spawn(async move { owners.run_partitioned(std::future::pending()).await })
    ///     })
    ///     .collect();
    /// owners.wait_for(Position(20), Duration::from_secs(5)).await?;
    /// assert_eq!(owners.read().by_stream.len(), 20);
    /// for worker in workers {
    ///     worker.abort();
    /// }
    /// # Ok::<_, Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`ProjectionError::Unpartitionable`] for a target that cannot be split,
    /// [`ProjectionError::OtherPartitionCount`] when the consumer's leases are kept for
    /// another count, and what [`run`](Self::run) returns.
    pub async fn run_partitioned(
        &self,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ProjectionError> {
        self.check_partitionable()?;
        let mut worker = Worker {
            id: Uuid::now_v7(),
            held: Vec::new(),
            cursors: Cursors::default(),
            next_beat: Instant::now(),
            set_up: false,
            failures: 0,
        };
        let mut shutdown = pin!(shutdown);
        let outcome = self.supervise(&mut worker, shutdown.as_mut()).await;
        // A clean stop gives the leases up at once; were this to fail, they run out.
        let released = self.store.release(name::<T>(), worker.id).await;
        if released.is_err() {
            warning!(
                projection = name::<T>(),
                error = ?released,
                "giving up a worker's leases failed; they run out instead",
            );
        }
        outcome
    }

    /// Runs `worker`, retrying store failures under the runner's policy.
    async fn supervise(
        &self,
        worker: &mut Worker,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), ProjectionError> {
        loop {
            let error = match self.follow_held(worker, shutdown.as_mut()).await {
                Ok(()) => return Ok(()),
                Err(error) => error,
            };
            worker.failures += 1;
            if !is_transient(&error) || !self.retry.allows_retry(worker.failures) {
                return Err(error);
            }
            let delay = self.retry.delay(worker.failures);
            self.shared.control.retrying(worker.failures);
            warning!(
                projection = name::<T>(),
                failures = worker.failures,
                retry_in = ?delay,
                error = %error,
                "projection worker failed; retrying",
            );
            if let Either::Left(()) = race(shutdown.as_mut(), sleep(delay)).await {
                return Ok(());
            }
        }
    }

    /// The worker's loop: renews its leases when due, processes the partitions it holds, and
    /// waits for appends (or its next heartbeat) when they are caught up, until `shutdown`.
    async fn follow_held(
        &self,
        worker: &mut Worker,
        mut shutdown: Pin<&mut impl Future<Output = ()>>,
    ) -> Result<(), ProjectionError> {
        loop {
            if let Either::Left(()) = race(shutdown.as_mut(), ready(())).await {
                return Ok(());
            }
            if Instant::now() >= worker.next_beat {
                self.heartbeat(worker).await?;
            }
            let held = worker.held.clone();
            let stepped = self.step(&mut worker.cursors, &held).await?;
            if stepped {
                worker.failures = 0;
            }
            if stepped || (!worker.held.is_empty() && self.work().await?) {
                YieldNow(false).await;
                continue;
            }
            let until_beat = worker.next_beat.saturating_duration_since(Instant::now());
            let lowest = worker.cursors.lowest(worker.held.iter().copied());
            let waiting = async {
                if worker.held.is_empty() {
                    sleep(until_beat).await;
                    return Ok(());
                }
                match race(self.wait(lowest), sleep(until_beat)).await {
                    Either::Left(woken) => woken,
                    Either::Right(()) => Ok(()),
                }
            };
            match race(shutdown.as_mut(), waiting).await {
                Either::Left(()) => return Ok(()),
                Either::Right(woken) => woken?,
            }
        }
    }

    /// Renews the worker's leases and takes up the partitions it holds now: a partition it
    /// gave up forgets its cursor (another worker moves its checkpoint), one it took starts
    /// from its committed checkpoint.
    async fn heartbeat(&self, worker: &mut Worker) -> Result<(), ProjectionError> {
        let partitions = self.partitions;
        let count = partitions.count();
        let answer = self
            .store
            .heartbeat(name::<T>(), worker.id, count, partitions.lease())
            .await
            .map_err(store_error::<T>)?;
        let held: Vec<Partition> = match answer {
            Heartbeat::Held(indexes) => indexes
                .into_iter()
                .filter_map(|index| Partition::new(index, count))
                .collect(),
            Heartbeat::OtherCount { count: stored } => {
                return Err(ProjectionError::OtherPartitionCount {
                    projection: name::<T>(),
                    partitions: count,
                    stored,
                });
            }
        };
        for gone in worker
            .held
            .iter()
            .filter(|partition| !held.contains(partition))
        {
            worker.cursors.set(*gone, None);
        }
        worker.held = held;
        worker.next_beat = Instant::now() + partitions.heartbeat();
        if !worker.set_up && !worker.held.is_empty() {
            self.shared.target.setup().await.map_err(store_error::<T>)?;
            worker.set_up = true;
        }
        Ok(())
    }
}
