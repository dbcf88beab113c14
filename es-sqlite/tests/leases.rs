//! Leases across processes: two `SqliteStore`s opened on one file (each with its own writer
//! connection, as two processes have) share a partitioned consumer's partitions, each
//! partition held by one live worker at a time.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use es_core::projection::{Heartbeat, LeaseStore, Partitions};
use es_sqlite::SqliteStore;
use support::Scratch;
use uuid::Uuid;

/// A lease long enough that nothing runs out during a test.
const LONG: Duration = Duration::from_secs(60);

const COUNT: u32 = 8;

/// Two stores opened on one new file: two processes' views of it.
async fn two_views(what: &str) -> (Scratch, SqliteStore, SqliteStore) {
    let scratch = Scratch::new(what);
    let path = scratch.path("app.db");
    let one = SqliteStore::open(&path).await.expect("open the first view");
    let two = SqliteStore::open(&path)
        .await
        .expect("open the second view");
    (scratch, one, two)
}

/// Worker ids, sorted as the rule ranks them.
fn workers(n: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    ids.sort_unstable();
    ids
}

async fn beat(store: &SqliteStore, worker: Uuid, lease: Duration) -> Vec<u32> {
    match store
        .heartbeat("totals", worker, COUNT, lease)
        .await
        .expect("a heartbeat")
    {
        Heartbeat::Held(partitions) => partitions,
        other => panic!("the consumer is kept for {COUNT} partitions, got {other:?}"),
    }
}

/// Panics unless no partition is in two workers' hands.
fn assert_apart(holding: &BTreeMap<Uuid, Vec<u32>>, when: &str) {
    let mut owner = BTreeMap::new();
    for (worker, partitions) in holding {
        for partition in partitions {
            if let Some(other) = owner.insert(*partition, *worker) {
                panic!("{when}: partition {partition} is held by {other} and {worker}");
            }
        }
    }
}

/// The share of each of `live` (sorted) workers.
fn shares(live: &[Uuid]) -> BTreeMap<Uuid, Vec<u32>> {
    live.iter()
        .enumerate()
        .map(|(rank, id)| (*id, Partitions::share(rank, live.len(), COUNT).collect()))
        .collect()
}

#[tokio::test]
async fn workers_on_two_stores_of_one_file_share_the_partitions() {
    let (_scratch, one, two) = two_views("leases-two-views").await;
    let ids = workers(3);
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let mut holding = BTreeMap::new();

    // The first view's worker is alone: it holds everything.
    holding.insert(a, beat(&one, a, LONG).await);
    assert_eq!(holding[&a], (0..COUNT).collect::<Vec<_>>());
    // The second view's worker sees the first one's leases and takes nothing yet.
    holding.insert(b, beat(&two, b, LONG).await);
    assert_eq!(holding[&b], Vec::<u32>::new());
    assert_apart(&holding, "after b joined");
    // Beat by beat, each through its own view, they move to their shares and never overlap.
    for round in 0..3 {
        holding.insert(a, beat(&one, a, LONG).await);
        assert_apart(&holding, &format!("round {round}, a"));
        holding.insert(b, beat(&two, b, LONG).await);
        assert_apart(&holding, &format!("round {round}, b"));
    }
    assert_eq!(holding, shares(&[a, b]));

    // A third worker joins through the first view; the shares change again.
    for round in 0..3 {
        for (store, worker) in [(&one, c), (&two, b), (&one, a)] {
            holding.insert(worker, beat(store, worker, LONG).await);
            assert_apart(&holding, &format!("round {round} of three"));
        }
    }
    assert_eq!(holding, shares(&[a, b, c]));

    // The first view's workers stop cleanly: the second view's worker takes everything.
    one.release("totals", a).await.expect("release a");
    one.release("totals", c).await.expect("release c");
    assert_eq!(beat(&two, b, LONG).await, (0..COUNT).collect::<Vec<_>>());

    one.close().await;
    two.close().await;
}

#[tokio::test]
async fn a_dead_workers_partitions_are_taken_over_through_another_store() {
    let (_scratch, one, two) = two_views("leases-takeover").await;
    let ids = workers(2);
    let (a, b) = (ids[0], ids[1]);
    let short = Duration::from_millis(200);
    assert_eq!(beat(&one, a, short).await, (0..COUNT).collect::<Vec<_>>());
    assert_eq!(beat(&two, b, LONG).await, Vec::<u32>::new());
    // The first view's worker stops renewing (its process died).
    tokio::time::sleep(short + Duration::from_millis(300)).await;
    assert_eq!(beat(&two, b, LONG).await, (0..COUNT).collect::<Vec<_>>());
    one.close().await;
    two.close().await;
}

/// Heartbeats through both stores at once: SQLite's write lock runs them one at a time, so
/// after every worker has beaten once more, their partitions are apart; and they settle on
/// their shares.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_heartbeats_through_two_stores_keep_partitions_apart() {
    let (_scratch, one, two) = two_views("leases-concurrent").await;
    let ids = workers(4);
    let mut holding: BTreeMap<Uuid, Vec<u32>> = BTreeMap::new();
    for round in 0..6 {
        let beats: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(n, worker)| {
                let (store, worker) = (if n % 2 == 0 { &one } else { &two }.clone(), *worker);
                tokio::spawn(async move { (worker, beat(&store, worker, LONG).await) })
            })
            .collect();
        for handle in beats {
            let (worker, held) = handle.await.expect("a heartbeat task");
            holding.insert(worker, held);
        }
        assert_apart(&holding, &format!("after round {round}"));
    }
    assert_eq!(holding, shares(&ids), "every worker holds its share");
    one.close().await;
    two.close().await;
}
