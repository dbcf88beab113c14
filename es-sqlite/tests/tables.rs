//! `SqliteTables`: rows, checkpoint and parked events in one transaction, so every event
//! reaches the tables exactly once, through failing writes, panics, racing runners and
//! partitioned workers on two stores opened on the same file, restarts and rebuilds.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use es_core::codec::Encoded;
use es_core::prelude::*;
use es_core::projection::{
    Advance, Committed, EventMeta, ParkedEvent, Partition, Partitions, Target,
};
use es_sqlite::rusqlite::{self, Connection};
use es_sqlite::{ErrorKind, SqliteError, SqliteProjection, SqliteStore, SqliteTables};
use serde::{Deserialize, Serialize};
use support::{Scratch, stream};

/// The value whose row the table refuses while its trigger exists.
const REFUSED: i64 = -1;
/// The value whose row makes `write` panic while [`PANIC_IN_WRITE`] is set.
const PANICS: i64 = -2;

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "applied.n")]
struct Numbered {
    n: i64,
}

/// Makes `write` panic at the row of [`PANICS`] while set.
static PANIC_IN_WRITE: AtomicBool = AtomicBool::new(false);

/// The rows one batch adds to `applied`: `(position, n)` per event.
#[derive(Projection, Default, Debug)]
#[projection(name = "applied", events(Numbered))]
struct Applied {
    rows: Vec<(i64, i64)>,
}

impl On<Numbered> for Applied {
    fn on(&mut self, event: &Numbered, meta: &EventMeta) {
        self.rows.push((meta.position.0 as i64, event.n));
    }
}

impl SqliteProjection for Applied {
    fn setup(conn: &Connection) -> rusqlite::Result<()> {
        // No key: a row written twice would show.
        conn.execute_batch("CREATE TABLE IF NOT EXISTS applied (position INTEGER, n INTEGER)")
    }

    fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut insert = conn.prepare_cached("INSERT INTO applied VALUES (?1, ?2)")?;
        for (position, n) in self.rows {
            insert.execute((position, n))?;
            assert!(
                n != PANICS || !PANIC_IN_WRITE.load(Ordering::SeqCst),
                "write panicked after a row"
            );
        }
        Ok(())
    }

    fn clear(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("DELETE FROM applied")
    }
}

fn runner(store: &SqliteStore) -> ProjectionRunner<SqliteTables<Applied>, SqliteStore> {
    ProjectionRunner::new(store.clone(), SqliteTables::<Applied>::new(store.clone()))
}

async fn append(
    store: &SqliteStore,
    stream_name: &str,
    ns: impl IntoIterator<Item = i64>,
) -> Position {
    let events = ns
        .into_iter()
        .map(|n| {
            NewEvent::new(Encoded {
                name: "applied.n",
                version: 1,
                payload: format!("{{\"n\":{n}}}").into_bytes().into(),
            })
        })
        .collect();
    store
        .append(&stream(stream_name), ExpectedVersion::Any, events)
        .await
        .expect("append")
        .last_position
}

async fn rows(store: &SqliteStore) -> Vec<(i64, i64)> {
    store
        .query(|conn| {
            let mut select =
                conn.prepare("SELECT position, n FROM applied ORDER BY position, n")?;
            let rows = select.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            rows.collect()
        })
        .await
        .expect("rows")
}

/// The rows the log says the table must hold: one per event.
async fn expected_rows(store: &SqliteStore) -> Vec<(i64, i64)> {
    let log = store
        .read_all(Position::START, usize::MAX)
        .await
        .expect("log");
    log.iter()
        .map(|event| {
            let n: serde_json::Value = serde_json::from_slice(&event.payload).expect("json");
            (event.position.0 as i64, n["n"].as_i64().expect("n"))
        })
        .collect()
}

#[tokio::test]
async fn catch_up_writes_rows_and_checkpoint_together_and_resumes() {
    let scratch = Scratch::new("tables-resume");
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("open");
    append(&store, "a-1", 0..5).await;
    append(&store, "b-1", 10..13).await;
    let first = runner(&store).with_batch_size(3);
    assert_eq!(first.catch_up().await.expect("catch up"), Position(8));
    assert_eq!(first.checkpoint().await.expect("checkpoint"), Position(8));
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    store.close().await;

    // A restarted process resumes after the checkpoint: nothing twice.
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("reopen");
    let head = append(&store, "a-1", 5..7).await;
    let restarted = runner(&store);
    assert_eq!(restarted.catch_up().await.expect("catch up"), head);
    assert_eq!(restarted.catch_up().await.expect("nothing new"), head);
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    assert_eq!(rows(&store).await.len(), 10);
    store.close().await;
}

#[tokio::test]
async fn a_failed_write_commits_nothing_of_its_batch_and_is_written_once_later() {
    let scratch = Scratch::new("tables-fail");
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("open");
    append(&store, "a-1", [1, 2]).await;
    append(&store, "a-1", [3, REFUSED, 5]).await;
    // The table as setup makes it, and a trigger that refuses one value.
    let conn = Connection::open(scratch.path("app.db")).expect("open");
    conn.execute_batch(&format!(
        "CREATE TABLE applied (position INTEGER, n INTEGER);
         CREATE TRIGGER refuse BEFORE INSERT ON applied WHEN new.n = {REFUSED}
         BEGIN SELECT RAISE(ABORT, 'refused by the trigger'); END;"
    ))
    .expect("the trigger");

    // Batches of 2: [1, 2] commits; [3, -1] fails on its second row, after its first.
    let runner = runner(&store).with_batch_size(2);
    let failed = runner
        .catch_up()
        .await
        .expect_err("the refused row fails its batch");
    assert!(
        failed.to_string().contains("refused by the trigger"),
        "{failed}"
    );
    assert_eq!(
        rows(&store).await,
        [(1, 1), (2, 2)],
        "row 3 was rolled back"
    );
    assert_eq!(runner.checkpoint().await.expect("checkpoint"), Position(2));

    conn.execute_batch("DROP TRIGGER refuse")
        .expect("drop the trigger");
    assert_eq!(runner.catch_up().await.expect("catch up"), Position(5));
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    store.close().await;
}

#[tokio::test]
async fn a_panic_in_write_rolls_its_batch_back_and_the_store_goes_on() {
    let scratch = Scratch::new("tables-panic");
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("open");
    append(&store, "a-1", [1, PANICS, 3]).await;
    let runner = runner(&store);
    PANIC_IN_WRITE.store(true, Ordering::SeqCst);
    let failed = runner.catch_up().await.expect_err("write panics");
    PANIC_IN_WRITE.store(false, Ordering::SeqCst);
    let ProjectionError::Store { source: error, .. } = &failed else {
        panic!("expected a store error, got {failed:?}");
    };
    let StoreError::Backend(source) = error else {
        panic!("expected a backend error, got {error:?}");
    };
    let sqlite = source
        .downcast_ref::<SqliteError>()
        .expect("an SqliteError");
    assert_eq!(sqlite.kind(), ErrorKind::Panicked);
    assert!(
        rows(&store).await.is_empty(),
        "the row before the panic was rolled back"
    );
    // The writer survived: appends and the batch go through.
    let head = append(&store, "b-1", [4]).await;
    assert_eq!(runner.catch_up().await.expect("catch up"), head);
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_runners_on_two_stores_of_one_file_write_each_event_once() {
    let scratch = Scratch::new("tables-race");
    let path = scratch.path("app.db");
    let one = SqliteStore::open(&path).await.expect("open");
    let two = SqliteStore::open(&path).await.expect("open again");
    for round in 0..20 {
        append(
            &one,
            &format!("s-{}", round % 3),
            (0..10).map(|n| round * 10 + n),
        )
        .await;
    }
    let runners = [
        runner(&one).with_batch_size(7),
        runner(&two).with_batch_size(5),
        runner(&one).with_batch_size(3),
    ];
    let mut tasks = Vec::new();
    for runner in runners {
        tasks.push(tokio::spawn(async move { runner.catch_up().await }));
    }
    for task in tasks {
        assert_eq!(
            task.await.expect("a task").expect("catch up"),
            Position(200)
        );
    }
    assert_eq!(
        rows(&one).await,
        expected_rows(&one).await,
        "each event once"
    );
    one.close().await;
    two.close().await;
}

/// How many leases of `applied` are held, and by how many workers.
async fn leases(store: &SqliteStore) -> (i64, i64) {
    store
        .query(|conn| {
            conn.query_row(
                "SELECT count(*), count(DISTINCT worker) FROM es_leases WHERE consumer = 'applied'",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
        })
        .await
        .expect("leases")
}

/// Workers of the projection split into partitions, in two stores of one file (two
/// processes), share the partitions through the file's leases; each event reaches the table
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioned_workers_on_two_stores_of_one_file_write_each_event_once() {
    let scratch = Scratch::new("tables-partitioned");
    let path = scratch.path("app.db");
    let one = SqliteStore::open(&path).await.expect("open");
    let two = SqliteStore::open(&path).await.expect("open again");
    for round in 0..20 {
        append(&one, &format!("s-{round}"), (0..5).map(|n| round * 5 + n)).await;
    }
    let partitions = Partitions::new(4)
        .with_lease(Duration::from_secs(2))
        .with_heartbeat(Duration::from_millis(50));
    let mut stops = Vec::new();
    let mut workers = Vec::new();
    for store in [&one, &two, &one] {
        let runner = runner(store).with_batch_size(7).with_partitions(partitions);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        workers.push(tokio::spawn(async move {
            runner
                .run_partitioned(async move {
                    let _ = stopped.await;
                })
                .await
        }));
    }
    let waiter = runner(&two).with_partitions(partitions);
    waiter
        .wait_for(Position(100), Duration::from_secs(10))
        .await
        .expect("the workers catch up");
    // Followed live, from either process's appends.
    let head = append(&two, "s-late", 100..110).await;
    waiter
        .wait_for(head, Duration::from_secs(10))
        .await
        .expect("the workers follow");
    // Every worker, in either store, settles on a share of its own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while leases(&one).await != (4, 3) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the three workers never shared the four partitions: {:?}",
            leases(&one).await
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for stop in stops {
        let _ = stop.send(());
    }
    for worker in workers {
        worker.await.expect("a worker task").expect("a clean stop");
    }
    assert_eq!(
        leases(&two).await,
        (0, 0),
        "a clean stop gives the leases up"
    );
    assert_eq!(
        rows(&one).await,
        expected_rows(&one).await,
        "each event once"
    );
    one.close().await;
    two.close().await;
}

#[tokio::test]
async fn rebuild_clears_the_tables_and_writes_everything_again() {
    let scratch = Scratch::new("tables-rebuild");
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("open");
    append(&store, "a-1", 0..4).await;
    let runner = runner(&store);
    runner.catch_up().await.expect("catch up");
    assert_eq!(runner.rebuild().await.expect("rebuild"), Position(4));
    assert_eq!(rows(&store).await, expected_rows(&store).await);
    store.close().await;
}

/// An event of `a-1` parked at `position`, at a whole microsecond as the store keeps times.
fn parked_at(position: u64) -> ParkedEvent {
    ParkedEvent::new(
        Position(position),
        stream("a-1"),
        "applied.n".into(),
        format!("panicked at {position}"),
        true,
        SystemTime::UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_001 + position),
    )
}

#[tokio::test]
async fn a_commit_parks_and_unparks_with_its_checkpoint_and_a_moved_one_parks_nothing() {
    let scratch = Scratch::new("tables-parked");
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("open");
    let tables = SqliteTables::<Applied>::new(store.clone());
    tables.setup().await.expect("setup");
    let (two, three) = (parked_at(2), parked_at(3));

    let first =
        Advance::new(Position::START, Position(3)).with_parked(vec![three.clone(), two.clone()]);
    let changes = Applied { rows: vec![(1, 1)] };
    assert_eq!(
        tables.commit(changes, first).await.expect("commit"),
        Committed::Done
    );
    assert_eq!(
        tables
            .checkpoint(Partition::WHOLE)
            .await
            .expect("checkpoint"),
        Some(Position(3))
    );
    assert_eq!(
        tables.parked(Partition::WHOLE).await.expect("parked"),
        vec![two.clone(), three.clone()]
    );
    assert_eq!(rows(&store).await, vec![(1, 1)]);

    // From a position the checkpoint is not at: nothing written, nothing parked or unparked.
    let stale = Advance::new(Position(1), Position(5))
        .with_parked(vec![parked_at(4)])
        .with_unparked(vec![Position(2)]);
    let changes = Applied { rows: vec![(4, 4)] };
    assert_eq!(
        tables.commit(changes, stale).await.expect("commit"),
        Committed::Moved
    );
    assert_eq!(
        tables.parked(Partition::WHOLE).await.expect("parked"),
        vec![two, three.clone()]
    );
    assert_eq!(rows(&store).await, vec![(1, 1)]);

    // A retry applied the event at 2: it is forgotten with the next move.
    let retried = Advance::new(Position(3), Position(4)).with_unparked(vec![Position(2)]);
    let changes = Applied { rows: vec![(2, 2)] };
    assert_eq!(
        tables.commit(changes, retried).await.expect("commit"),
        Committed::Done
    );
    assert_eq!(
        tables.parked(Partition::WHOLE).await.expect("parked"),
        vec![three]
    );

    // A partition's parked events are its own; a rebuild's reset forgets them all.
    let partition = Partition::new(1, 2).expect("a partition");
    let five = parked_at(5);
    let split = Advance::new(Position::START, Position(5))
        .in_partition(partition)
        .with_parked(vec![five.clone()]);
    assert_eq!(
        tables
            .commit(Applied::default(), split)
            .await
            .expect("commit"),
        Committed::Done
    );
    assert_eq!(tables.parked(partition).await.expect("parked"), vec![five]);
    tables.reset().await.expect("reset");
    assert_eq!(
        tables.parked(Partition::WHOLE).await.expect("parked"),
        Vec::new()
    );
    assert_eq!(tables.parked(partition).await.expect("parked"), Vec::new());
    store.close().await;
}

#[tokio::test]
async fn a_parked_event_edited_by_hand_is_corrupt_naming_consumer_position_and_column() {
    let scratch = Scratch::new("tables-parked-edited");
    let path = scratch.path("app.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store
        .park_events("applied", &[parked_at(3), parked_at(4)])
        .await
        .expect("park");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("UPDATE es_parked_events SET stream_id = '' WHERE position = 4")
            .expect("edit");
    }
    let error = store
        .parked_events("applied")
        .await
        .expect_err("an edited value");
    let StoreError::Corrupt { location, .. } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert!(
        location.ends_with("es_parked_events, consumer \"applied\", position 4, column stream_id"),
        "{location}"
    );
    store.close().await;
}
