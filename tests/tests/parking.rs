//! Parked events: an event the projection fails on is set aside with its error while the other
//! streams go on; later events of its stream wait behind it (or not, by the policy); a retry
//! after a fix applies it once; a dismissal drops it.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use es_core::codec::JsonCodec;
use es_core::event::encode_event;
use es_core::prelude::*;
use es_core::projection::Parking;
use es_memstore::MemStore;
use es_tests::plant;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "counter.ticked")]
struct Ticked {
    n: u64,
}

/// Each stream's ticks, as applied.
#[derive(Projection, Default, Debug, Clone, PartialEq)]
#[projection(name = "ticks", events(Ticked))]
struct Ticks {
    per_stream: BTreeMap<String, Vec<u64>>,
}

impl On<Ticked> for Ticks {
    fn on(&mut self, event: &Ticked, meta: &EventMeta) {
        self.per_stream
            .entry(meta.stream_id.to_string())
            .or_default()
            .push(event.n);
    }
}

async fn tick(store: &MemStore, stream: &str, n: u64) -> Position {
    let event = NewEvent::new(encode_event(&JsonCodec, &Ticked { n }).unwrap());
    store
        .append(
            &StreamId::new(stream).unwrap(),
            ExpectedVersion::Any,
            vec![event],
        )
        .await
        .unwrap()
        .last_position
}

/// Three streams of three ticks, `counter-b`'s second tick a payload that does not decode.
async fn log_with_a_bad_payload(store: &MemStore) {
    for n in 1..=3 {
        tick(store, "counter-a", n).await;
        if n == 2 {
            plant(store, "counter-b", "counter.ticked", 1, b"{\"n\": \"two\"}")
                .await
                .unwrap();
        } else {
            tick(store, "counter-b", n).await;
        }
        tick(store, "counter-c", n).await;
    }
}

#[tokio::test]
async fn an_event_that_does_not_decode_parks_and_its_stream_waits_behind_it() {
    let store = MemStore::new();
    log_with_a_bad_payload(&store).await;
    let ticks = ProjectionRunner::new(store.clone(), Ticks::default())
        .with_parking(Parking::holding_streams());
    assert_eq!(ticks.catch_up().await.unwrap(), Position(9));
    {
        let read = ticks.read();
        assert_eq!(
            read.per_stream["counter-a"],
            [1, 2, 3],
            "other streams go on"
        );
        assert_eq!(read.per_stream["counter-c"], [1, 2, 3]);
        assert_eq!(
            read.per_stream["counter-b"],
            [1],
            "counter-b stops before its bad event"
        );
    }
    let parked = ticks.parked().await.unwrap();
    let summary: Vec<(u64, &str, bool)> = parked
        .iter()
        .map(|event| (event.position.0, event.stream_id.as_str(), event.failed))
        .collect();
    assert_eq!(summary, [(5, "counter-b", true), (8, "counter-b", false)]);
    assert!(
        parked[0].error.contains("counter.ticked"),
        "{}",
        parked[0].error
    );
    assert!(
        parked[1].error.contains("position 5"),
        "{}",
        parked[1].error
    );

    // Later events of the stream keep waiting.
    tick(&store, "counter-b", 4).await;
    ticks.catch_up().await.unwrap();
    assert_eq!(ticks.read().per_stream["counter-b"], [1]);
    assert_eq!(ticks.parked().await.unwrap().len(), 3);

    // A payload does not change: a retry fails again and keeps all three parked.
    let stream = StreamId::new("counter-b").unwrap();
    let retried = ticks.retry_parked(&stream).await.unwrap();
    assert_eq!((retried.applied, retried.parked), (0, 3));
    // Dismissed: the stream goes on from its next event.
    assert_eq!(ticks.dismiss_parked(&stream).await.unwrap(), 3);
    assert!(ticks.parked().await.unwrap().is_empty());
    tick(&store, "counter-b", 5).await;
    ticks.catch_up().await.unwrap();
    assert_eq!(ticks.read().per_stream["counter-b"], [1, 5]);
}

#[tokio::test]
async fn skipping_parks_the_bad_event_alone() {
    let store = MemStore::new();
    log_with_a_bad_payload(&store).await;
    let ticks =
        ProjectionRunner::new(store.clone(), Ticks::default()).with_parking(Parking::skipping());
    ticks.catch_up().await.unwrap();
    assert_eq!(ticks.read().per_stream["counter-b"], [1, 3]);
    let parked = ticks.parked().await.unwrap();
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].position, Position(5));
}

#[tokio::test]
async fn without_parking_the_runner_stops_at_the_bad_event() {
    let store = MemStore::new();
    log_with_a_bad_payload(&store).await;
    let ticks = ProjectionRunner::new(store.clone(), Ticks::default());
    let stopped = ticks.catch_up().await;
    assert!(
        matches!(stopped, Err(ProjectionError::Decode { .. })),
        "{stopped:?}"
    );
    assert_eq!(ticks.position(), Position(4));
}

#[tokio::test]
async fn a_process_manager_does_not_park() {
    let store = MemStore::new();
    let transfers =
        ProjectionRunner::new(store.clone(), es_examples::bank::process::workflow(&store))
            .with_parking(Parking::default());
    let refused = transfers.catch_up().await;
    assert!(
        matches!(refused, Err(ProjectionError::Unparkable { .. })),
        "{refused:?}"
    );
}

/// The table target's test: one row per tick; `On` panics on `counter-b` while `POISONED`.
mod in_a_table {
    use std::sync::atomic::{AtomicBool, Ordering};

    use es_sqlite::rusqlite::{self, Connection};
    use es_sqlite::{SqliteProjection, SqliteStore, SqliteTables};

    use super::*;

    static POISONED: AtomicBool = AtomicBool::new(true);

    /// One batch's rows.
    #[derive(Projection, Default, Debug)]
    #[projection(name = "tick-rows", events(Ticked))]
    struct TickRows {
        rows: Vec<(String, u64, u64)>,
    }

    impl On<Ticked> for TickRows {
        fn on(&mut self, event: &Ticked, meta: &EventMeta) {
            assert!(
                !(meta.stream_id.as_str() == "counter-b" && POISONED.load(Ordering::SeqCst)),
                "the handler of counter-b is broken"
            );
            self.rows
                .push((meta.stream_id.to_string(), event.n, meta.position.0));
        }
    }

    impl SqliteProjection for TickRows {
        fn setup(conn: &Connection) -> rusqlite::Result<()> {
            conn.execute_batch(
                "CREATE TABLE IF NOT EXISTS tick_rows \
                 (stream_id TEXT NOT NULL, n INTEGER NOT NULL, position INTEGER PRIMARY KEY)",
            )
        }

        fn write(self, conn: &Connection) -> rusqlite::Result<()> {
            let mut insert = conn.prepare_cached(
                "INSERT INTO tick_rows (stream_id, n, position) VALUES (?1, ?2, ?3)",
            )?;
            for (stream, n, position) in self.rows {
                insert.execute((stream, n, position))?;
            }
            Ok(())
        }

        fn clear(conn: &Connection) -> rusqlite::Result<()> {
            conn.execute_batch("DELETE FROM tick_rows")
        }
    }

    fn rows(path: &std::path::Path) -> Vec<(String, u64)> {
        let conn = Connection::open(path).unwrap();
        let mut select = conn
            .prepare("SELECT stream_id, n FROM tick_rows ORDER BY position")
            .unwrap();
        select
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    async fn tick(store: &SqliteStore, stream: &str, n: u64) {
        let event = NewEvent::new(encode_event(&JsonCodec, &Ticked { n }).unwrap());
        store
            .append(
                &StreamId::new(stream).unwrap(),
                ExpectedVersion::Any,
                vec![event],
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_poison_stream_parks_while_the_others_are_applied_and_a_retry_applies_it_once() {
        let file = es_tests::ScratchFile::new("parking");
        let store = SqliteStore::open(file.path()).await.unwrap();
        for n in 1..=20 {
            for stream in ["counter-a", "counter-b", "counter-c"] {
                tick(&store, stream, n).await;
            }
        }
        let runner =
            ProjectionRunner::new(store.clone(), SqliteTables::<TickRows>::new(store.clone()))
                .with_batch_size(7)
                .with_parking(Parking::holding_streams());
        assert_eq!(runner.catch_up().await.unwrap(), Position(60));
        let applied = rows(file.path());
        assert_eq!(applied.len(), 40, "counter-a and counter-c, all of them");
        assert!(applied.iter().all(|(stream, _)| stream != "counter-b"));
        let parked = runner.parked().await.unwrap();
        assert_eq!(
            parked.len(),
            20,
            "counter-b's first event failed, the rest wait"
        );
        assert!(
            parked[0].failed && parked[0].error.contains("broken"),
            "{:?}",
            parked[0]
        );
        assert!(parked[1..].iter().all(|event| !event.failed));

        // Fixed: the retry applies counter-b's events once, in order.
        POISONED.store(false, Ordering::SeqCst);
        let stream = StreamId::new("counter-b").unwrap();
        let retried = runner.retry_parked(&stream).await.unwrap();
        assert_eq!((retried.applied, retried.parked), (20, 0));
        assert!(runner.parked().await.unwrap().is_empty());
        // A second retry finds nothing; the runner goes on, counter-b too.
        let again = runner.retry_parked(&stream).await.unwrap();
        assert_eq!((again.applied, again.parked), (0, 0));
        tick(&store, "counter-b", 21).await;
        runner.catch_up().await.unwrap();
        let applied = rows(file.path());
        assert_eq!(applied.len(), 61, "every event once");
        let b: Vec<u64> = applied
            .iter()
            .filter(|(stream, _)| stream == "counter-b")
            .map(|(_, n)| *n)
            .collect();
        assert_eq!(
            b,
            (1..=21).collect::<Vec<_>>(),
            "counter-b complete, in order"
        );
        store.close().await;
    }
}

#[tokio::test]
async fn a_split_consumer_parks_in_the_partition_of_the_stream() {
    let store = MemStore::new();
    log_with_a_bad_payload(&store).await;
    let ticks = ProjectionRunner::new(store.clone(), Ticks::default())
        .with_partitions(es_core::projection::Partitions::new(4))
        .with_parking(Parking::holding_streams());
    ticks.catch_up().await.unwrap();
    assert_eq!(ticks.read().per_stream["counter-a"], [1, 2, 3]);
    assert_eq!(ticks.read().per_stream["counter-c"], [1, 2, 3]);
    let parked = ticks.parked().await.unwrap();
    let positions: Vec<u64> = parked.iter().map(|event| event.position.0).collect();
    assert_eq!(positions, [5, 8]);
    let stream = StreamId::new("counter-b").unwrap();
    assert_eq!(ticks.dismiss_parked(&stream).await.unwrap(), 2);
    assert!(ticks.parked().await.unwrap().is_empty());
}
