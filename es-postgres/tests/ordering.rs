//! The global order under transactions that commit late, which the contract suite cannot
//! see from outside: an append that has taken its positions and not committed holds back the
//! appends after it, a rolled-back one leaves a hole readers pass, and other transactions of
//! the cluster hold back nothing. Appends held open by hand call the store's own
//! `{schema}.append_one` (one event) or `{schema}.append` function in a transaction of the
//! test's, exactly as `PgStore::append` does in its own.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::time::Duration;

use es_core::{EventStore, ExpectedVersion, Position, StoreError, Version};
use es_postgres::sqlx;
use es_postgres::{PgStore, PgStoreOptions, testing};

mod support;
use support::{WITHIN, append_in, event, next_within, setup, stream, teardown};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 7;

/// The test: an append that took its position and has not committed holds back a
/// later, committed append; when it commits, a live subscriber delivers both, in position
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_commit_is_delivered_in_position_order() {
    let Some((pool, store)) = setup(TESTS).await else {
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
    let Some((pool, store)) = setup(TESTS).await else {
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
    let Some((pool, store)) = setup(TESTS).await else {
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

/// The size of the `n`th slow append of a writer: one event or two, in turn.
fn slow_size(n: u64) -> usize {
    1 + (n % 2) as usize
}

/// Whether the `n`th slow append of `writer` rolls back (1 in 5) rather than commits.
fn slow_rolls_back(writer: u64, n: u64) -> bool {
    (writer + n).is_multiple_of(5)
}

/// Under concurrency, a live subscriber delivers exactly the committed log, in order: appends
/// held open for random times that commit or roll back (of one event and of two, so through
/// both append functions), fast appends through the store from another pool, and unrelated
/// writing transactions, all at once. Bounded: 4 x 30 slow and 4 x 60 fast appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_under_concurrent_late_commits_sees_exactly_the_log() {
    let Some((pool, store)) = setup(TESTS).await else {
        return;
    };
    let database = testing::database_or_skip(TESTS).expect("a database");
    let writers_pool = database.pool().await.expect("a pool");
    let writer_store = PgStore::from_pool_with(
        writers_pool.clone(),
        PgStoreOptions::new().with_schema(store.schema().clone()),
    );
    let mut tasks = Vec::new();
    for writer in 0..4_u64 {
        let (pool, store) = (pool.clone(), store.clone());
        tasks.push(tokio::spawn(async move {
            for n in 0..30_u64 {
                let mut tx = pool.begin().await.expect("begin");
                let id = format!("slow-{writer}");
                let events = [event(n), event(n)];
                append_in(&mut tx, &store, &id, -1, &events[..slow_size(n)])
                    .await
                    .expect("held append");
                // 0 to 9 ms open after taking positions, then commit (or 1 in 5: roll back).
                let pause = (writer * 7 + n * 3) % 10;
                tokio::time::sleep(Duration::from_millis(pause)).await;
                if slow_rolls_back(writer, n) {
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
    let slow_committed: usize = (0..4_u64)
        .flat_map(|writer| (0..30_u64).filter(move |&n| !slow_rolls_back(writer, n)))
        .map(slow_size)
        .sum();
    assert_eq!(truth.len(), 4 * 60 + slow_committed, "committed events");
    assert_eq!(
        delivered, truth,
        "delivered = the committed log, in order, once"
    );
    teardown(&store).await;
}

/// Positions must be allocated before the transaction has an id: both append functions
/// refuse a transaction that wrote first (its id would be older than its positions).
#[tokio::test]
async fn allocate_refuses_a_transaction_that_wrote_first() {
    let Some((pool, store)) = setup(TESTS).await else {
        return;
    };
    for events in [vec![event(1)], vec![event(1), event(2)]] {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("SELECT pg_current_xact_id()")
            .execute(&mut *tx)
            .await
            .expect("take a transaction id");
        let refused = append_in(&mut tx, &store, "early", -1, &events).await;
        match refused {
            Err(sqlx::Error::Database(error)) => {
                assert_eq!(error.code().as_deref(), Some("55000"), "{error}");
            }
            other => panic!("expected SQLSTATE 55000, got {other:?}"),
        }
        tx.rollback().await.expect("rollback");
    }
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

/// The key of `store`'s allocation lock, as es-postgres computes it (`migrations.rs` and
/// `schema.rs`): the class 0x6573_0001 and FNV-1a of the schema name.
fn allocation_lock(store: &PgStore) -> (i32, i32) {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in store.schema().as_str().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (0x6573_0001, i32::from_ne_bytes(hash.to_ne_bytes()))
}

/// How many advisory locks the backend `pid` holds or waits for. Once its transaction has
/// ended, any left would be session locks: the allocation lock, leaked.
async fn advisory_locks(pool: &sqlx::PgPool, pid: i32) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1")
        .bind(pid)
        .fetch_one(pool)
        .await
        .expect("pg_locks")
}

/// An error while positions are taken (here the sequence runs out) fails the append and
/// leaves the allocation lock free, through both append functions: other connections append
/// on while the failed one stays open.
#[tokio::test]
async fn an_error_while_allocating_releases_the_allocation_lock() {
    let Some((pool, store)) = setup(TESTS).await else {
        return;
    };
    let schema = store.schema().clone();
    for size in [1_usize, 2] {
        let events: Vec<_> = (0..size as u64).map(event).collect();
        let mut failing = pool.acquire().await.expect("a connection");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *failing)
            .await
            .expect("pid");
        // Two positions at least, so that the cap is above the sequence's minimum.
        append_in(&mut failing, &store, "capped", -1, &[event(0), event(1)])
            .await
            .expect("an append before the cap");
        let last: i64 = sqlx::query_scalar(&format!("SELECT last_value FROM {schema}.positions"))
            .fetch_one(&pool)
            .await
            .expect("the sequence");
        sqlx::raw_sql(&format!(
            "ALTER SEQUENCE {schema}.positions MAXVALUE {last}"
        ))
        .execute(&pool)
        .await
        .expect("cap the sequence");
        match append_in(&mut failing, &store, "capped", -1, &events).await {
            // 2200H: sequence_generator_limit_exceeded, raised by nextval.
            Err(sqlx::Error::Database(error)) => {
                assert_eq!(error.code().as_deref(), Some("2200H"), "{error}");
            }
            other => panic!("expected SQLSTATE 2200H, got {other:?}"),
        }
        assert_eq!(advisory_locks(&pool, pid).await, 0, "size {size}");
        sqlx::raw_sql(&format!("ALTER SEQUENCE {schema}.positions NO MAXVALUE"))
            .execute(&pool)
            .await
            .expect("uncap the sequence");
        tokio::time::timeout(
            WITHIN,
            store.append(&stream("capped"), ExpectedVersion::Any, events.clone()),
        )
        .await
        .expect("not blocked by the failed append's connection")
        .expect("append");
        drop(failing);
    }
    teardown(&store).await;
}

/// An append cancelled while it waits for the allocation lock (here by `statement_timeout`)
/// fails, holds no lock afterwards, and does not release the holder's: through both append
/// functions.
#[tokio::test]
async fn a_cancelled_wait_for_the_allocation_lock_leaves_no_lock_behind() {
    let Some((pool, store)) = setup(TESTS).await else {
        return;
    };
    let (class, key) = allocation_lock(&store);
    let mut holder = pool.acquire().await.expect("a connection");
    sqlx::query("SELECT pg_advisory_lock($1, $2)")
        .bind(class)
        .bind(key)
        .execute(&mut *holder)
        .await
        .expect("take the allocation lock");
    let holder_pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *holder)
        .await
        .expect("pid");
    for size in [1_usize, 2] {
        let events: Vec<_> = (0..size as u64).map(event).collect();
        let mut waiter = pool.acquire().await.expect("a connection");
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *waiter)
            .await
            .expect("pid");
        sqlx::raw_sql("SET statement_timeout = '200ms'")
            .execute(&mut *waiter)
            .await
            .expect("set statement_timeout");
        match append_in(&mut waiter, &store, "waiting", -1, &events).await {
            // 57014: query_canceled.
            Err(sqlx::Error::Database(error)) => {
                assert_eq!(error.code().as_deref(), Some("57014"), "{error}");
            }
            other => panic!("expected SQLSTATE 57014, got {other:?}"),
        }
        assert_eq!(advisory_locks(&pool, pid).await, 0, "size {size}");
        assert_eq!(
            advisory_locks(&pool, holder_pid).await,
            1,
            "the holder keeps the lock"
        );
        sqlx::raw_sql("RESET statement_timeout")
            .execute(&mut *waiter)
            .await
            .expect("reset statement_timeout");
    }
    sqlx::query("SELECT pg_advisory_unlock($1, $2)")
        .bind(class)
        .bind(key)
        .execute(&mut *holder)
        .await
        .expect("release the allocation lock");
    drop(holder);
    tokio::time::timeout(
        WITHIN,
        store.append(&stream("waiting"), ExpectedVersion::Any, vec![event(3)]),
    )
    .await
    .expect("not blocked")
    .expect("append");
    teardown(&store).await;
}
