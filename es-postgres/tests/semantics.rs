//! What the contract suite cannot see from outside: live wake-ups by notification, the
//! unique-constraint path of a version race, migrations, and values stored exactly (the
//! global order under late commits is `ordering.rs`). Appends held open by hand call the
//! store's own `{schema}.append_one` (one event) or `{schema}.append` function in a
//! transaction of the test's, exactly as `PgStore::append` does in its own.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use es_core::snapshot::{Snapshot, SnapshotStore};
use es_core::{
    EventId, EventStore, ExpectedVersion, Metadata, NewEvent, Position, StoreError, Version,
};
use es_postgres::sqlx::{self, PgPool};
use es_postgres::{PgStore, PgStoreOptions, testing};
use uuid::Uuid;

mod support;
use support::{Answer, WITHIN, append_in, event, setup, stream, teardown, with_command};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 8;

/// A waiter is woken by the append's notification, not only by polling: with a 60 s poll
/// interval it still completes at once.
#[tokio::test]
async fn wait_for_events_is_woken_by_notify() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let options = PgStoreOptions::new().with_poll_interval(Duration::from_secs(60));
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
    // `append(` or `append_one(`: the racer's one event goes through `append_one`.
    let pattern = format!("%{}.append%(%", store.schema());
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
    let Some((pool, store)) = setup(TESTS).await else {
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
    let Some((pool, store)) = setup(TESTS).await else {
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
    let Some((pool, store)) = setup(TESTS).await else {
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
// The append functions' answers

/// Both append functions, called directly, answer each outcome as `PgStore::append` expects:
/// `append_one` (one event) and `append` (here with two), each on a stream of its own.
#[tokio::test]
async fn append_functions_answer_appended_duplicate_and_conflict() {
    let Some((pool, store)) = setup(TESTS).await else {
        return;
    };
    let mut conn = pool.acquire().await.expect("a connection");
    for size in [1_usize, 2] {
        let id = format!("answers-{size}");
        let n = size as i64;
        let events = |command: Option<Uuid>| -> Vec<NewEvent> {
            let events = (0..size as u64).map(event).collect();
            match command {
                Some(command) => with_command(events, command),
                None => events,
            }
        };
        let (first_command, second_command) = (Uuid::now_v7(), Uuid::now_v7());
        // Each call is a statement of its own, so a transaction of its own.
        let first = append_in(&mut conn, &store, &id, 0, &events(Some(first_command)))
            .await
            .expect("append");
        let (outcome, version, Some(first_position), Some(last_position)) = first.clone() else {
            panic!("appended without positions: {first:?}");
        };
        assert_eq!((outcome.as_str(), version), ("appended", n), "size {size}");
        assert_eq!(last_position - first_position, n - 1, "size {size}");

        // The same command again, even with a stale expected version: the first answer.
        let again = append_in(&mut conn, &store, &id, 0, &events(Some(first_command)))
            .await
            .expect("append");
        assert_eq!(
            again,
            ("duplicate".to_owned(), n, first.2, first.3),
            "size {size}"
        );

        // Another command at the stale version, and no command at it: conflicts, naming the
        // actual version, taking no position.
        for command in [Some(second_command), None] {
            let stale = append_in(&mut conn, &store, &id, 0, &events(command))
                .await
                .expect("append");
            assert_eq!(stale, ("conflict".to_owned(), n, None, None), "size {size}");
        }

        // At the actual version, and at any version: appended after the first.
        let next = append_in(&mut conn, &store, &id, n, &events(Some(second_command)))
            .await
            .expect("append");
        assert_eq!(
            (next.0.as_str(), next.1),
            ("appended", 2 * n),
            "size {size}"
        );
        let any = append_in(&mut conn, &store, &id, -1, &events(None))
            .await
            .expect("append");
        assert_eq!((any.0.as_str(), any.1), ("appended", 3 * n), "size {size}");
        assert!(
            any.2 > next.3 && next.2 > first.3,
            "positions in order: {first:?} {next:?} {any:?}"
        );
    }
    drop(conn);
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
        PgStoreOptions::new().with_schema(testing::unique_schema()),
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
    let a = PgStore::from_pool_with(pool_a, PgStoreOptions::new().with_schema(schema.clone()));
    let b = PgStore::from_pool_with(pool_b, PgStoreOptions::new().with_schema(schema.clone()));
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

/// A `migrate` whose caller stops waiting still applies every migration: its transaction
/// runs to its end. Another session holds the creation of the schema open, so the migration
/// is waiting inside its transaction when the caller gives up; once that session rolls back,
/// the migration completes on its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrate_its_caller_stops_waiting_for_still_completes() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let schema = testing::unique_schema();
    let store = PgStore::from_pool_with(
        pool.clone(),
        PgStoreOptions::new().with_schema(schema.clone()),
    );
    let mut blocker = pool.begin().await.expect("begin");
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&mut *blocker)
        .await
        .expect("create the schema, uncommitted");
    let stopped = tokio::time::timeout(Duration::from_millis(500), store.migrate()).await;
    assert!(stopped.is_err(), "migrate waited for the other session");
    blocker.rollback().await.expect("rollback");
    let all = PgStore::migration_versions();
    let recorded = tokio::time::timeout(WITHIN, async {
        loop {
            let recorded: Result<Vec<i32>, _> = sqlx::query_scalar(&format!(
                "SELECT version FROM {schema}.schema_migrations ORDER BY version"
            ))
            .fetch_all(&pool)
            .await;
            match recorded {
                Ok(recorded) if recorded == all => return recorded,
                _ => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    })
    .await;
    assert_eq!(recorded.ok(), Some(all), "the migration completed");
    assert_eq!(
        store.migrate().await.expect("migrate again"),
        Vec::<i32>::new()
    );
    testing::drop_schema(&store).await.expect("drop schema");
}

// ---------------------------------------------------------------------------------------------
// Stored values

/// Values come back exactly: opaque payload bytes, a `u32::MAX` schema version, metadata with
/// every field (a NUL and non-ASCII in a header), the recorded time; snapshots too.
#[tokio::test]
async fn stored_values_round_trip_exactly() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let exact = || {
        let mut headers = BTreeMap::new();
        headers.insert("actor".to_owned(), "ada\u{0} ✓ \"quoted\"".to_owned());
        NewEvent {
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
        }
    };
    // One event (through `append_one`), then two (through `append`'s arrays).
    let sent = vec![exact(), exact(), exact()];
    let before = SystemTime::now();
    store
        .append(
            &stream("exact"),
            ExpectedVersion::NoStream,
            sent[..1].to_vec(),
        )
        .await
        .expect("append one");
    store
        .append(
            &stream("exact"),
            ExpectedVersion::Exact(Version(1)),
            sent[1..].to_vec(),
        )
        .await
        .expect("append two");
    let after = SystemTime::now();
    let read = store.read_all(Position::START, 10).await.expect("read");
    assert_eq!(read.len(), sent.len());
    for (read, sent) in read.iter().zip(&sent) {
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
    }

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
