//! Partition leases under concurrent heartbeats: workers of one consumer heartbeating all at
//! once never hold one partition twice, and settle on their shares.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::collections::BTreeSet;
use std::time::Duration;

use es_core::projection::{Heartbeat, LeaseStore, Partitions};
use es_postgres::testing;
use uuid::Uuid;

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 1;

const WORKERS: usize = 6;
const PARTITIONS: u32 = 8;
/// Long enough that no lease runs out during the test.
const LEASE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_heartbeats_never_share_a_partition() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let mut workers: Vec<Uuid> = (0..WORKERS).map(|_| Uuid::now_v7()).collect();
    workers.sort_unstable();

    let mut last = Vec::new();
    for round in 0..10 {
        // Every worker heartbeats at once, each from a task of its own.
        let beats: Vec<_> = workers
            .iter()
            .map(|worker| {
                let (store, worker) = (store.clone(), *worker);
                tokio::spawn(
                    async move { store.heartbeat("totals", worker, PARTITIONS, LEASE).await },
                )
            })
            .collect();
        let mut held = Vec::new();
        for beat in beats {
            match beat.await.expect("the task ran").expect("a heartbeat") {
                Heartbeat::Held(partitions) => held.push(partitions),
                other => panic!("round {round}: {other:?}"),
            }
        }
        // A partition answered to one worker is held by it until its own next heartbeat.
        let mut seen = BTreeSet::new();
        for partitions in &held {
            for partition in partitions {
                assert!(
                    seen.insert(*partition),
                    "round {round}: partition {partition} held twice: {held:?}"
                );
            }
        }
        last = held;
    }
    // By now every worker holds its share: partition p goes to the (p % 6)-th worker by id.
    let shares: Vec<Vec<u32>> = (0..WORKERS)
        .map(|rank| Partitions::share(rank, WORKERS, PARTITIONS).collect())
        .collect();
    assert_eq!(last, shares, "the workers settled on their shares");

    testing::drop_schema(&store).await.expect("drop schema");
}
