//! Read models in tables (`ProjectionRunner` into `PgTables`): rows and checkpoint commit
//! together, so no failure, lost connection, panic or second runner can lose an event or
//! apply one twice; the tables are set up once, also by runners starting at once; and a
//! runner that processes nothing still waits for positions by the committed checkpoint.
//!
//! The read model under test, `Applied`, inserts one row per event (its position, stream and
//! `n`) into a table without a key, so an event applied twice shows up as two rows instead
//! of being refused.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::time::Duration;

use es_core::prelude::*;
use es_core::{NewEvent, ProjectionError};
use es_postgres::sqlx::{self, PgConnection, PgPool};
use es_postgres::{PgProjection, PgStore, PgTables, testing};
use serde::{Deserialize, Serialize};

mod support;
use support::{event, stream};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 11;

/// A generous bound on anything that should happen at once: a failure, not a hang.
const WITHIN: Duration = Duration::from_secs(10);

/// The advisory lock a `Happened { n: BLOCK }` event waits on inside `write`, after its
/// row is inserted: held by a test, it holds a batch's transaction open.
const BLOCK_LOCK: i64 = 0x6573_7462;
/// `n` of an event whose `write` waits on [`BLOCK_LOCK`].
const BLOCK: i64 = -2;
/// `n` of an event whose row violates the `no_minus_one` check, when the table has it.
const REFUSED: i64 = -1;
/// `n` of an event whose `On` impl panics.
const PANICS: i64 = 666;

/// support::event's payload, `{"n": n}`.
#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "test.happened")]
struct Happened {
    n: i64,
}

/// The change set of one batch: a row per event.
#[derive(Projection, Default, Debug)]
#[projection(name = "applied", events(Happened))]
struct Applied {
    rows: Vec<(i64, String, i64)>,
}

impl On<Happened> for Applied {
    fn on(&mut self, event: &Happened, meta: &EventMeta) {
        assert!(event.n != PANICS, "On<Happened> panics on {PANICS}");
        let position = i64::try_from(meta.position.0).expect("a bigint position");
        self.rows
            .push((position, meta.stream_id.to_string(), event.n));
    }
}

impl PgProjection for Applied {
    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        for (position, stream, n) in self.rows {
            // Unqualified: the runner's search_path finds the table in the store's schema.
            sqlx::query("INSERT INTO applied (position, stream_id, n) VALUES ($1, $2, $3)")
                .bind(position)
                .bind(stream)
                .bind(n)
                .execute(&mut *tx)
                .await?;
            if n == BLOCK {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(BLOCK_LOCK)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Ok(())
    }

    async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM applied").execute(tx).await?;
        Ok(())
    }
}

/// A runner writing `Applied` to `store`'s tables.
fn applied(store: PgStore) -> ProjectionRunner<PgTables<Applied>, PgStore> {
    ProjectionRunner::new(store.clone(), PgTables::new(store))
}

/// A fresh store with the `applied` table in its schema.
async fn store_with_table(pool: &PgPool) -> PgStore {
    let store = testing::fresh_store(pool).await.expect("a fresh store");
    sqlx::raw_sql(&format!(
        "CREATE TABLE {}.applied (position bigint NOT NULL, stream_id text NOT NULL, n bigint NOT NULL)",
        store.schema()
    ))
    .execute(pool)
    .await
    .expect("the applied table");
    store
}

/// Appends `ns` to `stream_id`, one event per append; returns the last position.
async fn append(store: &PgStore, stream_id: &str, ns: impl IntoIterator<Item = i64>) -> Position {
    let mut last = Position::START;
    for n in ns {
        last = store
            .append(&stream(stream_id), ExpectedVersion::Any, vec![event_n(n)])
            .await
            .expect("append")
            .last_position;
    }
    last
}

/// support::event with a signed `n`.
fn event_n(n: i64) -> NewEvent {
    let mut event = event(0);
    event.payload = format!("{{\"n\":{n}}}").into();
    event
}

/// The table's rows, by position: `(position, n)`.
async fn rows(store: &PgStore) -> Vec<(i64, i64)> {
    sqlx::query_as(&format!(
        "SELECT position, n FROM {}.applied ORDER BY position, n",
        store.schema()
    ))
    .fetch_all(store.pool())
    .await
    .expect("the applied rows")
}

/// Every position of the log once, with its `n`, as the table should hold them.
async fn expected_rows(store: &PgStore) -> Vec<(i64, i64)> {
    let log = store
        .read_all(Position::START, 100_000)
        .await
        .expect("the log");
    log.iter()
        .map(|event| {
            let n: Happened = serde_json::from_slice(&event.payload).expect("a test payload");
            (i64::try_from(event.position.0).expect("bigint"), n.n)
        })
        .collect()
}

#[tokio::test]
async fn catch_up_writes_rows_and_checkpoint_together_and_resumes() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    append(&store, "a", 0..5).await;
    append(&store, "b", 10..13).await;

    let runner = applied(store.clone()).with_batch_size(3);
    let reached = runner.catch_up().await.expect("catch up");
    assert_eq!(reached, Position(8));
    assert_eq!(runner.checkpoint().await.expect("checkpoint"), Position(8));
    assert_eq!(rows(&store).await, expected_rows(&store).await);

    // A new runner (a restarted process) resumes after the checkpoint: nothing twice.
    let head = append(&store, "a", 5..7).await;
    let restarted = applied(store.clone());
    assert_eq!(restarted.catch_up().await.expect("catch up"), head);
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    assert_eq!(restarted.catch_up().await.expect("nothing new"), head);
    assert_eq!(rows(&store).await.len(), 10);
}

#[tokio::test]
async fn a_failed_write_commits_nothing_of_its_batch_and_is_retried_once() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    let table = format!("{}.applied", store.schema());
    sqlx::raw_sql(&format!(
        "ALTER TABLE {table} ADD CONSTRAINT no_minus_one CHECK (n <> {REFUSED})"
    ))
    .execute(&pool)
    .await
    .expect("the check");
    append(&store, "a", [1, 2]).await;
    append(&store, "a", [3, REFUSED, 5]).await;

    // Batches of 2: [1, 2] commits; [3, -1] fails on its second row, after its first.
    let runner = applied(store.clone()).with_batch_size(2);
    let failed = runner
        .catch_up()
        .await
        .expect_err("the refused row fails the batch");
    match &failed {
        ProjectionError::Store { projection, .. } => assert_eq!(*projection, "applied"),
        other => panic!("expected a store error, got {other:?}"),
    }
    assert!(failed.to_string().contains("no_minus_one"), "{failed}");
    assert_eq!(
        rows(&store).await,
        [(1, 1), (2, 2)],
        "row 3 was rolled back"
    );
    assert_eq!(runner.checkpoint().await.expect("checkpoint"), Position(2));
    assert_eq!(runner.position(), Position(2));

    // Once the table accepts the row, the batch is written again, exactly once.
    sqlx::raw_sql(&format!("ALTER TABLE {table} DROP CONSTRAINT no_minus_one"))
        .execute(&pool)
        .await
        .expect("drop the check");
    assert_eq!(runner.catch_up().await.expect("catch up"), Position(5));
    assert_eq!(rows(&store).await, expected_rows(&store).await);
}

/// The batch's transaction is held open after its row is inserted, and its backend is
/// terminated there: neither the row nor the checkpoint may survive, and the next call
/// writes the batch once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_killed_inside_the_batch_transaction_loses_nothing_and_repeats_nothing() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    append(&store, "a", [1, 2]).await;
    let runner = applied(store.clone());
    runner.catch_up().await.expect("the first batch");
    append(&store, "a", [3, BLOCK, 5]).await;

    let mut holder = pool.acquire().await.expect("a connection");
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(BLOCK_LOCK)
        .execute(&mut *holder)
        .await
        .expect("hold the lock");
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .expect("pid");
    let catching_up = tokio::spawn({
        let runner = runner.clone();
        async move { runner.catch_up().await }
    });
    let victim: i32 = tokio::time::timeout(WITHIN, async {
        loop {
            let pid: Option<i32> = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
            )
            .bind(holder_pid)
            .fetch_optional(&pool)
            .await
            .expect("pg_stat_activity");
            if let Some(pid) = pid {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the batch's transaction to block on the lock");
    // Inside the transaction: the checkpoint row is locked and moved, rows 3 and -2 inserted.
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(victim)
        .fetch_one(&pool)
        .await
        .expect("terminate");
    assert!(terminated);
    let failed = tokio::time::timeout(WITHIN, catching_up)
        .await
        .expect("catch_up returns")
        .expect("no panic");
    assert!(
        matches!(failed, Err(ProjectionError::Store { .. })),
        "{failed:?}"
    );
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(BLOCK_LOCK)
        .execute(&mut *holder)
        .await
        .expect("release the lock");
    drop(holder);
    assert_eq!(rows(&store).await, [(1, 1), (2, 2)], "nothing of the batch");
    assert_eq!(runner.checkpoint().await.expect("checkpoint"), Position(2));

    let reached = tokio::time::timeout(WITHIN, runner.catch_up())
        .await
        .expect("in time")
        .expect("the batch again");
    assert_eq!(reached, Position(5));
    assert_eq!(rows(&store).await, expected_rows(&store).await);
}

#[tokio::test]
async fn a_panic_in_on_writes_the_events_before_it_and_does_not_halt() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    append(&store, "a", [1, 2, PANICS, 4]).await;

    let runner = applied(store.clone());
    for _ in 0..2 {
        match runner.catch_up().await {
            Err(ProjectionError::Panicked {
                projection,
                position,
                stream_id,
                ..
            }) => {
                assert_eq!((projection, position), ("applied", Position(3)));
                assert_eq!(stream_id.as_str(), "a");
            }
            other => panic!("expected the panic, got {other:?}"),
        }
        // The events before the panic, once, however often the runner meets it.
        assert_eq!(rows(&store).await, [(1, 1), (2, 2)]);
        assert_eq!(runner.checkpoint().await.expect("checkpoint"), Position(2));
    }
}

#[tokio::test]
async fn an_undecodable_event_stops_the_runner_after_the_events_before_it() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    append(&store, "a", [1]).await;
    let mut bad = event(0);
    bad.payload = "not json".into();
    store
        .append(&stream("a"), ExpectedVersion::Any, vec![bad])
        .await
        .expect("append");
    append(&store, "a", [3]).await;

    let runner = applied(store.clone());
    match runner.catch_up().await {
        Err(ProjectionError::Decode { projection, source }) => {
            assert_eq!(projection, "applied");
            assert_eq!(source.position, Position(2));
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(rows(&store).await, [(1, 1)]);
    assert_eq!(runner.checkpoint().await.expect("checkpoint"), Position(1));
}

#[tokio::test]
async fn rebuild_clears_the_tables_and_writes_the_log_again() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    let head = append(&store, "a", 0..6).await;
    let runner = applied(store.clone()).with_batch_size(4);
    runner.catch_up().await.expect("catch up");
    // A row no event explains (the read model went wrong, or its code changed).
    sqlx::raw_sql(&format!(
        "INSERT INTO {}.applied VALUES (99, 'stray', 99)",
        store.schema()
    ))
    .execute(&pool)
    .await
    .expect("a stray row");

    assert_eq!(runner.rebuild().await.expect("rebuild"), head);
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    assert_eq!(runner.checkpoint().await.expect("checkpoint"), head);
}

/// Two runners of one projection, on stores with pools of their own (two processes), catch
/// up and follow the log while writers append: every event is in the table exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_of_one_projection_apply_every_event_once() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    let other_pool = database.pool().await.expect("another pool");
    let other = PgStore::from_pool_with(
        other_pool,
        es_postgres::PgStoreOptions::new().with_schema(store.schema().clone()),
    );
    append(&store, "seed", 0..50).await;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut runners = Vec::new();
    for (i, store) in [store.clone(), other].into_iter().enumerate() {
        let runner = applied(store).with_batch_size(1 + 3 * i);
        let mut stopped = stopped.clone();
        runners.push(tokio::spawn(async move {
            runner
                .run(async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                })
                .await
        }));
    }
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move { append(&store, &format!("w{w}"), 0..40).await })
        })
        .collect();
    for writer in writers {
        writer.await.expect("a writer");
    }
    let head = store
        .read_all(Position::START, 100_000)
        .await
        .expect("the log")
        .last()
        .map(|event| event.position)
        .expect("events");
    let probe = applied(store.clone());
    tokio::time::timeout(WITHIN, async {
        while probe.checkpoint().await.expect("checkpoint") < head {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the runners to reach the head");
    stop.send(true).expect("stop");
    for runner in runners {
        let stopped_at = runner.await.expect("no panic").expect("a clean stop");
        assert!(stopped_at <= head);
    }
    assert_eq!(rows(&store).await, expected_rows(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_runner_refuses_catch_up_and_serves_wait_for() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    let runner = applied(store.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn({
        let runner = runner.clone();
        async move {
            runner
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let head = append(&store, "a", 0..3).await;
    runner
        .wait_for(head, WITHIN)
        .await
        .expect("the live runner");
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    assert!(matches!(
        runner.catch_up().await,
        Err(ProjectionError::Running {
            projection: "applied"
        })
    ));
    let missed = runner
        .wait_for(Position(head.0 + 100), Duration::from_millis(50))
        .await;
    assert!(
        matches!(missed, Err(ProjectionError::Timeout { reached, .. }) if reached == head),
        "{missed:?}"
    );
    stop.send(()).expect("stop");
    assert_eq!(live.await.expect("no panic").expect("clean stop"), head);
    // Stopped: catch_up is allowed again.
    assert_eq!(runner.catch_up().await.expect("catch up"), head);
}

/// The runner's future can be spawned on a multi-threaded runtime, write included (sqlx's
/// generic executor futures can make a future `Send` for one lifetime only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runner_is_spawnable() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    let head = append(&store, "a", 0..2).await;
    let runner = applied(store.clone());
    let reached = tokio::spawn(async move { runner.rebuild().await })
        .await
        .expect("no panic")
        .expect("rebuild");
    assert_eq!(reached, head);
}

/// A projection whose tables its `setup` creates, with an index, as a service starting
/// several instances at once would.
#[derive(Projection, Default, Debug)]
#[projection(name = "set-up", events(Happened))]
struct SetUp {
    ns: Vec<i64>,
}

impl On<Happened> for SetUp {
    fn on(&mut self, event: &Happened, _: &EventMeta) {
        self.ns.push(event.n);
    }
}

impl PgProjection for SetUp {
    async fn setup(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("CREATE TABLE IF NOT EXISTS set_up (n bigint NOT NULL)")
            .execute(&mut *tx)
            .await?;
        sqlx::query("CREATE INDEX IF NOT EXISTS set_up_n ON set_up (n)")
            .execute(&mut *tx)
            .await?;
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO set_up (n) SELECT * FROM unnest($1::bigint[])")
            .bind(self.ns)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM set_up").execute(tx).await?;
        Ok(())
    }
}

/// Eight runners, each on a pool of its own (as eight processes would be), start at once on
/// a schema without the table: every `setup` succeeds (they run one after the other under
/// the set-up lock), the table exists once, and the events are written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runners_starting_at_once_all_set_up_their_tables() {
    const RUNNERS: usize = 8;
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    append(&store, "a", 0..20).await;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(RUNNERS));
    let mut runners = Vec::new();
    for _ in 0..RUNNERS {
        let own = PgStore::from_pool_with(
            database.pool().await.expect("a pool"),
            es_postgres::PgStoreOptions::new().with_schema(store.schema().clone()),
        );
        let start = std::sync::Arc::clone(&start);
        runners.push(tokio::spawn(async move {
            let runner = ProjectionRunner::new(own.clone(), PgTables::<SetUp>::new(own));
            start.wait().await;
            runner.catch_up().await
        }));
    }
    for runner in runners {
        let reached = runner
            .await
            .expect("no panic")
            .expect("set up and caught up");
        assert_eq!(reached, Position(20));
    }
    let ns: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT n FROM {}.set_up ORDER BY n",
        store.schema()
    ))
    .fetch_all(&pool)
    .await
    .expect("the set_up rows");
    assert_eq!(ns, (0..20).collect::<Vec<i64>>(), "every event once");
}

/// A runner that processes nothing (a service instance that leaves the projection to
/// another) still gives read-your-writes: its `wait_for` reads the committed checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_works_where_the_projection_does_not_run() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = store_with_table(&pool).await;
    let processing = applied(store.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn({
        let processing = processing.clone();
        async move {
            processing
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    // Elsewhere: another pool, another runner, never run.
    let elsewhere = PgStore::from_pool_with(
        database.pool().await.expect("another pool"),
        es_postgres::PgStoreOptions::new().with_schema(store.schema().clone()),
    );
    let reader = applied(elsewhere);
    for round in 0..5 {
        let written = append(&store, "a", [round]).await;
        reader
            .wait_for(written, WITHIN)
            .await
            .expect("the committed checkpoint reaches the write");
        assert!(
            rows(&store)
                .await
                .contains(&(i64::try_from(written.0).expect("bigint"), round))
        );
    }
    assert_eq!(
        reader.position(),
        Position::START,
        "the reader processed nothing"
    );
    let head = append(&store, "a", [9]).await;
    processing.wait_for(head, WITHIN).await.expect("caught up");
    let missed = reader
        .wait_for(Position(head.0 + 100), Duration::from_millis(50))
        .await;
    assert!(
        matches!(missed, Err(ProjectionError::Timeout { reached, .. }) if reached == head),
        "the timeout names the committed checkpoint: {missed:?}"
    );
    stop.send(()).expect("stop");
    assert_eq!(live.await.expect("no panic").expect("clean stop"), head);
}
