//! Helpers of the tests of live consumers and faults: bounded waits, retried appends, a
//! server of the test's own, a counting projection and a subscriber in a task.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use es_core::store::CheckpointStore;
use es_core::{
    Codec, DecodeError, EventDescriptor, EventStore, ExpectedVersion, NewEvent, Position,
    Projection, RecordedEvent, StoreError, StreamId, Subscription,
};
use es_postgres::sqlx::postgres::PgPoolOptions;
use es_postgres::sqlx::{self, PgPool};
use es_postgres::{PgStore, testing};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A generous bound on anything that should happen at once: a failure, not a hang.
pub(crate) const WITHIN: Duration = Duration::from_secs(10);

/// The poll interval of tests that must see notifications work: far longer than `WITHIN`,
/// so a live subscriber that is woken in time was woken by a notification, not by polling.
pub(crate) const NO_POLLING: Duration = Duration::from_secs(60);

/// A server of the test's own, for tests that restart it, or `None` (after the harness's
/// one-line notice) when there are no PostgreSQL binaries. The notice counts the tests of
/// the binary that skip: all `tests` of it, or only its `restart_tests` when `DATABASE_URL`
/// runs the others.
pub(crate) fn own_server_or_skip(
    tests: usize,
    restart_tests: usize,
) -> Option<testing::TestServer> {
    let url_set = std::env::var_os("DATABASE_URL").is_some_and(|url| !url.is_empty());
    testing::server_or_skip(if url_set { restart_tests } else { tests })
}

/// A pool on a server of the test's own, for the current runtime.
pub(crate) async fn own_pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await
        .expect("a pool")
}

/// The driver error inside a [`StoreError::Backend`]; panics on any other error.
pub(crate) fn driver_error(error: &StoreError) -> &sqlx::Error {
    match error {
        StoreError::Backend(source) => source
            .downcast_ref::<sqlx::Error>()
            .unwrap_or_else(|| panic!("a driver error inside Backend, got {source:?}")),
        other => panic!("expected StoreError::Backend, got {other:?}"),
    }
}

/// Appends, retrying on a backend error for up to `WITHIN` (after a fault a pooled
/// connection may turn out dead). Give the events a command id: a retry of an append that
/// did commit is then answered `duplicate`, so nothing is ever written twice.
pub(crate) async fn append_retrying(store: &PgStore, stream_id: &StreamId, events: Vec<NewEvent>) {
    let deadline = Instant::now() + WITHIN;
    loop {
        match store
            .append(stream_id, ExpectedVersion::Any, events.clone())
            .await
        {
            Ok(_) => return,
            Err(StoreError::Backend(error)) if Instant::now() < deadline => {
                eprintln!("append after a fault failed, retrying: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(error) => panic!("append: {error}"),
        }
    }
}

/// The whole log, read through the store.
pub(crate) async fn whole_log(store: &PgStore) -> Vec<RecordedEvent> {
    store
        .read_all(Position::START, 1_000_000)
        .await
        .expect("read the log")
}

/// The positions of the whole log, read through the store.
pub(crate) async fn log_positions(store: &PgStore) -> Vec<u64> {
    whole_log(store)
        .await
        .iter()
        .map(|event| event.position.0)
        .collect()
}

/// Waits until `store`'s listener has a live `LISTEN` connection on the server.
pub(crate) async fn wait_for_listener(pool: &PgPool, store: &PgStore) {
    let pattern = format!("LISTEN%{}%", store.channel());
    tokio::time::timeout(WITHIN, async {
        loop {
            let listening: Result<i64, _> = sqlx::query_scalar(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE $1 AND pid <> pg_backend_pid()",
            )
            .bind(&pattern)
            .fetch_one(pool)
            .await;
            if matches!(listening, Ok(n) if n > 0) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the store's listener to (re)connect within 10 s");
}

/// Restarts `server` from an async test without blocking the runtime's other tasks.
pub(crate) async fn restart(server: &testing::TestServer) {
    tokio::task::block_in_place(|| server.restart()).expect("the server restarts");
}

/// Counts how many times the runner hands it each position.
#[derive(Debug, Default)]
pub(crate) struct Counter {
    pub(crate) seen: BTreeMap<u64, u32>,
}

impl Projection for Counter {
    const NAME: &'static str = "fault-counter";
    const EVENTS: &'static [EventDescriptor] = &[EventDescriptor {
        name: "test.happened",
        version: 1,
    }];

    fn project<C: Codec>(
        &mut self,
        _codec: &C,
        event: &RecordedEvent,
    ) -> Result<bool, DecodeError> {
        *self.seen.entry(event.position.0).or_default() += 1;
        Ok(true)
    }
}

/// Asserts that a [`Counter`] counted every position of `log` exactly once and nothing
/// else, and that its checkpoint in `store` is `head`.
pub(crate) async fn assert_counted_once(
    counted: &BTreeMap<u64, u32>,
    log: &[u64],
    store: &PgStore,
    head: Position,
) {
    assert_eq!(
        counted.keys().copied().collect::<Vec<_>>(),
        log,
        "every event of the log, none missing"
    );
    assert!(
        counted.values().all(|&times| times == 1),
        "each event applied exactly once: {counted:?}"
    );
    assert_eq!(
        store
            .load_checkpoint(Counter::NAME)
            .await
            .expect("load the checkpoint"),
        Some(head),
        "the checkpoint is the last event processed"
    );
}

/// A subscriber in a task of its own, following its subscription with `next()` as a live
/// consumer would: every event it delivers goes to a channel, and so does every error it
/// meets, after which it polls again (as `Subscription::next` documents: it resumes after
/// the last event delivered). Dropping it stops the task.
pub(crate) struct Follower {
    task: JoinHandle<()>,
    delivered: mpsc::UnboundedReceiver<RecordedEvent>,
    errors: mpsc::UnboundedReceiver<StoreError>,
}

impl Follower {
    /// Starts following `subscription`.
    pub(crate) fn spawn<S: EventStore>(mut subscription: Subscription<S>) -> Self {
        let (delivered_tx, delivered) = mpsc::unbounded_channel();
        let (errors_tx, errors) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            loop {
                match subscription.next().await {
                    Ok(event) => {
                        if delivered_tx.send(event).is_err() {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = errors_tx.send(error);
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        });
        Self {
            task,
            delivered,
            errors,
        }
    }

    /// The next `count` events, each within `WITHIN` of the one before.
    pub(crate) async fn receive(&mut self, count: usize) -> Vec<RecordedEvent> {
        let mut received = Vec::with_capacity(count);
        for _ in 0..count {
            let event = tokio::time::timeout(WITHIN, self.delivered.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "the subscriber to deliver within 10 s (it delivered {} of {count})",
                        received.len()
                    )
                })
                .expect("the subscriber is running");
            received.push(event);
        }
        received
    }

    /// Asserts that the subscriber delivers nothing more (given a moment to do so).
    pub(crate) async fn assert_nothing_more(&mut self) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Ok(extra) = self.delivered.try_recv() {
            panic!(
                "delivered more than the log: position {} again or beyond",
                extra.position
            );
        }
    }

    /// The errors the subscriber met (and got past) so far.
    pub(crate) fn errors(&mut self) -> Vec<StoreError> {
        let mut errors = Vec::new();
        while let Ok(error) = self.errors.try_recv() {
            errors.push(error);
        }
        errors
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}
