//! Consumers split into partitions: every event is applied once, each stream's events in
//! order, whether one call processes every partition or workers share them by leases; workers
//! that stop or die hand their partitions over; a consumer is never split two ways.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::Duration;

use es_core::codec::JsonCodec;
use es_core::event::encode_event;
use es_core::prelude::*;
use es_core::projection::{LeaseStore, Partition, Partitions};
use es_memstore::MemStore;
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

const WITHIN: Duration = Duration::from_secs(10);

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "counter.ticked")]
struct Ticked {
    n: u64,
}

/// Each stream's ticks as applied, and how many arrived out of their stream's order.
#[derive(Projection, Default, Debug, Clone, PartialEq)]
#[projection(name = "ticks", events(Ticked))]
struct Ticks {
    per_stream: BTreeMap<String, Vec<u64>>,
    out_of_order: u64,
}

impl On<Ticked> for Ticks {
    fn on(&mut self, event: &Ticked, meta: &EventMeta) {
        let ticks = self
            .per_stream
            .entry(meta.stream_id.to_string())
            .or_default();
        if ticks.last().map_or(1, |last| last + 1) != event.n {
            self.out_of_order += 1;
        }
        ticks.push(event.n);
    }
}

impl Ticks {
    /// Whether the read model holds `ticks` ticks on each of `streams` streams, each once and
    /// in order.
    fn is_exact(&self, streams: u64, ticks: u64) -> bool {
        self.out_of_order == 0
            && self.per_stream.len() as u64 == streams
            && self
                .per_stream
                .values()
                .all(|applied| *applied == (1..=ticks).collect::<Vec<_>>())
    }
}

/// Appends `ticks` rounds of one tick to each of `streams` streams, interleaved; returns the
/// last position.
async fn tick(store: &MemStore, streams: u64, from: u64, ticks: u64) -> Position {
    let mut last = Position::START;
    for n in from..from + ticks {
        for stream in 0..streams {
            let event = NewEvent::new(encode_event(&JsonCodec, &Ticked { n }).unwrap());
            let id = StreamId::new(format!("counter-{stream}")).unwrap();
            last = store
                .append(&id, ExpectedVersion::Any, vec![event])
                .await
                .unwrap()
                .last_position;
        }
    }
    last
}

fn quick(count: u32) -> Partitions {
    Partitions::new(count)
        .with_lease(Duration::from_millis(300))
        .with_heartbeat(Duration::from_millis(50))
}

#[tokio::test]
async fn a_split_catch_up_builds_what_a_whole_one_builds() {
    let store = MemStore::new();
    let end = tick(&store, 30, 1, 20).await;
    let whole = ProjectionRunner::new(store.clone(), Ticks::default());
    assert_eq!(whole.catch_up().await.unwrap(), end);
    let split = ProjectionRunner::new(store.clone(), Ticks::default())
        .with_batch_size(7)
        .with_partitions(Partitions::new(4));
    assert_eq!(split.catch_up().await.unwrap(), end);
    assert!(split.read().is_exact(30, 20), "{:?}", split.read());
    assert_eq!(*split.read(), *whole.read());
}

/// Counts the reads of the log.
#[derive(Clone, Default)]
struct CountReads(std::sync::Arc<std::sync::atomic::AtomicU64>);

impl es_core::testing::hooked::StoreHooks<MemStore> for CountReads {
    async fn read_all(
        &self,
        inner: &MemStore,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, es_core::StoreError> {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        inner.read_all(after, max_count).await
    }
}

#[tokio::test]
async fn partitions_at_one_position_share_one_read() {
    let store = MemStore::new();
    tick(&store, 10, 1, 10).await; // 100 events: 10 batches of 10
    let reads = CountReads::default();
    let counted = es_core::testing::hooked::Hooked::new(store.clone(), reads.clone());
    let split = ProjectionRunner::new(counted, Ticks::default())
        .with_batch_size(10)
        .with_partitions(Partitions::new(4));
    split.catch_up().await.unwrap();
    assert!(split.read().is_exact(10, 10));
    // 10 batches, and 1 read finding the end: not 4 of each.
    assert_eq!(reads.0.load(std::sync::atomic::Ordering::Relaxed), 11);
}

#[tokio::test]
async fn partitions_keep_checkpoints_of_their_own() {
    let store = MemStore::new();
    let end = tick(&store, 12, 1, 5).await;
    let target = InMemory::new(Ticks::default()).with_checkpoints(store.clone());
    let split = ProjectionRunner::new(store.clone(), target).with_partitions(Partitions::new(3));
    split.catch_up().await.unwrap();
    for partition in Partition::all(3) {
        let name = partition.checkpoint_name("ticks");
        assert_eq!(
            store.load_checkpoint(&name).await.unwrap(),
            Some(end),
            "{name}"
        );
    }
    assert_eq!(store.load_checkpoint("ticks").await.unwrap(), None);
    assert_eq!(split.checkpoint().await.unwrap(), end);

    // A rebuild forgets them all and builds the same read model again.
    let before = split.read().clone();
    assert_eq!(split.rebuild().await.unwrap(), end);
    assert_eq!(*split.read(), before);
}

#[tokio::test]
async fn a_consumer_processed_whole_is_not_split_without_a_rebuild() {
    let store = MemStore::new();
    tick(&store, 4, 1, 3).await;
    let whole = ProjectionRunner::new(
        store.clone(),
        InMemory::new(Ticks::default()).with_checkpoints(store.clone()),
    );
    whole.catch_up().await.unwrap();
    let split = ProjectionRunner::new(
        store.clone(),
        InMemory::new(Ticks::default()).with_checkpoints(store.clone()),
    )
    .with_partitions(Partitions::new(2));
    let refused = split.catch_up().await;
    assert!(
        matches!(
            refused,
            Err(ProjectionError::OtherPartitionCount {
                partitions: 2,
                stored: 1,
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(split.read().per_stream.is_empty(), "nothing applied twice");
    split.rebuild().await.unwrap();
    assert!(split.read().is_exact(4, 3));
}

/// `count` workers of `runner`, each in a task of its own.
fn workers<T, S>(
    runner: &ProjectionRunner<T, S>,
    count: usize,
) -> Vec<JoinHandle<Result<(), ProjectionError>>>
where
    T: es_core::projection::Target,
    S: EventStore + LeaseStore,
{
    (0..count)
        .map(|_| {
            let runner = runner.clone();
            tokio::spawn(async move { runner.run_partitioned(std::future::pending()).await })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_the_partitions_and_take_over_from_a_dead_one() {
    let store = MemStore::new();
    let ticks = ProjectionRunner::new(store.clone(), Ticks::default()).with_partitions(quick(8));
    let mut running = workers(&ticks, 3);
    let end = tick(&store, 40, 1, 10).await;
    ticks.wait_for(end, WITHIN).await.unwrap();
    assert!(ticks.read().is_exact(40, 10), "{:?}", ticks.read());

    // One worker dies: its task is gone without a word (its leases are never given up).
    running.remove(0).abort();
    let end = tick(&store, 40, 11, 10).await;
    ticks.wait_for(end, WITHIN).await.unwrap();
    assert!(ticks.read().is_exact(40, 20), "{:?}", ticks.read());

    // A newcomer joins and shares the rest.
    running.extend(workers(&ticks, 1));
    let end = tick(&store, 40, 21, 10).await;
    ticks.wait_for(end, WITHIN).await.unwrap();
    assert!(ticks.read().is_exact(40, 30), "{:?}", ticks.read());
    for worker in running {
        assert!(
            !worker.is_finished(),
            "a worker stopped: {:?}",
            worker.await
        );
        worker.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_hands_its_partitions_over_at_once() {
    let store = MemStore::new();
    // A lease far longer than the test: only a release can hand partitions over in time.
    let partitions = Partitions::new(4)
        .with_lease(Duration::from_secs(600))
        .with_heartbeat(Duration::from_millis(50));
    let ticks = ProjectionRunner::new(store.clone(), Ticks::default()).with_partitions(partitions);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let leaving = {
        let ticks = ticks.clone();
        tokio::spawn(async move {
            ticks
                .run_partitioned(async {
                    let _ = stopped.await;
                })
                .await
        })
    };
    let staying = workers(&ticks, 1);
    let end = tick(&store, 10, 1, 5).await;
    ticks.wait_for(end, WITHIN).await.unwrap();
    stop.send(()).unwrap();
    leaving.await.unwrap().unwrap();
    let end = tick(&store, 10, 6, 5).await;
    ticks.wait_for(end, WITHIN).await.unwrap();
    assert!(ticks.read().is_exact(10, 10), "{:?}", ticks.read());
    for worker in staying {
        worker.abort();
    }
}

#[tokio::test]
async fn workers_of_another_count_are_refused() {
    let store = MemStore::new();
    let four = ProjectionRunner::new(store.clone(), Ticks::default()).with_partitions(quick(4));
    let running = workers(&four, 1);
    let end = tick(&store, 3, 1, 2).await;
    four.wait_for(end, WITHIN).await.unwrap();
    let eight = ProjectionRunner::new(store.clone(), Ticks::default()).with_partitions(quick(8));
    let refused = eight.run_partitioned(std::future::pending()).await;
    assert!(
        matches!(
            refused,
            Err(ProjectionError::OtherPartitionCount {
                partitions: 8,
                stored: 4,
                ..
            })
        ),
        "{refused:?}"
    );
    for worker in running {
        worker.abort();
    }
}

#[tokio::test]
async fn a_process_manager_is_not_split() {
    let store = MemStore::new();
    let transfers =
        ProjectionRunner::new(store.clone(), es_examples::bank::process::workflow(&store))
            .with_partitions(Partitions::new(2));
    let refused = transfers.catch_up().await;
    assert!(
        matches!(
            refused,
            Err(ProjectionError::Unpartitionable { partitions: 2, .. })
        ),
        "{refused:?}"
    );
    let refused = transfers.run_partitioned(std::future::pending()).await;
    assert!(
        matches!(refused, Err(ProjectionError::Unpartitionable { .. })),
        "{refused:?}"
    );
}
