//! What the contract suite cannot see from outside: the global order under a transaction that
//! commits late, the unique-constraint path of a version race, migrations, and values stored
//! exactly. Appends held open by hand call the store's own `{schema}.append` function in a
//! transaction of the test's, exactly as `PgStore::append` does in its own.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use es_core::snapshot::{Snapshot, SnapshotStore};
use es_core::{
    EventId, EventStore, ExpectedVersion, Metadata, NewEvent, Position, RecordedEvent, StoreError,
    Version,
};
use es_postgres::sqlx::{self, PgConnection, PgPool, Row};
use es_postgres::{PgStore, PgStoreOptions, testing};
use uuid::Uuid;

mod support;
use support::{event, stream, with_command};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 11;

/// A generous bound on anything that should happen at once: a failure, not a hang.
const WITHIN: Duration = Duration::from_secs(10);

async fn setup() -> Option<(PgPool, PgStore)> {
    let database = testing::database_or_skip(TESTS)?;
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    Some((pool, store))
}

/// Drops the store's schema (it matters on a `DATABASE_URL` server; a failing test leaves
/// its schema behind to look at).
async fn teardown(store: &PgStore) {
    testing::drop_schema(store).await.expect("drop schema");
}

/// What `{schema}.append` answered: outcome, stream version, first and last position.
type Answer = (String, i64, Option<i64>, Option<i64>);

/// Runs the store's append function on `conn` (a transaction the caller keeps open):
/// `expected` is -1 for any version, otherwise the exact version (0: no stream).
async fn append_in(
    conn: &mut PgConnection,
    store: &PgStore,
    stream_id: &str,
    expected: i64,
    events: &[NewEvent],
) -> Result<Answer, sqlx::Error> {
    let sql = format!(
        "SELECT o_outcome, o_stream_version, o_first_position, o_last_position \
         FROM {}.append($1, $2, $3, $4, $5, $6, $7, $8)",
        store.schema()
    );
    let command_id = events.first().and_then(|event| event.metadata.command_id);
    let ids: Vec<Uuid> = events.iter().map(|event| event.event_id.0).collect();
    let names: Vec<&str> = events.iter().map(|event| &*event.name).collect();
    let versions: Vec<i64> = events
        .iter()
        .map(|event| i64::from(event.schema_version))
        .collect();
    let payloads: Vec<&[u8]> = events.iter().map(|event| &event.payload[..]).collect();
    let metadata: Vec<String> = events
        .iter()
        .map(|event| serde_json::to_string(&event.metadata).expect("metadata encodes"))
        .collect();
    let row = sqlx::query(&sql)
        .bind(stream_id)
        .bind(expected)
        .bind(command_id)
        .bind(ids)
        .bind(names)
        .bind(versions)
        .bind(payloads)
        .bind(metadata)
        .fetch_one(&mut *conn)
        .await?;
    Ok((
        row.try_get(0)?,
        row.try_get(1)?,
        row.try_get(2)?,
        row.try_get(3)?,
    ))
}

async fn next_within(
    subscription: &mut es_core::Subscription<PgStore>,
) -> Result<RecordedEvent, StoreError> {
    tokio::time::timeout(WITHIN, subscription.next())
        .await
        .expect("the subscriber to deliver within 10 s")
}

// ---------------------------------------------------------------------------------------------
// Global order

/// The test: an append that took its position and has not committed holds back a
/// later, committed append; when it commits, a live subscriber delivers both, in position
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_commit_is_delivered_in_position_order() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let mut caught_up = store.subscribe(Position::START);
    assert!(caught_up.try_next().await.expect("read").is_none());

    // A takes its position and stays open.
    let mut held = pool.begin().await.expect("begin");
    let (outcome, _, a_first, _) = append_in(&mut held, &store, "late-a", -1, &[event(1)])
        .await
        .expect("the held append");
    assert_eq!(outcome, "appended");
    let a_position = Position(a_first.expect("a position") as u64);

    // B takes a later position and commits.
    let b = store
        .append(&stream("late-b"), ExpectedVersion::Any, vec![event(2)])
        .await
        .expect("the later append");
    assert!(b.first_position > a_position, "{b:?} after {a_position}");
    assert_eq!(
        store
            .read_stream(&stream("late-b"), Version(1), 10)
            .await
            .expect("read")
            .len(),
        1,
        "B is committed: its stream reads it"
    );

    // The log does not deliver B while A could still commit below it.
    assert!(caught_up.try_next().await.expect("read").is_none());
    assert!(
        store
            .read_all(Position::START, 10)
            .await
            .expect("read")
            .is_empty()
    );
    let mut live = store.subscribe(Position::START);
    let subscriber = tokio::spawn(async move {
        let first = next_within(&mut live).await?;
        let second = next_within(&mut live).await?;
        Ok::<_, StoreError>(vec![first, second])
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !subscriber.is_finished(),
        "nothing delivered before A commits"
    );

    held.commit().await.expect("commit A");
    let delivered = subscriber
        .await
        .expect("the subscriber task")
        .expect("delivered");
    let positions: Vec<Position> = delivered.iter().map(|event| event.position).collect();
    assert_eq!(positions, [a_position, b.first_position]);
    assert_eq!(delivered[0].stream_id, stream("late-a"));
    assert_eq!(delivered[1].stream_id, stream("late-b"));

    // The subscriber that had caught up before gets both too, in order.
    let first = caught_up.try_next().await.expect("read").expect("A");
    let second = caught_up.try_next().await.expect("read").expect("B");
    assert_eq!(
        (first.position, second.position),
        (a_position, b.first_position)
    );
    assert!(caught_up.try_next().await.expect("read").is_none());
    teardown(&store).await;
}

/// A rolled-back append leaves a hole in the positions: readers wait for it to settle, then
/// pass over it.
#[tokio::test]
async fn rolled_back_append_leaves_a_hole_that_readers_pass() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let mut held = pool.begin().await.expect("begin");
    let (_, _, a_first, _) = append_in(&mut held, &store, "hole-a", -1, &[event(1), event(2)])
        .await
        .expect("the held append");
    let b = store
        .append(&stream("hole-b"), ExpectedVersion::Any, vec![event(3)])
        .await
        .expect("the later append");
    let mut subscription = store.subscribe(Position::START);
    assert!(subscription.try_next().await.expect("read").is_none());

    held.rollback().await.expect("rollback A");
    let delivered = next_within(&mut subscription).await.expect("B");
    assert_eq!(delivered.position, b.first_position);
    assert!(delivered.position.0 > a_first.expect("a position") as u64 + 1);
    assert!(subscription.try_next().await.expect("read").is_none());
    assert!(
        store
            .read_stream(&stream("hole-a"), Version(1), 10)
            .await
            .expect("read")
            .is_empty()
    );
    teardown(&store).await;
}

/// Only appends of this store hold delivery back: a transaction that holds a transaction id
/// but is no append (a migration, a batch job), and an append held open on another store's
/// schema, do not delay it. A writer reads its own append at once.
#[tokio::test]
async fn other_transactions_do_not_delay_delivery() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let other_store = testing::fresh_store(&pool).await.expect("another store");
    let mut not_an_append = pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *not_an_append)
        .await
        .expect("take a transaction id");
    let mut other_append = pool.begin().await.expect("begin");
    let (outcome, ..) = append_in(
        &mut other_append,
        &other_store,
        "elsewhere",
        -1,
        &[event(0)],
    )
    .await
    .expect("an append held open on another schema");
    assert_eq!(outcome, "appended");

    let appended = store
        .append(&stream("prompt"), ExpectedVersion::Any, vec![event(1)])
        .await
        .expect("append");
    let log = store.read_all(Position::START, 10).await.expect("read");
    assert_eq!(
        log.iter().map(|event| event.position).collect::<Vec<_>>(),
        [appended.first_position],
        "read back at once"
    );
    let mut subscription = store.subscribe(Position::START);
    let delivered = subscription
        .try_next()
        .await
        .expect("read")
        .expect("the event");
    assert_eq!(delivered.position, appended.first_position);

    // The held append does hold back its own store.
    assert!(
        other_store
            .read_all(Position::START, 10)
            .await
            .expect("read")
            .is_empty()
    );
    not_an_append.rollback().await.expect("rollback");
    other_append.commit().await.expect("commit");
    assert_eq!(
        other_store
            .read_all(Position::START, 10)
            .await
            .expect("read")
            .len(),
        1
    );
    teardown(&other_store).await;
    teardown(&store).await;
}

/// Under concurrency, a live subscriber delivers exactly the committed log, in order: appends
/// held open for random times that commit or roll back, fast appends through the store from
/// another pool, and unrelated writing transactions, all at once. Bounded: 4 x 30 slow and
/// 4 x 60 fast appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_under_concurrent_late_commits_sees_exactly_the_log() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let database = testing::database_or_skip(TESTS).expect("a database");
    let writers_pool = database.pool().await.expect("a pool");
    let writer_store = PgStore::from_pool_with(
        writers_pool.clone(),
        PgStoreOptions::new().schema(store.schema().clone()),
    );
    let mut tasks = Vec::new();
    for writer in 0..4_u64 {
        let (pool, store) = (pool.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..30_u64 {
                let mut tx = pool.begin().await.expect("begin");
                let id = format!("slow-{writer}");
                append_in(&mut tx, &store, &id, -1, &[event(n), event(n)])
                    .await
                    .expect("held append");
                // 0 to 9 ms open after taking positions, then commit (or 1 in 5: roll back).
                let pause = (writer * 7 + n * 3) % 10;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                if (writer + n) % 5 == 0 {
                    tx.rollback().await.expect("rollback");
                } else {
                    tx.commit().await.expect("commit");
                }
            }
        }));
    }
    for writer in 0..4_u64 {
        let store = writer_store.clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..60_u64 {
                store
                    .append(
                        &stream(&format!("fast-{writer}")),
                        ExpectedVersion::Any,
                        vec![event(n)],
                    )
                    .await
                    .expect("append");
            }
        }));
    }
    let noise = tokio::spawn({
        let pool = writers_pool.clone();
        async move {
            for _ in 0..40 {
                let mut tx = pool.begin().await.expect("begin");
                sqlx::query("SELECT pg_current_xact_id()")
                    .execute(&mut *tx)
                    .await
                    .expect("xid");
                tokio::time::sleep(Duration::from_millis(3)).await;
                tx.commit().await.expect("commit");
            }
        }
    });
    let mut subscription = store.subscribe(Position::START).with_batch_size(7);
    let mut delivered = Vec::new();
    let mut done = false;
    while !done {
        done = tasks.iter().all(|task| task.is_finished());
        // Once every writer is done (checked before the read), a caught-up read is the end.
        while let Some(event) = subscription.try_next().await.expect("read") {
            delivered.push(event.position.0 as i64);
        }
        if !done {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for task in tasks {
        task.await.expect("writer");
    }
    noise.await.expect("noise");
    let truth: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT position FROM {}.events ORDER BY position",
        store.schema()
    ))
    .fetch_all(&pool)
    .await
    .expect("the table");
    assert_eq!(truth.len(), 4 * 60 + 4 * 24 * 2, "committed events");
    assert_eq!(
        delivered, truth,
        "delivered = the committed log, in order, once"
    );
    teardown(&store).await;
}

/// Positions must be allocated before the transaction has an id: `allocate` refuses a
/// transaction that wrote first (its id would be older than its positions).
#[tokio::test]
async fn allocate_refuses_a_transaction_that_wrote_first() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *tx)
        .await
        .expect("take a transaction id");
    let refused = append_in(&mut tx, &store, "early", -1, &[event(1)]).await;
    match refused {
        Err(sqlx::Error::Database(error)) => {
            assert_eq!(error.code().as_deref(), Some("55000"), "{error}");
        }
        other => panic!("expected SQLSTATE 55000, got {other:?}"),
    }
    tx.rollback().await.expect("rollback");
    // The advisory lock was not left behind: appends go on.
    tokio::time::timeout(
        WITHIN,
        store.append(&stream("early"), ExpectedVersion::Any, vec![event(2)]),
    )
    .await
    .expect("not blocked")
    .expect("append");
    teardown(&store).await;
}

/// A waiter is woken by the append's notification, not only by polling: with a 60 s poll
/// interval it still completes at once.
#[tokio::test]
async fn wait_for_events_is_woken_by_notify() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let options = PgStoreOptions::new().poll_interval(Duration::from_secs(60));
    let store = testing::fresh_store_with(&pool, options)
        .await
        .expect("a fresh store");
    // The first wait starts the listener and returns once it listens (a spurious wake-up,
    // which the contract allows).
    tokio::time::timeout(WITHIN, store.wait_for_events(Position::START))
        .await
        .expect("the listener to start")
        .expect("wait");
    let waiter = tokio::spawn({
        let store = store.clone();
        async move { store.wait_for_events(Position::START).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    store
        .append(&stream("notified"), ExpectedVersion::Any, vec![event(1)])
        .await
        .expect("append");
    tokio::time::timeout(WITHIN, waiter)
        .await
        .expect("woken well before the 60 s poll")
        .expect("the waiter task")
        .expect("wait");
    teardown(&store).await;
}

// ---------------------------------------------------------------------------------------------
// Version races through the unique constraint

/// Waits until a backend is blocked on a lock inside `store`'s append function: the racing
/// append has passed its checks and waits on the held append's row.
async fn wait_until_blocked(pool: &PgPool, store: &PgStore) {
    let pattern = format!("%{}.append(%", store.schema());
    tokio::time::timeout(WITHIN, async {
        loop {
            let blocked: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity \
                 WHERE wait_event_type = 'Lock' AND query LIKE $1",
            )
            .bind(&pattern)
            .fetch_one(pool)
            .await
            .expect("pg_stat_activity");
            if blocked > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the racing append to block on the held one");
}

/// Holds an append of two events open, starts `racer` through the store, waits until it is
/// blocked on the held rows, commits the held append, and returns the racer's result and
/// the held append's answer.
async fn race(
    pool: &PgPool,
    store: &PgStore,
    held_events: Vec<NewEvent>,
    expected_held: i64,
    racer_expected: ExpectedVersion,
    racer_events: Vec<NewEvent>,
) -> (Result<es_core::Appended, StoreError>, Answer) {
    let mut held = pool.begin().await.expect("begin");
    let answer = append_in(&mut held, store, "race", expected_held, &held_events)
        .await
        .expect("the held append");
    assert_eq!(answer.0, "appended");
    let racer = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .append(&stream("race"), racer_expected, racer_events)
                .await
        }
    });
    wait_until_blocked(pool, store).await;
    held.commit().await.expect("commit the held append");
    let result = tokio::time::timeout(WITHIN, racer)
        .await
        .expect("the racer to finish")
        .expect("the racer task");
    (result, answer)
}

/// Two appends that both passed the expected-version check: the unique constraint refuses
/// the second, which becomes the in-memory store's conflict, naming the actual version.
#[tokio::test]
async fn version_race_through_the_unique_constraint_is_a_conflict() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let (result, _) = race(
        &pool,
        &store,
        vec![event(1), event(2)],
        0,
        ExpectedVersion::NoStream,
        vec![event(3)],
    )
    .await;
    match result {
        Err(StoreError::Conflict {
            stream_id,
            expected,
            actual,
        }) => {
            assert_eq!(stream_id, stream("race"));
            assert_eq!(expected, ExpectedVersion::NoStream);
            assert_eq!(actual, Version(2));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    let versions: Vec<u64> = store
        .read_stream(&stream("race"), Version(1), 10)
        .await
        .expect("read")
        .iter()
        .map(|event| event.stream_version.0)
        .collect();
    assert_eq!(versions, [1, 2], "only the winner's events");
    teardown(&store).await;
}

/// The same race with the same command id: the loser is the winner's append, reported as a
/// duplicate, as if the retry had come after it.
#[tokio::test]
async fn version_race_with_the_same_command_id_is_a_duplicate() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let command = Uuid::now_v7();
    let (result, (_, version, first, last)) = race(
        &pool,
        &store,
        with_command(vec![event(1), event(2)], command),
        0,
        ExpectedVersion::NoStream,
        with_command(vec![event(3)], command),
    )
    .await;
    let appended = result.expect("a duplicate, not an error");
    assert!(appended.duplicate);
    assert_eq!(appended.stream_version, Version(version as u64));
    assert_eq!(
        (
            Some(appended.first_position.0 as i64),
            Some(appended.last_position.0 as i64)
        ),
        (first, last)
    );
    assert_eq!(
        store.stream_version(&stream("race")).await.expect("read"),
        Version(2)
    );
    teardown(&store).await;
}

/// The same race with `ExpectedVersion::Any`: the loser runs again and lands after the
/// winner, as it would have in the in-memory store.
#[tokio::test]
async fn version_race_with_any_version_appends_after_the_winner() {
    let Some((pool, store)) = setup().await else {
        return;
    };
    let (result, (_, _, _, winner_last)) = race(
        &pool,
        &store,
        vec![event(1), event(2)],
        -1,
        ExpectedVersion::Any,
        vec![event(3)],
    )
    .await;
    let appended = result.expect("appended after the winner");
    assert!(!appended.duplicate);
    assert_eq!(appended.stream_version, Version(3));
    assert!(appended.first_position.0 as i64 > winner_last.expect("a position"));
    teardown(&store).await;
}

// ---------------------------------------------------------------------------------------------
// Migrations

/// `migrate` applies each migration once: twice in a row, and from two pools at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_is_idempotent_and_safe_when_run_concurrently() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let all = PgStore::migration_versions();

    // Through `connect_with`, which opens a pool of its own.
    let store = PgStore::connect_with(
        database.url(),
        PgStoreOptions::new().schema(testing::unique_schema()),
    )
    .await
    .expect("connect");
    let isolation: String = sqlx::query_scalar("SHOW default_transaction_isolation")
        .fetch_one(store.pool())
        .await
        .expect("show");
    assert_eq!(isolation, "read committed");
    assert_eq!(store.migrate().await.expect("first migrate"), all);
    assert_eq!(
        store.migrate().await.expect("second migrate"),
        Vec::<i32>::new()
    );

    let schema = testing::unique_schema();
    let (pool_a, pool_b) = (
        database.pool().await.expect("pool a"),
        database.pool().await.expect("pool b"),
    );
    let a = PgStore::from_pool_with(pool_a, PgStoreOptions::new().schema(schema.clone()));
    let b = PgStore::from_pool_with(pool_b, PgStoreOptions::new().schema(schema.clone()));
    let (applied_a, applied_b) = tokio::join!(
        tokio::spawn({
            let a = a.clone();
            async move { a.migrate().await }
        }),
        tokio::spawn({
            let b = b.clone();
            async move { b.migrate().await }
        }),
    );
    let mut applied = [
        applied_a.expect("task a").expect("migrate a"),
        applied_b.expect("task b").expect("migrate b"),
    ];
    applied.sort();
    assert_eq!(
        applied,
        [Vec::new(), all.clone()],
        "one applied, one found it done"
    );
    let recorded: Vec<i32> = sqlx::query_scalar(&format!(
        "SELECT version FROM {schema}.schema_migrations ORDER BY version"
    ))
    .fetch_all(&pool)
    .await
    .expect("read schema_migrations");
    assert_eq!(recorded, all);

    let appended = a
        .append(
            &stream("after-migrate"),
            ExpectedVersion::NoStream,
            vec![event(1)],
        )
        .await
        .expect("append on the migrated schema");
    assert_eq!(
        b.read_all(Position::START, 10).await.expect("read").len(),
        1
    );
    assert_eq!(appended.stream_version, Version(1));
    for store in [&store, &a] {
        testing::drop_schema(store).await.expect("drop schema");
    }
}

// ---------------------------------------------------------------------------------------------
// Stored values

/// Values come back exactly: opaque payload bytes, a `u32::MAX` schema version, metadata with
/// every field (a NUL and non-ASCII in a header), the recorded time; snapshots too.
#[tokio::test]
async fn stored_values_round_trip_exactly() {
    let Some((_pool, store)) = setup().await else {
        return;
    };
    let mut headers = BTreeMap::new();
    headers.insert("actor".to_owned(), "ada\u{0} ✓ \"quoted\"".to_owned());
    let sent = NewEvent {
        event_id: EventId::new(),
        name: "test.exact".into(),
        schema_version: u32::MAX,
        payload: Bytes::from_static(&[0, 159, 146, 150, 255]),
        metadata: Metadata {
            correlation_id: Some(Uuid::now_v7()),
            causation_id: Some(Uuid::now_v7()),
            command_id: Some(Uuid::now_v7()),
            headers,
        },
    };
    let before = SystemTime::now();
    store
        .append(
            &stream("exact"),
            ExpectedVersion::NoStream,
            vec![sent.clone()],
        )
        .await
        .expect("append");
    let after = SystemTime::now();
    let read = store
        .read_all(Position::START, 10)
        .await
        .expect("read")
        .pop()
        .expect("the event");
    assert_eq!(read.event_id, sent.event_id);
    assert_eq!(&*read.name, "test.exact");
    assert_eq!(read.schema_version, u32::MAX);
    assert_eq!(read.payload, sent.payload);
    assert_eq!(read.metadata, sent.metadata);
    let slack = Duration::from_secs(1);
    assert!(
        read.recorded_at + slack >= before && read.recorded_at <= after + slack,
        "recorded at {:?}, appended between {before:?} and {after:?}",
        read.recorded_at
    );

    let mut snapshot = Snapshot::new(
        stream("exact"),
        Version(1),
        u32::MAX,
        Bytes::from_static(&[255, 0]),
    );
    snapshot.taken_at = SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
    store.save_snapshot(snapshot.clone()).await.expect("save");
    let loaded = store
        .load_snapshot(&stream("exact"))
        .await
        .expect("load")
        .expect("the snapshot");
    assert_eq!(loaded, snapshot);
    teardown(&store).await;
}
