//! Faults, made deterministic: a connection killed in the middle of an append, a server
//! restart under a live subscription and under a projection, and an exhausted pool.
//!
//! The restart tests run on a throwaway server of their own (`testing::server_or_skip`), so
//! restarting it cannot break the other tests of this binary, which share one server.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::time::{Duration, Instant};

use es_core::projection::InMemory;
use es_core::{EventStore, ExpectedVersion, NewEvent, Position, ProjectionRunner, Version};
use es_postgres::sqlx;
use es_postgres::sqlx::postgres::PgPoolOptions;
use es_postgres::{PgStore, PgStoreOptions, testing};
use uuid::Uuid;

mod support;
use support::{
    Counter, Follower, NO_POLLING, WITHIN, append_retrying, assert_counted_once, driver_error,
    event, log_positions, own_pool, restart, stream, wait_for_listener, with_command,
};

/// Events `from..from + count`, each carrying `command_id`.
fn batch(from: u64, count: u64, command_id: Uuid) -> Vec<NewEvent> {
    with_command((from..from + count).map(event).collect(), command_id)
}

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 4;

/// How many of them restart a server of their own, which `DATABASE_URL` cannot provide.
const RESTART_TESTS: usize = 2;

/// A server of the test's own (see `support::own_server_or_skip`).
fn own_server_or_skip() -> Option<testing::TestServer> {
    support::own_server_or_skip(TESTS, RESTART_TESTS)
}

// ---------------------------------------------------------------------------------------------
// A connection killed mid-append

/// An append of five events to a stream at version 1 writes versions 2 to 6. Another
/// transaction holds an uncommitted row at version 4, so the append inserts versions 2 and 3
/// (in its transaction, after taking its positions) and then waits on that row. Its backend
/// is terminated there. The append must fail with a typed error, leave none of its rows,
/// and succeed when retried through the same store.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_mid_append_writes_nothing_and_the_retry_succeeds() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let killed = stream("killed");
    store
        .append(&killed, ExpectedVersion::NoStream, vec![event(0)])
        .await
        .expect("the first event");

    // The blocker: an uncommitted row at version 4 of the stream.
    let mut blocker = pool.begin().await.expect("begin");
    let blocker_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *blocker)
        .await
        .expect("the blocker's pid");
    sqlx::query(&format!(
        "INSERT INTO {}.events (position, stream_id, stream_version, event_id, name, \
         schema_version, payload, metadata, transaction_id) \
         VALUES ($1, $2, 4, $3, 'blocker', 1, '', '{{}}', pg_current_xact_id())",
        store.schema()
    ))
    .bind(i64::MAX)
    .bind(killed.as_str())
    .bind(Uuid::now_v7())
    .execute(&mut *blocker)
    .await
    .expect("the blocking row");

    let command_id = Uuid::now_v7();
    let events = batch(1, 5, command_id);
    let event_ids: Vec<Uuid> = events.iter().map(|event| event.event_id.0).collect();
    let append = tokio::spawn({
        let store = store.clone();
        let killed = killed.clone();
        let events = events.clone();
        async move {
            store
                .append(&killed, ExpectedVersion::Exact(Version(1)), events)
                .await
        }
    });

    // The append's backend: the one waiting on the blocker, inside the append function,
    // with a transaction id (it has taken its positions and is inserting).
    let victim: i32 = tokio::time::timeout(WITHIN, async {
        loop {
            let row: Option<(i32, String, bool)> = sqlx::query_as(
                "SELECT pid, query, backend_xid IS NOT NULL FROM pg_stat_activity \
                 WHERE $1 = ANY(pg_blocking_pids(pid))",
            )
            .bind(blocker_pid)
            .fetch_optional(&pool)
            .await
            .expect("pg_stat_activity");
            if let Some((pid, query, has_xid)) = row {
                assert!(
                    query.contains(&format!("{}.append(", store.schema())),
                    "the blocked backend runs the append: {query}"
                );
                assert!(has_xid, "the blocked append has taken its positions");
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the append to block on the uncommitted row");

    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(victim)
        .fetch_one(&pool)
        .await
        .expect("pg_terminate_backend");
    assert!(terminated);
    let result = tokio::time::timeout(WITHIN, append)
        .await
        .expect("the killed append to return")
        .expect("the append task");
    let error = result.expect_err("an append whose connection was killed fails");
    let driver = driver_error(&error);
    eprintln!("the killed append failed with: {driver}");
    blocker.rollback().await.expect("roll the blocker back");

    // Nothing of the batch is in the table.
    let rows: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {}.events WHERE stream_id = $1 OR event_id = ANY($2)",
        store.schema()
    ))
    .bind(killed.as_str())
    .bind(&event_ids)
    .fetch_one(&pool)
    .await
    .expect("count the stream's rows");
    assert_eq!(rows, 1, "only the first event: no row of the killed batch");
    assert_eq!(
        store.stream_version(&killed).await.expect("version"),
        Version(1)
    );

    // The same append, retried through the same store, succeeds: it was not written, so it
    // is not a duplicate.
    let appended = store
        .append(&killed, ExpectedVersion::Exact(Version(1)), events.clone())
        .await
        .expect("the retry succeeds");
    assert!(!appended.duplicate);
    assert_eq!(appended.stream_version, Version(6));
    let again = store
        .append(&killed, ExpectedVersion::Exact(Version(1)), events)
        .await
        .expect("a second retry");
    assert!(again.duplicate, "a second retry is answered by idempotency");

    let stored = store
        .read_stream(&killed, Version(1), 100)
        .await
        .expect("read the stream");
    let versions: Vec<u64> = stored.iter().map(|event| event.stream_version.0).collect();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6], "versions are contiguous");
    let stored_ids: Vec<Uuid> = stored[1..].iter().map(|event| event.event_id.0).collect();
    assert_eq!(stored_ids, event_ids);
    // The killed append's positions are a hole that readers pass over.
    let positions = log_positions(&store).await;
    assert_eq!(positions.len(), 6);
    assert!(positions.is_sorted());
    testing::drop_schema(&store).await.expect("drop schema");
}

// ---------------------------------------------------------------------------------------------
// Server restarts

/// A live subscriber (following the log with `next()`, polled again after any error, as
/// `Subscription::next` documents) delivers every event exactly once, in position order,
/// across a server restart; after the restart the store's listener reconnects and
/// `wait_for_events` is woken by notifications again (the poll interval is 60 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_subscription_survives_a_server_restart() {
    let Some(server) = own_server_or_skip() else {
        return;
    };
    let pool = own_pool(server.url()).await;
    let options = PgStoreOptions::new().with_poll_interval(NO_POLLING);
    let store = testing::fresh_store_with(&pool, options)
        .await
        .expect("a fresh store");
    let mut appended = Vec::new();
    for n in 0..2 {
        let events = vec![event(n)];
        appended.push(events[0].event_id.0);
        append_retrying(&store, &stream(&format!("before-{n}")), events).await;
    }

    // The subscriber, in a task: every delivered event goes to `received`, and it goes on
    // after any error it meets.
    let mut subscriber = Follower::spawn(store.subscribe(Position::START).with_batch_size(2));
    let mut received = Vec::new();

    // Stored events, then live ones.
    received.extend(subscriber.receive(2).await);
    for n in 2..4 {
        let events = vec![event(n)];
        appended.push(events[0].event_id.0);
        append_retrying(&store, &stream(&format!("live-{n}")), events).await;
    }
    received.extend(subscriber.receive(2).await);
    // The subscriber is now waiting, woken through the listener's connection.
    wait_for_listener(&pool, &store).await;

    restart(&server).await;

    // The listener comes back by itself, and notifications wake waiters again.
    wait_for_listener(&pool, &store).await;
    for n in 4..8 {
        let events = vec![event(n)];
        appended.push(events[0].event_id.0);
        append_retrying(&store, &stream(&format!("after-{n}")), events).await;
    }
    received.extend(subscriber.receive(4).await);

    // `wait_for_events` itself, after the restart: woken by the next append's notification.
    let end = received.last().expect("events").position;
    let waiter = tokio::spawn({
        let store = store.clone();
        async move {
            let started = Instant::now();
            loop {
                match store.wait_for_events(end).await {
                    Ok(()) if store.read_all(end, 1).await.is_ok_and(|e| !e.is_empty()) => {
                        return started.elapsed();
                    }
                    // A spurious wake-up (allowed) or an error: wait again.
                    _ => {}
                }
            }
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = vec![event(8)];
    appended.push(events[0].event_id.0);
    append_retrying(&store, &stream("woken"), events).await;
    let waited = tokio::time::timeout(WITHIN, waiter)
        .await
        .expect("wait_for_events to be woken well before the 60 s poll")
        .expect("the waiter task");
    assert!(waited < WITHIN);
    received.extend(subscriber.receive(1).await);

    // Nothing more, nothing twice, nothing out of order.
    subscriber.assert_nothing_more().await;
    let positions: Vec<u64> = received.iter().map(|event| event.position.0).collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] < pair[1]),
        "position order, no duplicate: {positions:?}"
    );
    assert_eq!(positions, log_positions(&store).await, "no gap");
    let ids: Vec<Uuid> = received.iter().map(|event| event.event_id.0).collect();
    assert_eq!(ids, appended);
    let errors = subscriber.errors();
    for error in &errors {
        eprintln!("the subscriber met (and got past): {error}");
    }
    eprintln!("subscriber errors across the restart: {}", errors.len());
}

/// Catches up, retrying on a store error for up to `WITHIN`; returns the position reached.
async fn catch_up_retrying(
    runner: &ProjectionRunner<InMemory<Counter, PgStore>, PgStore>,
) -> Position {
    let deadline = Instant::now() + WITHIN;
    loop {
        match runner.catch_up().await {
            Ok(position) => return position,
            Err(error) if Instant::now() < deadline => {
                eprintln!("catch-up after a fault failed, retrying: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("catch up: {error}"),
        }
    }
}

/// A projection with its checkpoints in PostgreSQL catches up, the server restarts, more
/// events are appended, and it catches up again: every event counted exactly once, and the
/// checkpoint at the end of the log. A new runner on the same checkpoints (another process
/// starting) resumes after it and is handed nothing again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projection_survives_a_server_restart() {
    let Some(server) = own_server_or_skip() else {
        return;
    };
    let pool = own_pool(server.url()).await;
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let counter = InMemory::new(Counter::default()).with_checkpoints(store.clone());
    let runner = ProjectionRunner::new(store.clone(), counter).with_batch_size(3);
    for n in 0..10 {
        append_retrying(&store, &stream(&format!("p-{}", n % 3)), vec![event(n)]).await;
    }
    let first = catch_up_retrying(&runner).await;
    assert_eq!(runner.read().seen.len(), 10);

    restart(&server).await;

    for n in 10..20 {
        append_retrying(&store, &stream(&format!("p-{}", n % 3)), vec![event(n)]).await;
    }
    let reached = catch_up_retrying(&runner).await;
    assert!(reached > first);

    let log = log_positions(&store).await;
    assert_eq!(log.len(), 20);
    assert_eq!(reached.0, *log.last().expect("events"));
    let counted = runner.read().seen.clone();
    assert_counted_once(&counted, &log, &store, reached).await;

    let counter = InMemory::new(Counter::default()).with_checkpoints(store.clone());
    let resumed = ProjectionRunner::new(store.clone(), counter);
    assert_eq!(catch_up_retrying(&resumed).await, reached);
    assert!(resumed.read().seen.is_empty(), "nothing handed over twice");
}

// ---------------------------------------------------------------------------------------------
// An exhausted pool

/// A store on a pool of one connection with a 300 ms acquire timeout: while that connection
/// is held elsewhere, appends wait for the timeout, then fail with `StoreError::Backend`
/// holding `sqlx::Error::PoolTimedOut` (and write nothing); once it is released they succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exhausted_pool_waits_then_returns_a_typed_error() {
    const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(300);
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(database.url())
        .await
        .expect("a pool of one");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let exhausted = stream("exhausted");

    let held = pool.acquire().await.expect("the only connection");
    let started = Instant::now();
    let appends: Vec<_> = (0..4)
        .map(|n| {
            let store = store.clone();
            let exhausted = exhausted.clone();
            tokio::spawn(async move {
                let result = store
                    .append(&exhausted, ExpectedVersion::Any, vec![event(n)])
                    .await;
                (result, started.elapsed())
            })
        })
        .collect();
    for append in appends {
        let (result, waited) = tokio::time::timeout(WITHIN, append)
            .await
            .expect("the append to return, not hang")
            .expect("the append task");
        let error = result.expect_err("no connection for the append");
        assert!(
            matches!(driver_error(&error), sqlx::Error::PoolTimedOut),
            "PoolTimedOut, got {error:?}"
        );
        assert!(
            waited >= ACQUIRE_TIMEOUT,
            "waited for the acquire timeout: {waited:?}"
        );
        assert!(
            waited < ACQUIRE_TIMEOUT + Duration::from_secs(5),
            "then gave up: {waited:?}"
        );
    }

    drop(held);
    for n in 0..4 {
        let appended = store
            .append(
                &exhausted,
                ExpectedVersion::Exact(Version(n)),
                vec![event(n)],
            )
            .await
            .expect("an append once the connection is back");
        assert_eq!(appended.stream_version, Version(n + 1));
    }
    let versions: Vec<u64> = store
        .read_stream(&exhausted, Version(1), 100)
        .await
        .expect("read")
        .iter()
        .map(|event| event.stream_version.0)
        .collect();
    assert_eq!(
        versions,
        [1, 2, 3, 4],
        "the timed-out appends wrote nothing"
    );
    testing::drop_schema(&store).await.expect("drop schema");
}
