//! A partitioned table projection across OS processes, one killed mid-run: child processes
//! (this binary, started again) each run two workers of one consumer split into 8
//! partitions, sharing them by the store's leases, while this process appends to many
//! streams. Once every worker holds partitions, one child is killed with SIGKILL; its
//! partitions must be taken over within the lease time plus a heartbeat (plus a margin, see
//! [`MARGIN`]). Later a fourth child joins and takes its share, and another is paused with
//! SIGSTOP until its leases ran out, then resumed. At the end, the table, one
//! row per event applied, must hold every event of the log exactly once, each stream's
//! events in order; the children still running stop cleanly (giving their leases up), the
//! killed one died of SIGKILL.
//!
//! Run with `--nocapture` to see the measured takeover time. `ES_TEST_SCALE` scales the
//! number of streams.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, BufReader, Read as _};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use es_core::JsonCodec;
use es_core::event::encode_event;
use es_core::prelude::*;
use es_core::projection::Partitions;
use es_postgres::sqlx::{self, PgConnection};
use es_postgres::{PgProjection, PgStore, PgStoreOptions, PgTables, SchemaName, testing};
use es_tests::scaled;
use serde::{Deserialize, Serialize};

/// The environment variable that makes `partition_child` a child: `<url> <schema>`.
const CHILD: &str = "ES_TESTS_PARTITION_CHILD";
/// The line a child prints on stderr once its workers are started.
const RUNNING: &str = "child: running";
/// The line a child prints on stderr once its workers stopped cleanly.
const STOPPED: &str = "child: stopped";
const PARTITIONS: u32 = 8;
const WORKERS_PER_CHILD: usize = 2;
const LEASE: Duration = Duration::from_secs(2);
const HEARTBEAT: Duration = Duration::from_millis(300);
/// What the takeover may take beyond the lease and a heartbeat. The rule bounds when a dead
/// worker's partitions are *taken*; the measure is until every partition has also *processed*
/// past the kill, so it adds: the backlog the taken partitions catch up on (the appends of
/// those 2.3 s, in a debug build), a second heartbeat for the partitions that move between
/// the surviving workers as their shares change from 6 workers to 4, and the scheduling
/// delays of a 2-core machine running the server, this process and three children.
const MARGIN: Duration = Duration::from_secs(5);
/// A bound on waits that should end well before it: a failure, not a hang.
const PATIENCE: Duration = Duration::from_secs(60);
const WRITERS: usize = 5;
/// How long the workers run undisturbed before the kill, and again once the fourth child has
/// its share.
const STEADY: Duration = Duration::from_secs(1);

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "pp.ticked")]
struct Ticked {
    n: u64,
}

/// One batch's rows of `pp_rows`: one per event, in the order they were applied.
#[derive(Projection, Default, Debug)]
#[projection(name = "pp-rows", events(Ticked))]
struct Rows {
    streams: Vec<String>,
    versions: Vec<i64>,
    positions: Vec<i64>,
}

impl On<Ticked> for Rows {
    fn on(&mut self, _: &Ticked, meta: &EventMeta) {
        self.streams.push(meta.stream_id.to_string());
        self.versions
            .push(i64::try_from(meta.stream_version.0).unwrap());
        self.positions.push(i64::try_from(meta.position.0).unwrap());
    }
}

impl PgProjection for Rows {
    async fn setup(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        // No unique key on (stream_id, stream_version): an event applied twice must show as
        // two rows, counted below, not as a failed transaction.
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS pp_rows (
                 applied bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 stream_id text NOT NULL,
                 stream_version bigint NOT NULL,
                 position bigint NOT NULL)",
        )
        .execute(tx)
        .await?;
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.streams.is_empty() {
            return Ok(());
        }
        // In the order applied: `applied` numbers them so.
        sqlx::query(
            "INSERT INTO pp_rows (stream_id, stream_version, position)
             SELECT s, v, p FROM unnest($1::text[], $2::bigint[], $3::bigint[])
                  WITH ORDINALITY AS t (s, v, p, i)
              ORDER BY i",
        )
        .bind(self.streams)
        .bind(self.versions)
        .bind(self.positions)
        .execute(tx)
        .await?;
        Ok(())
    }

    async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM pp_rows").execute(tx).await?;
        Ok(())
    }
}

fn runner(store: &PgStore) -> ProjectionRunner<PgTables<Rows>, PgStore> {
    ProjectionRunner::new(store.clone(), PgTables::<Rows>::new(store.clone())).with_partitions(
        Partitions::new(PARTITIONS)
            .with_lease(LEASE)
            .with_heartbeat(HEARTBEAT),
    )
}

/// The child: runs [`WORKERS_PER_CHILD`] workers until killed, or until its stdin closes,
/// then stops them cleanly.
#[test]
fn partition_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let (url, schema) = args.split_once(' ').unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = PgStoreOptions::new().with_schema(SchemaName::new(schema).unwrap());
        let store = PgStore::connect_with(url, options).await.unwrap();
        let runner = runner(&store);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let _ = stop.send(true);
        });
        let workers: Vec<_> = (0..WORKERS_PER_CHILD)
            .map(|_| {
                let (runner, mut stopped) = (runner.clone(), stopped.clone());
                tokio::spawn(async move {
                    let shutdown = async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    };
                    runner.run_partitioned(shutdown).await
                })
            })
            .collect();
        eprintln!("{RUNNING}");
        for worker in workers {
            worker.await.unwrap().unwrap();
        }
        eprintln!("{STOPPED}");
    });
}

/// A child process running workers. Killed (SIGKILL) when dropped still running, so that a
/// failing test leaves no process behind.
struct Child {
    label: &'static str,
    process: std::process::Child,
    /// Lines the child printed that the test waits for ([`RUNNING`], [`STOPPED`]).
    said: tokio::sync::mpsc::UnboundedReceiver<String>,
}

impl Child {
    /// Starts a child on `store`'s schema and waits until it says it runs.
    async fn start(label: &'static str, url: &str, store: &PgStore) -> Self {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "partition_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, format!("{url} {}", store.schema()))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Its stderr, passed on to this process's line by line, from a thread of its own.
        let stderr = process.stderr.take().unwrap();
        let (tell, said) = tokio::sync::mpsc::unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{label}] {line}");
                if line == RUNNING || line == STOPPED {
                    let _ = tell.send(line);
                }
            }
        });
        let mut child = Self {
            label,
            process,
            said,
        };
        child.expect_line(RUNNING).await;
        child
    }

    /// Waits until the child prints `expected`.
    async fn expect_line(&mut self, expected: &str) {
        match tokio::time::timeout(PATIENCE, self.said.recv()).await {
            Ok(Some(line)) => assert_eq!(line, expected, "{}", self.label),
            Ok(None) => panic!(
                "{}'s stderr ended before it said {expected:?}: {:?}",
                self.label,
                self.process.try_wait()
            ),
            Err(_) => panic!(
                "{} did not say {expected:?} within {PATIENCE:?}",
                self.label
            ),
        }
    }

    /// Kills the child with SIGKILL and reaps it.
    fn kill(&mut self) -> ExitStatus {
        self.process.kill().unwrap();
        self.process.wait().unwrap()
    }

    /// Sends the child `signal` (`STOP`, `CONT`) with the system's `kill`.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.process.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}: {status}", self.label);
    }

    /// Closes the child's stdin, which stops its workers cleanly, and reaps it.
    async fn stop(&mut self) -> ExitStatus {
        drop(self.process.stdin.take());
        self.expect_line(STOPPED).await;
        let since = Instant::now();
        loop {
            if let Some(status) = self.process.try_wait().unwrap() {
                return status;
            }
            assert!(since.elapsed() < PATIENCE, "{} did not exit", self.label);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if let Ok(None) = self.process.try_wait() {
            let _ = self.process.kill();
            let _ = self.process.wait();
        }
    }
}

/// Waits until `workers` distinct workers hold live leases and every partition is held:
/// each worker holds its share (with up to 8 workers, at least one partition each).
async fn settled(store: &PgStore, workers: i64) {
    let sql = format!(
        "SELECT count(DISTINCT worker), count(*) FROM {}.leases
          WHERE consumer = 'pp-rows' AND expires > clock_timestamp()",
        store.schema()
    );
    let since = Instant::now();
    loop {
        let (holders, held): (i64, i64) =
            sqlx::query_as(&sql).fetch_one(store.pool()).await.unwrap();
        if holders == workers && held == i64::from(PARTITIONS) {
            return;
        }
        assert!(
            since.elapsed() < PATIENCE,
            "{holders} workers hold {held} partitions; expected {workers} holding all"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Appends to `streams` streams from [`WRITERS`] tasks until `stop`, each event's position
/// recorded in `head` (the highest so far).
fn start_writers(
    store: &PgStore,
    streams: usize,
    stop: &Arc<AtomicBool>,
    head: &Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..WRITERS)
        .map(|writer| {
            let (store, stop, head) = (store.clone(), Arc::clone(stop), Arc::clone(head));
            tokio::spawn(async move {
                let mine: Vec<StreamId> = (writer..streams)
                    .step_by(WRITERS)
                    .map(|n| StreamId::new(format!("tick-{n}")).unwrap())
                    .collect();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let stream = &mine[usize::try_from(n).unwrap() % mine.len()];
                    let event = NewEvent::new(encode_event(&JsonCodec, &Ticked { n }).unwrap());
                    let appended = store
                        .append(stream, ExpectedVersion::Any, vec![event])
                        .await
                        .unwrap();
                    head.fetch_max(appended.last_position.0, Ordering::Relaxed);
                    n += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                n
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_move_across_processes_when_one_is_killed() {
    let Some(database) = testing::database_or_skip(1) else {
        return;
    };
    let pool = database.pool().await.unwrap();
    let store = testing::fresh_store(&pool).await.unwrap();
    let url = database.url();
    let began = Instant::now();
    let here = runner(&store);
    let streams = scaled(50).max(WRITERS);
    let (stop, head) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
    );
    let writers = start_writers(&store, streams, &stop, &head);

    // Three children, two workers each: 6 workers share the 8 partitions.
    let mut a = Child::start("child a", url, &store).await;
    let mut b = Child::start("child b", url, &store).await;
    let mut c = Child::start("child c", url, &store).await;
    settled(&store, 6).await;
    // A while of steady work before the kill.
    tokio::time::sleep(STEADY).await;
    let now = Position(head.load(Ordering::Relaxed));
    here.wait_for(now, PATIENCE).await.unwrap();
    println!(
        "{:?}: 6 workers hold all partitions and processed up to {now:?}",
        began.elapsed()
    );

    // Child b holds at least 2 partitions (each of its 2 workers at least one): kill it.
    let killed_at = Instant::now();
    let status = b.kill();
    assert_eq!(
        status.signal(),
        Some(9),
        "child b died of SIGKILL: {status}"
    );
    // An event appended after b died: every partition passes it only once b's partitions
    // are taken over and caught up (b never read it, so its checkpoints are below it).
    let marker = NewEvent::new(encode_event(&JsonCodec, &Ticked { n: 0 }).unwrap());
    let after_kill = store
        .append(
            &StreamId::new("tick-marker").unwrap(),
            ExpectedVersion::NoStream,
            vec![marker],
        )
        .await
        .unwrap()
        .last_position;
    here.wait_for(after_kill, PATIENCE).await.unwrap();
    let takeover = killed_at.elapsed();
    println!(
        "takeover: every partition passed {after_kill:?} {takeover:?} after the kill \
         (lease {LEASE:?}, heartbeat {HEARTBEAT:?}, margin {MARGIN:?})"
    );
    assert!(
        takeover < LEASE + HEARTBEAT + MARGIN,
        "the killed child's partitions took {takeover:?} to be taken over and caught up"
    );
    // And not before b's leases ran out, at most a heartbeat (and some scheduling delay)
    // after the kill: b held partitions, and nobody took them while its leases were live.
    assert!(
        takeover > LEASE / 2,
        "every partition passed the kill after {takeover:?}, before b's leases ran out"
    );

    // A fourth child joins: 4 + 2 workers, each holding its share.
    let mut d = Child::start("child d", url, &store).await;
    settled(&store, 6).await;
    tokio::time::sleep(STEADY).await;
    let now = Position(head.load(Ordering::Relaxed));
    here.wait_for(now, PATIENCE).await.unwrap();
    println!(
        "{:?}: child d joined; processed up to {now:?}",
        began.elapsed()
    );

    // Child c pauses (SIGSTOP) until its leases ran out: the other 4 workers take its
    // partitions. Resumed, it may commit a batch it read before the pause, for partitions it
    // no longer holds: the checkpoint refuses it (checked with the rows below).
    c.signal("STOP");
    settled(&store, 4).await;
    c.signal("CONT");
    settled(&store, 6).await;
    let now = Position(head.load(Ordering::Relaxed));
    here.wait_for(now, PATIENCE).await.unwrap();
    println!(
        "{:?}: child c paused and resumed; processed up to {now:?}",
        began.elapsed()
    );

    // The writers stop; every event reaches the table.
    stop.store(true, Ordering::Relaxed);
    let mut appended = 1;
    for writer in writers {
        appended += writer.await.unwrap();
    }
    let last = Position(head.load(Ordering::Relaxed)).max(after_kill);
    here.wait_for(last, PATIENCE).await.unwrap();

    // The others stop cleanly, giving their leases up.
    for child in [&mut a, &mut c, &mut d] {
        let status = child.stop().await;
        assert!(
            status.success(),
            "{} stopped cleanly: {status}",
            child.label
        );
    }
    let sql = format!(
        "SELECT (SELECT count(*) FROM {0}.leases), (SELECT count(*) FROM {0}.lease_workers)",
        store.schema()
    );
    let left: (i64, i64) = sqlx::query_as(&sql).fetch_one(store.pool()).await.unwrap();
    assert_eq!(left, (0, 0), "no lease or worker is left after the stops");

    check_rows(&store, appended).await;
    println!(
        "{:?}: {appended} events, each applied once",
        began.elapsed()
    );
    testing::drop_schema(&store).await.unwrap();
}

/// Every event of the log is a row of `pp_rows`, once; each stream's rows were applied in
/// the order of its versions, from 1 without a gap, with increasing positions.
async fn check_rows(store: &PgStore, appended: u64) {
    let mut log = BTreeSet::new();
    let mut after = Position::START;
    loop {
        let page = store.read_all(after, 1_000).await.unwrap();
        let Some(end) = page.last() else { break };
        after = end.position;
        for event in &page {
            let version = i64::try_from(event.stream_version.0).unwrap();
            let position = i64::try_from(event.position.0).unwrap();
            log.insert((event.stream_id.to_string(), version, position));
        }
    }
    assert_eq!(log.len() as u64, appended, "the log holds every append");

    let sql = format!(
        "SELECT stream_id, stream_version, position FROM {}.pp_rows ORDER BY applied",
        store.schema()
    );
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(&sql).fetch_all(store.pool()).await.unwrap();
    let mut seen = BTreeMap::new();
    for row in &rows {
        *seen.entry(row.clone()).or_insert(0_u32) += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, times)| **times > 1).collect();
    assert!(twice.is_empty(), "events applied more than once: {twice:?}");
    let applied: BTreeSet<_> = seen.into_keys().collect();
    let missing: Vec<_> = log.difference(&applied).take(10).collect();
    let foreign: Vec<_> = applied.difference(&log).take(10).collect();
    assert!(
        missing.is_empty() && foreign.is_empty(),
        "missing {missing:?}, not in the log {foreign:?}"
    );
    assert_eq!(rows.len(), log.len(), "one row per event");

    let mut per_stream: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for (stream, version, position) in &rows {
        per_stream
            .entry(stream)
            .or_default()
            .push((*version, *position));
    }
    for (stream, applied) in &per_stream {
        let versions: Vec<i64> = applied.iter().map(|(version, _)| *version).collect();
        let expected: Vec<i64> = (1..=i64::try_from(applied.len()).unwrap()).collect();
        assert_eq!(
            versions, expected,
            "{stream}: versions in the order applied"
        );
        assert!(
            applied.windows(2).all(|pair| pair[0].1 < pair[1].1),
            "{stream}: positions in the order applied: {applied:?}"
        );
    }
}
