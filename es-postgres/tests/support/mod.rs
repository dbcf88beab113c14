//! Helpers shared by es-postgres's test files.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use es_core::{
    Codec, DecodeError, EventId, EventStore, ExpectedVersion, Metadata, NewEvent, Position,
    Projection, RecordedEvent, StoreError, StreamId,
};
use es_postgres::sqlx::postgres::PgPoolOptions;
use es_postgres::sqlx::{self, PgPool};
use es_postgres::{PgStore, testing};
use uuid::Uuid;

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

/// A stream id the test chose (so it is valid).
pub(crate) fn stream(id: &str) -> StreamId {
    StreamId::new(id).expect("a valid stream id")
}

/// An event with the JSON payload `{"n": n}` and no metadata.
pub(crate) fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        name: "test.happened".into(),
        schema_version: 1,
        payload: Bytes::from(format!("{{\"n\":{n}}}")),
        metadata: Metadata::default(),
    }
}

/// `events`, each carrying `command_id`.
pub(crate) fn with_command(mut events: Vec<NewEvent>, command_id: Uuid) -> Vec<NewEvent> {
    for event in &mut events {
        event.metadata.command_id = Some(command_id);
    }
    events
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
    const EVENTS: &'static [&'static str] = &["test.happened"];

    fn project<C: Codec>(
        &mut self,
        _codec: &C,
        event: &RecordedEvent,
    ) -> Result<bool, DecodeError> {
        *self.seen.entry(event.position.0).or_default() += 1;
        Ok(true)
    }
}
