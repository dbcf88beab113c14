//! `ProjectionRunner::run` supervises itself: store failures are retried under its
//! `RetryPolicy` with nothing lost or repeated and counted in `status()`; what retrying cannot
//! fix (a decode error, a panic) ends the run at once; `RetryPolicy::NEVER` returns the first
//! failure; shutdown during a backoff stops the run.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use es_core::prelude::*;
use es_core::{RetryPolicy, StoreError};
use es_examples::user::views::UserStats;
use es_examples::user::{RegisterUser, User, UserId};
use es_memstore::MemStore;
use es_tests::{failing_reads, plant};
use tokio::sync::oneshot;

const WITHIN: Duration = Duration::from_secs(10);

/// Quick retries, so the tests spend no time backing off.
const QUICK: RetryPolicy = RetryPolicy::TRANSIENT.with_max_delay(Duration::from_millis(2));

async fn register(users: &Repository<User, impl EventStore>, id: &str) -> Position {
    users
        .execute(RegisterUser {
            user_id: UserId::new(id),
            first_name: id.into(),
            last_name: "Test".into(),
            email: format!("{id}@example.com"),
        })
        .await
        .unwrap()
        .last_position
        .unwrap()
}

/// The stop signal of a run, and the run's task.
type Live = (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<Position, ProjectionError>>,
);

fn spawn_run<T: es_core::projection::Target, S: EventStore>(
    runner: &ProjectionRunner<T, S>,
) -> Live {
    let (stop, stopped) = oneshot::channel::<()>();
    let runner = runner.clone();
    let task = tokio::spawn(async move {
        runner
            .run(async {
                let _ = stopped.await;
            })
            .await
    });
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_are_retried_with_nothing_lost_or_repeated() {
    let store = failing_reads(MemStore::new());
    let users = Repository::<User, _>::new(store.clone());
    register(&users, "ada").await;
    let stats = ProjectionRunner::new(store.clone(), UserStats::default())
        .with_batch_size(2)
        .with_retry(QUICK);
    // Fails before the first batch, then between batches of a live run.
    store.hooks.fail_next(3);
    let (stop, live) = spawn_run(&stats);
    let mut head = Position::START;
    for round in 0..5 {
        head = register(&users, &format!("u{round}")).await;
        store.hooks.fail_next(2);
    }
    stats.wait_for(head, WITHIN).await.unwrap();
    assert_eq!(stats.read().registered, 6, "each event counted once");
    let status = stats.status();
    assert!(status.live && !status.halted);
    assert!(status.retried >= 3, "the failures were retried: {status:?}");
    stop.send(()).unwrap();
    assert_eq!(live.await.unwrap().unwrap(), head);
    assert!(!stats.status().live);
}

#[tokio::test]
async fn retrying_gives_up_when_the_policy_does_and_never_returns_the_first_failure() {
    let store = failing_reads(MemStore::new());
    let users = Repository::<User, _>::new(store.clone());
    register(&users, "ada").await;

    store.hooks.fail_next(100);
    let three = ProjectionRunner::new(store.clone(), UserStats::default())
        .with_retry(QUICK.with_max_attempts(3));
    let failed = three.run(std::future::pending()).await;
    assert!(
        matches!(
            failed,
            Err(ProjectionError::Store {
                source: StoreError::Backend(_),
                ..
            })
        ),
        "{failed:?}"
    );
    assert_eq!(three.status().retried, 2, "three attempts, two retries");
    assert_eq!(store.hooks.remaining(), 97);

    let never =
        ProjectionRunner::new(store.clone(), UserStats::default()).with_retry(RetryPolicy::NEVER);
    assert!(never.run(std::future::pending()).await.is_err());
    assert_eq!(never.status().retried, 0);
    assert_eq!(store.hooks.remaining(), 96, "one attempt");
}

#[tokio::test]
async fn what_retrying_cannot_fix_ends_the_run_at_once() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    register(&users, "ada").await;
    plant(&store, "user-bob", "user.created", 2, b"not json")
        .await
        .unwrap();
    let stats = ProjectionRunner::new(store.clone(), UserStats::default()).with_retry(QUICK);
    let failed = tokio::time::timeout(WITHIN, stats.run(std::future::pending()))
        .await
        .expect("the run ends on its own");
    assert!(
        matches!(failed, Err(ProjectionError::Decode { .. })),
        "{failed:?}"
    );
    assert_eq!(stats.status().retried, 0);
    assert_eq!(stats.position(), Position(1), "at the last good event");
    assert!(!stats.status().live);
}

#[tokio::test]
async fn shutdown_during_a_backoff_stops_the_run() {
    let store = failing_reads(MemStore::new());
    let users = Repository::<User, _>::new(store.clone());
    register(&users, "ada").await;
    store.hooks.fail_next(u32::MAX / 2);
    // Long delays: the run is backing off when the shutdown comes.
    let patient = RetryPolicy::TRANSIENT
        .with_initial_delay(Duration::from_secs(60))
        .with_max_delay(Duration::from_secs(60));
    let stats = ProjectionRunner::new(store.clone(), UserStats::default()).with_retry(patient);
    let (stop, live) = spawn_run(&stats);
    tokio::time::timeout(WITHIN, async {
        while stats.status().retried == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("the run meets a failure");
    assert_eq!(stats.status().failing, 1);
    stop.send(()).unwrap();
    let stopped = tokio::time::timeout(WITHIN, live)
        .await
        .expect("shutdown ends the backoff")
        .unwrap();
    assert_eq!(stopped.unwrap(), Position::START);
}
