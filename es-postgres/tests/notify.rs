//! Notifications after appends: sent by the store after its appends commit (not inside them,
//! where PostgreSQL would serialize the commits), they still wake subscribers in other
//! processes, and a burst of appends sends fewer of them than appends.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::time::{Duration, Instant};

use es_core::{EventStore, ExpectedVersion, Position};
use es_postgres::sqlx::{self, postgres::PgListener, postgres::PgPoolOptions};
use es_postgres::{PgStore, PgStoreOptions, testing};

mod support;
use support::{event, stream};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 2;

/// A generous bound on anything that should happen at once: a failure, not a hang.
const WITHIN: Duration = Duration::from_secs(10);

/// A subscriber on a second store (another pool, as another process would have) is woken by
/// an append on the first well within its 60 s poll interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_in_another_process_is_woken_by_an_append() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let options = PgStoreOptions::new().with_poll_interval(Duration::from_secs(60));
    let writer_pool = database.pool().await.expect("the writer's pool");
    let writer = testing::fresh_store_with(&writer_pool, options.clone())
        .await
        .expect("a fresh store");
    let reader_pool = database.pool().await.expect("the reader's pool");
    let reader = PgStore::from_pool_with(reader_pool, options.with_schema(writer.schema().clone()));

    // The first wait starts the reader's listener and returns once it listens.
    tokio::time::timeout(WITHIN, reader.wait_for_events(Position::START))
        .await
        .expect("the listener to start")
        .expect("wait");
    let mut subscription = reader.subscribe(Position::START);
    let subscriber = tokio::spawn(async move { subscription.next().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!subscriber.is_finished(), "nothing to deliver yet");

    let appended_at = Instant::now();
    let appended = writer
        .append(&stream("woken"), ExpectedVersion::Any, vec![event(1)])
        .await
        .expect("append");
    let delivered = tokio::time::timeout(WITHIN, subscriber)
        .await
        .expect("woken well before the 60 s poll")
        .expect("the subscriber task")
        .expect("the event");
    assert_eq!(delivered.position, appended.first_position);
    eprintln!(
        "delivered in the other store {:?} after the append started",
        appended_at.elapsed()
    );
    testing::drop_schema(&writer).await.expect("drop schema");
}

/// Appends that end close together share notifications: 50 appends held back by a table
/// lock, then let go at once, send at least one and fewer than one per append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_appends_sends_fewer_notifications_than_appends() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let appends = 50;
    // A connection for each append, so that all of them are under way at once.
    let pool = PgPoolOptions::new()
        .max_connections(appends + 2)
        .connect(database.url())
        .await
        .expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let mut listener = PgListener::connect(database.url())
        .await
        .expect("a listener");
    listener.listen(store.channel()).await.expect("listen");

    // Hold every append at its INSERT, after it has taken its position.
    let mut lock = pool.begin().await.expect("begin");
    sqlx::query(&format!(
        "LOCK TABLE {}.events IN SHARE MODE",
        store.schema()
    ))
    .execute(&mut *lock)
    .await
    .expect("lock the events table");
    let writers: Vec<_> = (0..appends)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                let id = stream(&format!("burst-{n}"));
                store
                    .append(&id, ExpectedVersion::NoStream, vec![event(n.into())])
                    .await
            })
        })
        .collect();
    let waiting = format!(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '{}.events'::regclass",
        store.schema()
    );
    let started = Instant::now();
    while sqlx::query_scalar::<_, i64>(&waiting)
        .fetch_one(&pool)
        .await
        .expect("pg_locks")
        < i64::from(appends)
    {
        assert!(started.elapsed() < WITHIN, "every append waits on the lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lock.commit().await.expect("let the appends go");
    for writer in writers {
        writer.await.expect("the writer task").expect("append");
    }

    // Every notification sent after the last append has arrived once the channel has been
    // quiet for a while.
    let mut notifications = 0;
    let mut wait = WITHIN;
    while let Ok(received) = tokio::time::timeout(wait, listener.recv()).await {
        received.expect("a notification");
        notifications += 1;
        wait = Duration::from_millis(500);
    }
    eprintln!("{appends} appends at once, {notifications} notification(s)");
    assert!(notifications >= 1, "the appends were notified");
    assert!(
        notifications < appends,
        "{notifications} notifications for {appends} appends: none shared"
    );
    testing::drop_schema(&store).await.expect("drop schema");
}
