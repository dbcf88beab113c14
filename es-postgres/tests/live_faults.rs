//! Live consumers across faults (issue #9, items 5 and 8): a subscription whose store's
//! connections (pooled and `LISTEN`) are killed while writers go on, and a live
//! `ProjectionRunner::run` (in memory with checkpoints in PostgreSQL, and into tables) across
//! a server restart: once retrying by itself, once returning at the first error to a
//! supervisor loop around it. All deliver everything once, with no gap.
//!
//! Both stores under attack use pools with `test_before_acquire(false)`: a killed idle
//! connection is then handed out and fails the next statement, so the consumers meet the
//! fault for certain instead of having the pool replace the connection unseen (the default
//! pool checks each connection before handing it out, which hides most of these faults).

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::str::FromStr as _;
use std::time::Duration;

use es_core::projection::{InMemory, Target};
use es_core::{
    Codec, DecodeError, EventDescriptor, EventId, EventStore, Position, Projection,
    ProjectionError, ProjectionRunner, RecordedEvent, RetryPolicy, StoreError,
};
use es_postgres::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use es_postgres::sqlx::{self, PgConnection, PgPool};
use es_postgres::{PgProjection, PgStore, PgStoreOptions, PgTables, testing};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

mod support;
use support::{
    Counter, Follower, NO_POLLING, WITHIN, append_retrying, assert_counted_once, event,
    log_positions, own_pool, restart, stream, wait_for_listener, whole_log, with_command,
};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 5;

/// How many of them restart a server of their own, which `DATABASE_URL` cannot provide.
const RESTART_TESTS: usize = 4;

/// A pool to `url` whose connections carry `application_name` (so the test can find and
/// kill them) and are not checked before use.
async fn unchecked_pool(url: &str, application_name: &str) -> PgPool {
    let options = PgConnectOptions::from_str(url)
        .expect("a valid URL")
        .application_name(application_name);
    PgPoolOptions::new()
        .max_connections(4)
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .expect("a pool")
}

/// Terminates every backend named `application_name`; returns how many.
async fn kill_all(pool: &PgPool, application_name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1",
    )
    .bind(application_name)
    .fetch_one(pool)
    .await
    .expect("pg_terminate_backend")
}

/// `writers` tasks, each appending `appends` single events (with command ids, retried after
/// a fault) to a stream of its own, `pause` apart. Returns the tasks, each answering the
/// event ids it appended.
fn spawn_writers(
    store: &PgStore,
    name: &str,
    writers: u64,
    appends: u64,
    pause: Duration,
) -> Vec<JoinHandle<Vec<EventId>>> {
    (0..writers)
        .map(|writer| {
            let store = store.clone();
            let stream_id = stream(&format!("{name}-{writer}"));
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in 0..appends {
                    let events = with_command(vec![event(n)], Uuid::now_v7());
                    ids.push(events[0].event_id);
                    append_retrying(&store, &stream_id, events).await;
                    tokio::time::sleep(pause).await;
                }
                ids
            })
        })
        .collect()
}

/// The event ids the writers appended, once they are done.
async fn appended_ids(writers: Vec<JoinHandle<Vec<EventId>>>) -> Vec<EventId> {
    let mut ids = Vec::new();
    for writer in writers {
        let written = tokio::time::timeout(WITHIN * 3, writer)
            .await
            .expect("a writer to finish")
            .expect("the writer task");
        ids.extend(written);
    }
    ids
}

/// A live subscriber on a store whose connections are killed: first all at once while it
/// waits (the `LISTEN` connection and every pooled one), then every 100 ms while three
/// writers append through the same store. The subscriber meets typed errors
/// (`StoreError::Backend`), is polled again, and delivers exactly the log: every event once,
/// in position order, no gap. The poll interval is 60 s: after each kill the store's
/// listener reconnects and notifications wake the subscriber again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_subscription_survives_killed_connections() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let killer = database.pool().await.expect("a pool");
    let victim = format!("es-victim-{}", Uuid::now_v7().simple());
    let pool = unchecked_pool(database.url(), &victim).await;
    let options = PgStoreOptions::new().with_poll_interval(NO_POLLING);
    let store = testing::fresh_store_with(&pool, options)
        .await
        .expect("a fresh store");
    let mut appended = appended_ids(spawn_writers(&store, "before", 1, 3, Duration::ZERO)).await;
    let mut follower = Follower::spawn(store.subscribe(Position::START).with_batch_size(2));
    let mut delivered = follower.receive(3).await;
    wait_for_listener(&killer, &store).await;

    // Every connection at once, while the subscriber waits.
    let killed = kill_all(&killer, &victim).await;
    assert!(
        killed >= 2,
        "the LISTEN connection and a pooled one: {killed}"
    );
    wait_for_listener(&killer, &store).await;
    appended.extend(appended_ids(spawn_writers(&store, "after", 1, 3, Duration::ZERO)).await);
    delivered.extend(follower.receive(3).await);
    // Whether this first read met a killed connection is a race: the reconnecting listener
    // and the writers may take the killed pooled connections first. Over the whole test the
    // subscriber must have met one (checked at the end).
    let errors = follower.errors();

    // Again and again, while writers append.
    let writers = spawn_writers(&store, "during", 3, 30, Duration::from_millis(5));
    let mut kills = 0;
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        kills += kill_all(&killer, &victim).await;
    }
    let during = appended_ids(writers).await;
    delivered.extend(follower.receive(during.len()).await);
    appended.extend(during);
    follower.assert_nothing_more().await;

    let log = whole_log(&store).await;
    let positions: Vec<Position> = delivered.iter().map(|event| event.position).collect();
    let logged: Vec<Position> = log.iter().map(|event| event.position).collect();
    assert_eq!(
        positions, logged,
        "every event once, in position order, no gap"
    );
    let mut delivered_ids: Vec<EventId> = delivered.iter().map(|event| event.event_id).collect();
    delivered_ids.sort_unstable();
    appended.sort_unstable();
    assert_eq!(delivered_ids, appended, "exactly the appended events");
    let errors: Vec<StoreError> = errors.into_iter().chain(follower.errors()).collect();
    assert!(
        !errors.is_empty(),
        "the subscriber read on a killed connection at least once and met the error"
    );
    for error in &errors {
        assert!(matches!(error, StoreError::Backend(_)), "typed: {error:?}");
    }
    eprintln!(
        "{kills} connections killed while writing; the subscriber met {} errors",
        errors.len()
    );
    testing::drop_schema(&store).await.expect("drop schema");
}

/// The shutdown future of a run: `stopped` turning true.
async fn stop_signal(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stop| *stop).await;
}

/// A table projection counting positions: a row per event it is handed.
#[derive(Debug, Default)]
struct CountedRows {
    positions: Vec<i64>,
}

impl Projection for CountedRows {
    const NAME: &'static str = "fault-counted-rows";
    const EVENTS: &'static [EventDescriptor] = &[EventDescriptor {
        name: "test.happened",
        version: 1,
    }];

    fn project<C: Codec>(&mut self, _: &C, event: &RecordedEvent) -> Result<bool, DecodeError> {
        self.positions
            .push(i64::try_from(event.position.0).expect("a bigint position"));
        Ok(true)
    }
}

impl PgProjection for CountedRows {
    async fn setup(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("CREATE TABLE IF NOT EXISTS counted (position bigint NOT NULL)")
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO counted (position) SELECT * FROM unnest($1::bigint[])")
            .bind(self.positions)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM counted").execute(tx).await?;
        Ok(())
    }
}

/// A server of the test's own, a writer's store on it, and a store for the runner in the
/// same schema on a pool whose connections are not checked before use, with a 60 s poll
/// interval (so live delivery after the restart comes from a reconnected listener).
async fn restart_set_up(server: &testing::TestServer) -> (PgPool, PgStore, PgStore) {
    let writer_pool = own_pool(server.url()).await;
    let writer = testing::fresh_store(&writer_pool)
        .await
        .expect("a fresh store");
    let runner_pool = unchecked_pool(server.url(), "es-runner").await;
    let options = PgStoreOptions::new()
        .with_schema(writer.schema().clone())
        .with_poll_interval(NO_POLLING);
    (
        writer_pool,
        writer,
        PgStore::from_pool_with(runner_pool, options),
    )
}

/// How a live runner meets the restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Supervision {
    /// `run` with its default retry policy, alone.
    Itself,
    /// `run` with `RetryPolicy::NEVER`, in a loop that calls it again after each error.
    Loop,
}

/// `runner` runs live while a writer appends, and the server restarts under it. Supervised
/// by `Itself`, `run` retries by itself and returns only at shutdown, having counted its
/// failures in its status; by a `Loop`, `run` returns each failure as a typed error
/// (`ProjectionError::Store`) and the loop calls it again. Either way it stops at the head
/// on shutdown. Returns the positions of the log and its head.
async fn survive_a_restart<T: Target>(
    server: &testing::TestServer,
    writer_pool: &PgPool,
    writer: &PgStore,
    runner_store: &PgStore,
    runner: ProjectionRunner<T, PgStore>,
    supervision: Supervision,
) -> (Vec<u64>, Position) {
    let runner = match supervision {
        Supervision::Itself => runner,
        Supervision::Loop => runner.with_retry(RetryPolicy::NEVER),
    };
    let (stop, stopped) = watch::channel(false);
    let supervisor = tokio::spawn({
        let runner = runner.clone();
        async move {
            let mut failures = Vec::new();
            loop {
                match runner.run(stop_signal(stopped.clone())).await {
                    Ok(position) => return (position, failures),
                    Err(error) => {
                        failures.push(error);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
        }
    });

    appended_ids(spawn_writers(writer, "before", 1, 10, Duration::ZERO)).await;
    let head = Position(*log_positions(writer).await.last().expect("events"));
    runner
        .wait_for(head, WITHIN)
        .await
        .expect("live at the head");
    wait_for_listener(writer_pool, runner_store).await;

    let writers = spawn_writers(writer, "during", 1, 30, Duration::from_millis(20));
    tokio::time::sleep(Duration::from_millis(100)).await;
    restart(server).await;
    appended_ids(writers).await;

    let log = log_positions(writer).await;
    assert_eq!(log.len(), 40, "every append landed once");
    let head = Position(*log.last().expect("events"));
    runner
        .wait_for(head, WITHIN)
        .await
        .expect("the supervised runner reaches the head");
    stop.send(true).expect("the supervisor is running");
    let (stopped_at, failures) = tokio::time::timeout(WITHIN, supervisor)
        .await
        .expect("run to stop at shutdown")
        .expect("the supervisor task");
    assert_eq!(stopped_at, head);
    let retried = runner.status().retried;
    match supervision {
        Supervision::Itself => {
            assert!(failures.is_empty(), "run retried by itself: {failures:?}");
            assert!(retried > 0, "run met the server going away, and retried");
        }
        Supervision::Loop => {
            assert_eq!(retried, 0, "a run that never retries");
            assert!(
                !failures.is_empty(),
                "run returned an error when the server went away"
            );
        }
    }
    for failure in &failures {
        assert!(
            matches!(
                failure,
                ProjectionError::Store {
                    source: StoreError::Backend(_),
                    ..
                }
            ),
            "a typed store error: {failure:?}"
        );
    }
    eprintln!(
        "run failed {} times across the restart ({retried} retried by itself)",
        failures.len()
    );
    (log, head)
}

/// An in-memory projection with its checkpoints in PostgreSQL survives a server restart
/// under `ProjectionRunner::run`: every event of the log applied exactly once, the
/// checkpoint at the head.
async fn in_memory_survives_a_restart(supervision: Supervision) {
    let Some(server) = support::own_server_or_skip(TESTS, RESTART_TESTS) else {
        return;
    };
    let (writer_pool, writer, runner_store) = restart_set_up(&server).await;
    let counter = InMemory::new(Counter::default()).with_checkpoints(runner_store.clone());
    let runner = ProjectionRunner::new(runner_store.clone(), counter).with_batch_size(3);
    let (log, head) = survive_a_restart(
        &server,
        &writer_pool,
        &writer,
        &runner_store,
        runner.clone(),
        supervision,
    )
    .await;
    let counted = runner.read().seen.clone();
    assert_counted_once(&counted, &log, &writer, head).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_projection_survives_a_server_restart_retrying_by_itself() {
    in_memory_survives_a_restart(Supervision::Itself).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_projection_survives_a_server_restart_under_a_supervisor() {
    in_memory_survives_a_restart(Supervision::Loop).await;
}

/// A read model in a table survives a server restart under `ProjectionRunner::run` into
/// `PgTables`: the table holds every position of the log exactly once, and the checkpoint is
/// the head.
async fn table_survives_a_restart(supervision: Supervision) {
    let Some(server) = support::own_server_or_skip(TESTS, RESTART_TESTS) else {
        return;
    };
    let (writer_pool, writer, runner_store) = restart_set_up(&server).await;
    let rows = PgTables::<CountedRows>::new(runner_store.clone());
    let runner = ProjectionRunner::new(runner_store.clone(), rows).with_batch_size(3);
    let (log, head) = survive_a_restart(
        &server,
        &writer_pool,
        &writer,
        &runner_store,
        runner.clone(),
        supervision,
    )
    .await;

    let counted: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT position, count(*) FROM {}.counted GROUP BY position ORDER BY position",
        writer.schema()
    ))
    .fetch_all(&writer_pool)
    .await
    .expect("the counted rows");
    let expected: Vec<(i64, i64)> = log
        .iter()
        .map(|&position| (i64::try_from(position).expect("bigint"), 1))
        .collect();
    assert_eq!(counted, expected, "every event of the log exactly once");
    assert_eq!(runner.checkpoint().await.expect("the checkpoint"), head);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_table_projection_survives_a_server_restart_retrying_by_itself() {
    table_survives_a_restart(Supervision::Itself).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_table_projection_survives_a_server_restart_under_a_supervisor() {
    table_survives_a_restart(Supervision::Loop).await;
}
