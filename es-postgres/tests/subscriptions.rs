//! Live subscriptions on `PgStore` (issue #9, item 5): several subscribers at once while
//! several writers append, each delivering exactly the log; and a stalled subscriber, which
//! holds up no writer and then catches up one bounded batch at a time.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use es_core::testing::hooked::{Hooked, StoreHooks};
use es_core::{
    EventId, EventStore, ExpectedVersion, Position, RecordedEvent, StoreError, Subscription,
};
use es_postgres::sqlx::postgres::PgPoolOptions;
use es_postgres::{PgStore, PgStoreOptions, testing};
use tokio::task::JoinHandle;

mod support;
use support::{Follower, NO_POLLING, WITHIN, event, stream, whole_log};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 3;

/// How many events an append of [`spawn_writers`] writes: 1 to 3.
fn append_size(n: u64) -> u64 {
    n % 3 + 1
}

/// How many events [`spawn_writers`] appends in all.
fn written_by(writers: u64, appends: u64) -> usize {
    let total = (0..appends).map(append_size).sum::<u64>() * writers;
    usize::try_from(total).expect("a small count")
}

/// `writers` tasks, each making `appends` appends of 1 to 3 events, spread over three
/// streams of its own; they start at once.
fn spawn_writers(store: &PgStore, writers: u64, appends: u64) -> Vec<JoinHandle<()>> {
    (0..writers)
        .map(|writer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..appends {
                    let events = (0..append_size(n)).map(|k| event(n * 10 + k)).collect();
                    let stream_id = stream(&format!("writer-{writer}-{}", n % 3));
                    tokio::time::timeout(
                        WITHIN,
                        store.append(&stream_id, ExpectedVersion::Any, events),
                    )
                    .await
                    .expect("an append does not hang")
                    .expect("append");
                }
            })
        })
        .collect()
}

/// Waits for every writer, each within `WITHIN`.
async fn join_all(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        tokio::time::timeout(WITHIN, task)
            .await
            .expect("a writer to finish within 10 s")
            .expect("the writer task");
    }
}

/// (position, event id) of each event: what "the same events, in the same order" compares.
fn identities(events: &[RecordedEvent]) -> Vec<(Position, EventId)> {
    events
        .iter()
        .map(|event| (event.position, event.event_id))
        .collect()
}

/// Six subscribers (batch sizes from 1 to 512; three subscribed before the writers start and
/// three while they write) follow the log while four writers append to twelve streams. Each
/// delivers every event once, in position order, with no gap: exactly the final log. The
/// poll interval is 60 s, so every live hand-over was a notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_subscribers_each_deliver_exactly_the_log_while_writers_append() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let options = PgStoreOptions::new().with_poll_interval(NO_POLLING);
    let store = testing::fresh_store_with(&pool, options)
        .await
        .expect("a fresh store");
    let stored = 3;
    for n in 0..stored {
        store
            .append(&stream("before"), ExpectedVersion::Any, vec![event(n)])
            .await
            .expect("append");
    }

    let batch_sizes = [1, 2, 3, 7, 64, 512];
    let follow =
        |batch_size| Follower::spawn(store.subscribe(Position::START).with_batch_size(batch_size));
    let mut subscribers: Vec<Follower> =
        batch_sizes[..3].iter().map(|&size| follow(size)).collect();
    let writers = spawn_writers(&store, 4, 40);
    // The others subscribe while the writers write: their catch-up meets live appends.
    tokio::time::sleep(Duration::from_millis(20)).await;
    subscribers.extend(batch_sizes[3..].iter().map(|&size| follow(size)));
    join_all(writers).await;

    let total = usize::try_from(stored).expect("small") + written_by(4, 40);
    let log = whole_log(&store).await;
    assert_eq!(log.len(), total, "every append is in the log");
    for (subscriber, batch_size) in subscribers.iter_mut().zip(batch_sizes) {
        let delivered = subscriber.receive(total).await;
        assert_eq!(
            identities(&delivered),
            identities(&log),
            "the subscriber with batch size {batch_size} delivers exactly the log"
        );
        subscriber.assert_nothing_more().await;
        let errors = subscriber.errors();
        assert!(errors.is_empty(), "no error without a fault: {errors:?}");
    }
    testing::drop_schema(&store).await.expect("drop schema");
}

/// Records the largest answer `read_all` gave, what a subscription over the store holds at
/// most (the hooks of a [`Hooked`] store).
#[derive(Debug, Clone, Default)]
struct Recording {
    largest_read: Arc<AtomicUsize>,
    reads: Arc<AtomicUsize>,
}

impl Recording {
    /// `inner`, recording its `read_all` answers.
    fn wrap<S>(inner: S) -> Hooked<S, Self> {
        Hooked::new(inner, Self::default())
    }

    /// How many events the largest answer of `read_all` held.
    fn largest_read(&self) -> usize {
        self.largest_read.load(Ordering::SeqCst)
    }

    /// How many times `read_all` was called.
    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

impl<S: EventStore> StoreHooks<S> for Recording {
    async fn read_all(
        &self,
        inner: &S,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = inner.read_all(after, max_count).await?;
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.largest_read.fetch_max(events.len(), Ordering::SeqCst);
        Ok(events)
    }
}

/// Delivers what `subscription` has stored, without waiting, until it has caught up.
async fn drain<S: EventStore>(subscription: &mut Subscription<S>) -> Vec<RecordedEvent> {
    let mut delivered = Vec::new();
    while let Some(event) = tokio::time::timeout(WITHIN, subscription.try_next())
        .await
        .expect("a read does not hang")
        .expect("read")
    {
        delivered.push(event);
    }
    delivered
}

/// A stalled subscriber (it has read a first batch and is then not polled) and a slow one
/// (a task that pauses after every event) cost the writers nothing: four writers on a pool of
/// only two connections, shared with both subscribers, all finish while the stalled one reads
/// nothing. A subscription holds no connection between reads; on the server it holds nothing
/// at all (no cursor, no session, no queue: it is a position in the client, and each read is
/// one statement with a LIMIT), so the server's memory per subscriber is none.
///
/// Then the stalled one catches up and delivers every event exactly once, in order; both
/// hold at most one batch (`BATCH` events) at any time: no `read_all` answer was larger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_holds_up_no_writer_then_catches_up_one_batch_at_a_time() {
    const BATCH: usize = 5;
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(WITHIN)
        .connect(database.url())
        .await
        .expect("a pool of two");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    for n in 0..3 {
        store
            .append(&stream("before"), ExpectedVersion::Any, vec![event(n)])
            .await
            .expect("append");
    }

    let stalled_store = Recording::wrap(store.clone());
    let mut stalled = stalled_store
        .subscribe(Position::START)
        .with_batch_size(BATCH);
    let first = stalled.try_next().await.expect("read").expect("an event");
    let reads_before = stalled_store.hooks.reads();

    let total = 3 + written_by(4, 30);
    let slow_store = Recording::wrap(store.clone());
    let mut slow_subscription = slow_store.subscribe(Position::START).with_batch_size(BATCH);
    let slow = tokio::spawn(async move {
        let mut delivered = Vec::new();
        for _ in 0..total {
            let event = tokio::time::timeout(WITHIN, slow_subscription.next())
                .await
                .expect("the slow subscriber to deliver within 10 s")
                .expect("next");
            delivered.push(event);
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        (slow_subscription, delivered)
    });

    join_all(spawn_writers(&store, 4, 30)).await;
    assert_eq!(
        stalled_store.hooks.reads(),
        reads_before,
        "the writers finished while the stalled subscriber read nothing"
    );

    let log = whole_log(&store).await;
    assert_eq!(log.len(), total);
    let mut delivered = vec![first];
    delivered.extend(drain(&mut stalled).await);
    assert_eq!(
        identities(&delivered),
        identities(&log),
        "the stalled subscriber catches up: every event once, in order"
    );
    assert_eq!(stalled.position(), log.last().expect("events").position);
    assert_eq!(
        stalled_store.hooks.largest_read(),
        BATCH,
        "it never held more than one batch (and the backlog did fill batches)"
    );
    assert!(
        stalled_store.hooks.reads() > log.len() / BATCH,
        "it read batch by batch"
    );

    let (mut slow_subscription, slow_delivered) = tokio::time::timeout(WITHIN, slow)
        .await
        .expect("the slow subscriber to finish")
        .expect("the slow task");
    assert!(
        drain(&mut slow_subscription).await.is_empty(),
        "nothing more"
    );
    assert_eq!(
        identities(&slow_delivered),
        identities(&log),
        "the slow subscriber delivers every event once, in order"
    );
    assert!(
        slow_store.hooks.largest_read() <= BATCH,
        "one batch at most"
    );
    testing::drop_schema(&store).await.expect("drop schema");
}

/// A subscription in a `select!` against a yield, and under a timeout, while four writers
/// append: most calls are dropped with a read or a wait in flight on the server, and the
/// events delivered are exactly the log, once each, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_cancelled_again_and_again_loses_and_repeats_nothing() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let mut subscription = store.subscribe(Position::START).with_batch_size(5);
    let writers = spawn_writers(&store, 4, 40);
    let total = written_by(4, 40);
    let (mut delivered, mut cancelled) = (Vec::new(), 0_u32);
    tokio::time::timeout(Duration::from_secs(60), async {
        while delivered.len() < total {
            if cancelled.is_multiple_of(2) {
                tokio::select! {
                    event = subscription.next() => delivered.push(event.expect("an event")),
                    () = tokio::task::yield_now() => cancelled += 1,
                }
            } else {
                match tokio::time::timeout(Duration::from_micros(300), subscription.next()).await {
                    Ok(event) => delivered.push(event.expect("an event")),
                    Err(_) => cancelled += 1,
                }
            }
        }
    })
    .await
    .expect("the subscriber to see every event");
    join_all(writers).await;
    let log = whole_log(&store).await;
    assert_eq!(identities(&delivered), identities(&log), "exactly the log");
    assert!(cancelled >= 50, "only {cancelled} calls were cancelled");
    eprintln!("{cancelled} calls cancelled");
}
