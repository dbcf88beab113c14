//! Partitioned consumers on PostgreSQL: a table projection catching up over a log with 1, 2
//! and 4 partitions, its workers in one process and in two, against a hand-written consumer
//! (paged `SELECT`, one upsert and one checkpoint update per page, in one transaction); and
//! the time a worker's partitions take to be taken over after it is killed.
//!
//! The projection counts each stream's events in a table (`bench_counts`, one row per
//! stream): a change set per batch, written by one `INSERT ... ON CONFLICT DO UPDATE` over
//! arrays. Workers in other processes are this binary again (`es-bench pg-worker ...`), which
//! runs its workers until it is killed.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use es_bench::Step;
use es_bench::domain::{Deposited, Opened, Withdrawn};
use es_core::prelude::*;
use es_core::projection::{LeaseStore, Partitions};
use es_core::store::BATCH_SIZE;
use es_postgres::sqlx::postgres::PgPool;
use es_postgres::sqlx::{self, PgConnection, Row as _};
use es_postgres::{PgProjection, PgStore, PgStoreOptions, PgTables, SchemaName};
use tokio::runtime::Runtime;

use crate::report::{Row, Verdict, thousands};
use crate::{BoxResult, Config, alternate, check};

/// Events per stream of the log.
const PER_STREAM: u64 = 100;
/// The lease and heartbeat of the takeover row.
const LEASE: Duration = Duration::from_secs(2);
const HEARTBEAT: Duration = Duration::from_millis(250);
/// How long a catch-up may take before the run is called failed.
const PATIENCE: Duration = Duration::from_secs(600);

/// One batch's counts per stream: events seen and the last version.
#[derive(Projection, Default, Debug)]
#[projection(name = "bench-counts", events(Opened, Deposited, Withdrawn))]
pub(crate) struct Counts {
    streams: HashMap<String, (i64, i64)>,
}

impl Counts {
    fn count(&mut self, meta: &EventMeta) {
        let entry = self.streams.entry(meta.stream_id.to_string()).or_default();
        entry.0 += 1;
        entry.1 = i64::try_from(meta.stream_version.0).unwrap_or(i64::MAX);
    }
}

impl On<Opened> for Counts {
    fn on(&mut self, _: &Opened, meta: &EventMeta) {
        self.count(meta);
    }
}

impl On<Deposited> for Counts {
    fn on(&mut self, _: &Deposited, meta: &EventMeta) {
        self.count(meta);
    }
}

impl On<Withdrawn> for Counts {
    fn on(&mut self, _: &Withdrawn, meta: &EventMeta) {
        self.count(meta);
    }
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS bench_counts \
    (stream_id text PRIMARY KEY, events bigint NOT NULL, version bigint NOT NULL)";
const UPSERT: &str = "INSERT INTO bench_counts AS c (stream_id, events, version) \
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) \
    ON CONFLICT (stream_id) DO UPDATE SET events = c.events + excluded.events, \
    version = excluded.version";

/// The arrays of `UPSERT`.
fn columns(streams: HashMap<String, (i64, i64)>) -> (Vec<String>, Vec<i64>, Vec<i64>) {
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (stream, (events, version)) in streams {
        columns.0.push(stream);
        columns.1.push(events);
        columns.2.push(version);
    }
    columns
}

impl PgProjection for Counts {
    async fn setup(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(CREATE).execute(tx).await?;
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.streams.is_empty() {
            return Ok(());
        }
        let (streams, events, versions) = columns(self.streams);
        sqlx::query(UPSERT)
            .bind(streams)
            .bind(events)
            .bind(versions)
            .execute(tx)
            .await?;
        Ok(())
    }

    async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM bench_counts").execute(tx).await?;
        Ok(())
    }
}

/// The runner of `count` partitions over `store`.
fn runner(store: &PgStore, count: u32) -> ProjectionRunner<PgTables<Counts>, PgStore> {
    ProjectionRunner::new(store.clone(), PgTables::<Counts>::new(store.clone())).with_partitions(
        Partitions::new(count)
            .with_lease(LEASE)
            .with_heartbeat(HEARTBEAT),
    )
}

/// Empties the projection's table, checkpoints and leases, for the next run.
async fn reset(store: &PgStore) -> BoxResult<()> {
    let schema = store.schema().as_str();
    let create = CREATE.replace("bench_counts", &format!("{schema}.bench_counts"));
    sqlx::raw_sql(&format!("{create}; DELETE FROM {schema}.bench_counts"))
        .execute(store.pool())
        .await?;
    store.delete_checkpoint(Counts::NAME).await?;
    store.forget_leases(Counts::NAME).await?;
    Ok(())
}

/// Checks that the table counts every event of every stream once.
async fn check_counts(store: &PgStore, streams: u64) -> BoxResult<()> {
    let row = sqlx::query(&format!(
        "SELECT count(*), coalesce(sum(events), 0)::int8, \
         count(*) FILTER (WHERE events <> version) FROM {}.bench_counts",
        store.schema().as_str()
    ))
    .fetch_one(store.pool())
    .await?;
    let (rows, events, wrong): (i64, i64, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    check(
        &format!("(pg) partitioned counts: {rows} streams, {events} events, {wrong} wrong"),
        u64::try_from(rows).ok() == Some(streams)
            && u64::try_from(events).ok() == Some(streams * PER_STREAM)
            && wrong == 0,
    )
}

/// Workers of `count` partitions in this process: `workers` tasks until `end` is processed.
async fn in_process(
    store: &PgStore,
    count: u32,
    workers: u32,
    end: Position,
) -> BoxResult<Duration> {
    reset(store).await?;
    let consumer = runner(store, count);
    let start = Instant::now();
    let tasks: Vec<_> = (0..workers)
        .map(|_| {
            let consumer = consumer.clone();
            tokio::spawn(async move { consumer.run_partitioned(std::future::pending()).await })
        })
        .collect();
    let reached = consumer.wait_for(end, PATIENCE).await;
    let time = start.elapsed();
    for task in tasks {
        task.abort();
    }
    reached?;
    Ok(time)
}

/// A child process running `workers` workers of `count` partitions on `schema`.
struct Worker(Child);

impl Worker {
    /// Starts the child; it connects, then waits for a line on its standard input.
    fn spawn(url: &str, schema: &str, count: u32, workers: u32) -> BoxResult<Self> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "pg-worker",
                url,
                schema,
                &count.to_string(),
                &workers.to_string(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or("a child without standard output")?;
        let mut ready = String::new();
        BufReader::new(stdout).read_line(&mut ready)?;
        check("(pg) a worker process started", ready.trim() == "ready")?;
        Ok(Self(child))
    }

    /// Lets the child's workers start.
    fn go(&mut self) -> BoxResult<()> {
        let stdin = self
            .0
            .stdin
            .as_mut()
            .ok_or("a child without standard input")?;
        stdin.write_all(b"go\n")?;
        stdin.flush()?;
        Ok(())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // SIGKILL: a worker process never stops by itself.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One worker of `count` partitions in each of two processes, until `end` is processed: each
/// holds half the partitions, read once for all of them.
async fn in_two_processes(
    store: &PgStore,
    url: &str,
    count: u32,
    end: Position,
) -> BoxResult<Duration> {
    reset(store).await?;
    let schema = store.schema().as_str().to_owned();
    let mut children = [
        Worker::spawn(url, &schema, count, 1)?,
        Worker::spawn(url, &schema, count, 1)?,
    ];
    let start = Instant::now();
    for child in &mut children {
        child.go()?;
    }
    runner(store, count).wait_for(end, PATIENCE).await?;
    Ok(start.elapsed())
}

/// Two worker processes of 4 partitions catch up; one is killed; one event more per stream
/// is appended: the time until every partition has it, the dead worker's taken over.
async fn takeover(store: &PgStore, url: &str, streams: u64, end: Position) -> BoxResult<Duration> {
    reset(store).await?;
    let schema = store.schema().as_str().to_owned();
    let mut killed = Worker::spawn(url, &schema, 4, 1)?;
    let mut survivor = Worker::spawn(url, &schema, 4, 1)?;
    killed.go()?;
    survivor.go()?;
    let consumer = runner(store, 4);
    consumer.wait_for(end, PATIENCE).await?;
    // Both hold partitions by now: the second heartbeat of each split them.
    tokio::time::sleep(HEARTBEAT * 3).await;
    drop(killed);
    let start = Instant::now();
    let mut last = end;
    for stream in 0..streams {
        let id = StreamId::for_aggregate("account", &stream)?;
        let event = NewEvent::new(Step::nth(PER_STREAM).encoded()?);
        last = store
            .append(&id, ExpectedVersion::Any, vec![event])
            .await?
            .last_position;
    }
    consumer.wait_for(last, PATIENCE).await?;
    let time = start.elapsed();
    drop(survivor);
    Ok(time)
}

/// The hand-written consumer: pages of the events table by position, each page's counts
/// upserted with the checkpoint moved, in one transaction.
async fn by_hand(pool: &PgPool, schema: &str, end: Position) -> BoxResult<Duration> {
    sqlx::raw_sql(&format!(
        "DROP TABLE IF EXISTS {schema}.hand_counts; \
         CREATE TABLE {schema}.hand_counts \
         (stream_id text PRIMARY KEY, events bigint NOT NULL, version bigint NOT NULL); \
         DROP TABLE IF EXISTS {schema}.hand_checkpoint; \
         CREATE TABLE {schema}.hand_checkpoint (position bigint NOT NULL); \
         INSERT INTO {schema}.hand_checkpoint VALUES (0)"
    ))
    .execute(pool)
    .await?;
    let page = format!(
        "SELECT stream_id, stream_version, position FROM {schema}.events \
         WHERE position > $1 ORDER BY position LIMIT $2"
    );
    let upsert = UPSERT.replace("bench_counts", &format!("{schema}.hand_counts"));
    let advance = format!("UPDATE {schema}.hand_checkpoint SET position = $1");
    let start = Instant::now();
    let mut after = 0_i64;
    let limit = i64::try_from(BATCH_SIZE)?;
    while u64::try_from(after)? < end.0 {
        let rows = sqlx::query(&page)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?;
        let Some(last) = rows.last() else { break };
        let last: i64 = last.try_get(2)?;
        let mut streams: HashMap<String, (i64, i64)> = HashMap::new();
        for row in &rows {
            let entry = streams.entry(row.try_get(0)?).or_default();
            entry.0 += 1;
            entry.1 = row.try_get(1)?;
        }
        let (ids, events, versions) = columns(streams);
        let mut tx = pool.begin().await?;
        sqlx::query(&upsert)
            .bind(ids)
            .bind(events)
            .bind(versions)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&advance).bind(last).execute(&mut *tx).await?;
        tx.commit().await?;
        after = last;
    }
    let time = start.elapsed();
    let counted: i64 = sqlx::query(&format!(
        "SELECT coalesce(sum(events), 0)::int8 FROM {schema}.hand_counts"
    ))
    .fetch_one(pool)
    .await?
    .try_get(0)?;
    check(
        "(pg) hand-written consumer",
        u64::try_from(counted).ok() == Some(end.0),
    )?;
    Ok(time)
}

/// The rows of partitioned consumers, on a log of `store` filled here.
pub(super) fn rows(config: &Config, rt: &Runtime, pool: &PgPool, url: &str) -> BoxResult<Vec<Row>> {
    crate::progress("(pg) partitions: filling the log");
    let streams = config.n(200_000, 10_000) / PER_STREAM;
    let events = streams * PER_STREAM;
    let store = rt.block_on(super::fresh_store(pool))?;
    let end = rt.block_on(async {
        let mut end = Position::START;
        for stream in 0..streams {
            let id = StreamId::for_aggregate("account", &stream)?;
            let batch = (0..PER_STREAM)
                .map(|i| Ok(NewEvent::new(Step::nth(i).encoded()?)))
                .collect::<BoxResult<Vec<_>>>()?;
            end = store
                .append(&id, ExpectedVersion::NoStream, batch)
                .await?
                .last_position;
        }
        BoxResult::Ok(end)
    })?;
    let schema = store.schema().as_str().to_owned();
    let mut rows = Vec::new();
    let mut measure =
        |label: String, run: &mut dyn FnMut() -> BoxResult<Duration>| -> BoxResult<()> {
            crate::progress(&format!("(pg) partitions: {label}"));
            let (fw, bl) = alternate(
                config.reps,
                || {
                    let time = run()?;
                    rt.block_on(check_counts(&store, streams))?;
                    Ok(time)
                },
                || rt.block_on(by_hand(pool, &schema, end)),
            )?;
            rows.push(Row::rate(
                format!(
                    "(pg) table projection catching up over {} events, {label} \
                     (baseline: 1 task, SELECT pages, upsert + checkpoint per page)",
                    thousands(events)
                ),
                "event",
                events,
                fw,
                bl,
            ));
            Ok(())
        };
    for count in [1_u32, 2, 4] {
        measure(
            format!("{count} partition(s), {count} worker(s) in 1 process"),
            &mut || rt.block_on(in_process(&store, count, count, end)),
        )?;
    }
    for count in [2_u32, 4] {
        measure(
            format!("{count} partitions, 1 worker in each of 2 processes"),
            &mut || rt.block_on(in_two_processes(&store, url, count, end)),
        )?;
    }
    crate::progress("(pg) partitions: takeover");
    let mut takeovers = Vec::new();
    for _ in 0..config.reps {
        takeovers.push(rt.block_on(takeover(&store, url, streams, end))?);
    }
    let taken = takeovers.into_iter().max().unwrap_or_default();
    let bound = LEASE + HEARTBEAT;
    rows.push(Row {
        workload: format!(
            "(pg) takeover: one of 2 worker processes killed (4 partitions, lease {:.2} s, \
             heartbeat {:.2} s), then 1 event per stream: until all are applied (worst of {})",
            LEASE.as_secs_f64(),
            HEARTBEAT.as_secs_f64(),
            config.reps
        ),
        framework: format!("{:.2} s", taken.as_secs_f64()),
        baseline: "-".to_owned(),
        ratio: "-".to_owned(),
        goal: format!("<= lease + heartbeat, {:.2} s", bound.as_secs_f64()),
        verdict: Verdict::of(taken <= bound),
    });
    rt.block_on(es_postgres::testing::drop_schema(&store))?;
    Ok(rows)
}

/// `es-bench pg-worker URL SCHEMA COUNT WORKERS`: a worker process of [`rows`]. Connects,
/// says `ready`, waits for a line, then runs `WORKERS` workers of `COUNT` partitions until it
/// is killed.
pub(crate) fn worker(args: &[String]) -> BoxResult<()> {
    let [url, schema, count, workers] = args else {
        return Err("usage: es-bench pg-worker URL SCHEMA COUNT WORKERS".into());
    };
    let count: u32 = count.parse()?;
    let workers: u32 = workers.parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let options = PgStoreOptions::new().with_schema(SchemaName::new(schema)?);
        let store = PgStore::connect_with(url, options).await?;
        let consumer = runner(&store, count);
        println!("ready");
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        let tasks: Vec<_> = (0..workers)
            .map(|_| {
                let consumer = consumer.clone();
                tokio::spawn(async move { consumer.run_partitioned(std::future::pending()).await })
            })
            .collect();
        for task in tasks {
            task.await??;
        }
        BoxResult::Ok(())
    })
}
