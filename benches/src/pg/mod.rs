//! The PostgreSQL section of the table (`es-bench table pg`): es-postgres's `PgStore` against
//! hand-written sqlx code ([`plain`]) on the same server, through the same pool, writing the
//! same rows.
//!
//! The server is `DATABASE_URL`'s, or a throwaway one started from the machine's binaries by
//! es-postgres's test harness with PostgreSQL's default settings
//! ([`TestServer::start_with_settings`] with none): durable, `fsync=on` and
//! `synchronous_commit=on`. (The harness's test settings turn both off, which measures a
//! server that may forget commits on a crash, and hides what a commit costs.) The note under
//! the table's header says which server and settings were used. With neither a URL nor the
//! binaries the section is skipped with one line saying so.
//!
//! Every repetition runs on fresh schemas, dropped afterwards. The workloads:
//!
//! - appends of 1 event (a command's batch) with [`ExpectedVersion::Any`], on 1 stream and on
//!   [`MANY`] streams, from 1 task and from [`TASKS`] tasks; baseline: one
//!   `INSERT ... SELECT max(stream_version) + 1` per append, retried on a unique violation;
//! - commands through `Repository` on [`MANY`] aggregates from [`TASKS`] tasks, with the
//!   default cache and with none; baseline: `BEGIN`, read the stream's rows, fold, decide,
//!   `INSERT`, `COMMIT`;
//! - loading an aggregate of 100,000 events through `Repository` with no cache and no
//!   snapshot (every event of the stream read and folded); baseline: one `SELECT` of the
//!   stream's rows, fold;
//! - a subscriber catching up over 1,000,000 events (`PgStore::subscribe`); baseline: plain
//!   `SELECT` pages by position, of the same size;
//! - a table projection split into 1, 2 and 4 partitions catching up, its workers in one
//!   process and in two, and the takeover of a killed worker's partitions ([`partitions`]).

mod partitions;
mod plain;

pub(crate) use partitions::worker;

use std::sync::Arc;
use std::time::Instant;

use es_bench::Step;
use es_bench::domain::Account;
use es_core::store::BATCH_SIZE;
use es_core::{EventStore, ExpectedVersion, NewEvent, Repository, StreamId};
use es_postgres::sqlx::postgres::{PgPool, PgPoolOptions};
use es_postgres::sqlx::{self, Row as _};
use es_postgres::testing::{self, TestServer};
use es_postgres::{PgStore, SchemaName};
use tokio::runtime::Runtime;

use crate::report::{Row, Verdict, thousands};
use crate::{BoxResult, Config, alternate, check, expected_account, timed_catch_up, timed_tasks};
use plain::Plain;

/// The tasks of the concurrent workloads.
const TASKS: u64 = 8;
/// How many streams "many streams", and how many aggregates "many aggregates", are.
const MANY: u64 = 1_000;
/// The connections of the pool both sides use: more than [`TASKS`].
const POOL_SIZE: u32 = 16;
/// Events per stream of the catch-up log, appended as one batch.
const CATCH_UP_STREAM: u64 = 100;

/// Measures the PostgreSQL workloads. Returns the rows and the note for the table's header:
/// the server and its settings, or the one line saying why the section was skipped.
/// `reads_only` measures the reads alone: loading a long stream and catching up.
pub(crate) fn rows(config: &Config, reads_only: bool) -> BoxResult<(Vec<Row>, String)> {
    let url_set = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());
    let (server, url) = match url_set {
        Some(url) => (None, url),
        None => {
            let Some(bin) = testing::find_binaries() else {
                let skipped = "(pg) skipped: no DATABASE_URL and no PostgreSQL binaries \
                               (initdb, pg_ctl) found; install PostgreSQL or set DATABASE_URL";
                return Ok((Vec::new(), skipped.to_owned()));
            };
            // No settings: PostgreSQL's defaults, durable.
            let server = TestServer::start_with_settings(&bin, &[])?;
            let url = server.url().to_owned();
            (Some(server), url)
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let pool = rt.block_on(
        PgPoolOptions::new()
            .max_connections(POOL_SIZE)
            .connect(&url),
    )?;
    let note = rt.block_on(describe(&pool, server.as_ref()))?;
    let mut rows = Vec::new();
    if !reads_only {
        rows.extend(appends(config, &rt, &pool)?);
        rows.extend(commands(config, &rt, &pool)?);
    }
    rows.extend(load(config, &rt, &pool)?);
    rows.extend(catch_up(config, &rt, &pool)?);
    if reads_only {
        rt.block_on(pool.close());
        return Ok((rows, note));
    }
    rows.extend(partitions::rows(config, &rt, &pool, &url)?);
    rows.push(crate::process::throughput(
        "PostgreSQL",
        config,
        &rt,
        config.n(1_000, 100),
        || fresh_store(&pool),
    )?);
    let store = rt.block_on(fresh_store(&pool))?;
    rows.push(crate::process::delay(
        "PostgreSQL",
        &rt,
        store,
        config.n(500, 50),
        5,
    )?);
    rt.block_on(pool.close());
    drop(server);
    Ok((rows, note))
}

/// The note on the server: where it runs and the settings that decide what a commit costs.
async fn describe(pool: &PgPool, server: Option<&TestServer>) -> BoxResult<String> {
    let row = sqlx::query(
        "SELECT current_setting('server_version'), current_setting('fsync'), \
         current_setting('synchronous_commit'), current_setting('full_page_writes'), \
         current_setting('wal_sync_method'), current_setting('shared_buffers')",
    )
    .fetch_one(pool)
    .await?;
    let setting = |i: usize| row.try_get::<String, _>(i);
    let origin = match server {
        Some(_) => "a throwaway server on loopback with PostgreSQL's default settings",
        None => "the server of DATABASE_URL",
    };
    Ok(format!(
        "(pg) PostgreSQL {} ({origin}): fsync={}, synchronous_commit={}, full_page_writes={}, \
         wal_sync_method={}, shared_buffers={}; one pool of {POOL_SIZE} connections for both sides",
        setting(0)?,
        setting(1)?,
        setting(2)?,
        setting(3)?,
        setting(4)?,
        setting(5)?,
    ))
}

/// A fresh, migrated store on `pool` (a schema of its own).
async fn fresh_store(pool: &PgPool) -> BoxResult<PgStore> {
    Ok(testing::fresh_store(pool).await?)
}

/// Checks that `table` holds `expected` events with contiguous versions in every stream:
/// with `UNIQUE (stream_id, stream_version)` and versions from 1, that is "as many rows as
/// the versions of the streams add up to".
async fn check_log(pool: &PgPool, table: &str, expected: u64) -> BoxResult<()> {
    let row = sqlx::query(&format!(
        "SELECT (SELECT count(*) FROM {table}), \
         (SELECT coalesce(sum(v), 0)::int8 FROM \
            (SELECT max(stream_version) AS v FROM {table} GROUP BY stream_id) AS streams)"
    ))
    .fetch_one(pool)
    .await?;
    let (rows, versions): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    check(
        &format!("(pg) {table}: {rows} rows, versions adding up to {versions}"),
        u64::try_from(rows).ok() == Some(expected) && rows == versions,
    )
}

/// [`check_log`] on the store's events, then drops its schema.
async fn check_and_drop(pool: &PgPool, store: &PgStore, expected: u64) -> BoxResult<()> {
    check_log(pool, &events_table(store.schema()), expected).await?;
    Ok(testing::drop_schema(store).await?)
}

/// The events table of `schema`.
fn events_table(schema: &SchemaName) -> String {
    format!("{schema}.events")
}

// ------------------------------------------------------------------------------------------
// Appends
// ------------------------------------------------------------------------------------------

fn appends(config: &Config, rt: &Runtime, pool: &PgPool) -> BoxResult<Vec<Row>> {
    crate::progress("(pg) appends");
    let encoded = Step::Deposit(2).encoded()?;
    let mut rows = Vec::new();
    for (streams, tasks) in [(1, 1), (MANY, 1), (1, TASKS), (MANY, TASKS)] {
        let appends = if tasks == 1 {
            config.n(3_000, 100)
        } else {
            config.n(10_000, 400) / tasks * tasks
        };
        let streams = streams.min(appends);
        let per_task = appends / tasks;
        // Append `i` of task `t` goes to stream `(t * per_task + i) % streams`.
        let stream_of = move |task: u64, i: u64| ((task * per_task + i) % streams) as usize;

        let (fw, bl) = alternate(
            config.reps,
            || {
                rt.block_on(async {
                    let store = fresh_store(pool).await?;
                    let ids: Arc<Vec<StreamId>> = Arc::new(
                        (0..streams)
                            .map(|s| StreamId::for_aggregate("account", &s))
                            .collect::<Result<_, _>>()?,
                    );
                    let time = timed_tasks(tasks, |t| {
                        let (store, ids, encoded) =
                            (store.clone(), Arc::clone(&ids), encoded.clone());
                        async move {
                            for i in 0..per_task {
                                let events = vec![NewEvent::new(encoded.clone())];
                                store
                                    .append(&ids[stream_of(t, i)], ExpectedVersion::Any, events)
                                    .await?;
                            }
                            Ok(())
                        }
                    })
                    .await?;
                    check_and_drop(pool, &store, appends).await?;
                    Ok(time)
                })
            },
            || {
                rt.block_on(async {
                    let plain = Arc::new(Plain::create(pool).await?);
                    let keys: Arc<Vec<String>> =
                        Arc::new((0..streams).map(|s| format!("account-{s}")).collect());
                    let time = timed_tasks(tasks, |t| {
                        let (plain, keys, pool) =
                            (Arc::clone(&plain), Arc::clone(&keys), pool.clone());
                        let (name, payload) = (encoded.name, encoded.payload.clone());
                        async move {
                            for i in 0..per_task {
                                plain
                                    .append_any(&pool, &keys[stream_of(t, i)], name, &payload)
                                    .await?;
                            }
                            Ok(())
                        }
                    })
                    .await?;
                    plain.check_and_drop(pool, appends).await?;
                    Ok(time)
                })
            },
        )?;
        let row = Row::rate(
            crate::appends::appends_workload(
                "(pg)",
                appends,
                streams,
                tasks,
                "INSERT ... SELECT max(version) + 1",
            ),
            "append",
            appends,
            fw,
            bl,
        );
        // The goal of the concurrent rows: at least 0.8x the baseline's throughput.
        rows.push(if streams > 1 && tasks > 1 {
            row.ratio_goal(fw, bl, 0.8)
        } else {
            row
        });
    }
    Ok(rows)
}

// ------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------

fn commands(config: &Config, rt: &Runtime, pool: &PgPool) -> BoxResult<Vec<Row>> {
    crate::progress("(pg) commands");
    let accounts = config.n(MANY, TASKS * 2);
    let per = 10;
    let total = accounts * per;
    let expected = expected_account(per);
    // Task `t` runs the commands of the accounts `a` with `a % TASKS == t`, round robin.
    let mine = move |t: u64| (0..accounts).filter(move |a| a % TASKS == t);
    let mut rows = Vec::new();
    for cache in [None, Some(0)] {
        let (fw, bl) = alternate(
            config.reps,
            || {
                rt.block_on(async {
                    let store = fresh_store(pool).await?;
                    let mut repo = Repository::<Account, _>::new(store.clone());
                    if let Some(capacity) = cache {
                        repo = repo.with_cache_capacity(capacity);
                    }
                    let time = timed_tasks(TASKS, |t| {
                        let repo = repo.clone();
                        async move {
                            for round in 0..per {
                                for account in mine(t) {
                                    repo.execute(Step::nth(round).command(account)).await?;
                                }
                            }
                            Ok(())
                        }
                    })
                    .await?;
                    check(
                        "(pg) commands",
                        repo.load(&(accounts - 1)).await?.state == expected,
                    )?;
                    check_and_drop(pool, &store, total).await?;
                    Ok(time)
                })
            },
            || {
                rt.block_on(async {
                    let plain = Arc::new(Plain::create(pool).await?);
                    let time = timed_tasks(TASKS, |t| {
                        let (plain, pool) = (Arc::clone(&plain), pool.clone());
                        async move {
                            for round in 0..per {
                                for account in mine(t) {
                                    plain.execute(&pool, account, Step::nth(round)).await?;
                                }
                            }
                            Ok(())
                        }
                    })
                    .await?;
                    check(
                        "(pg) baseline commands",
                        plain.load(pool, accounts - 1).await?.0 == expected,
                    )?;
                    plain.check_and_drop(pool, total).await?;
                    Ok(time)
                })
            },
        )?;
        let variant = match cache {
            None => "default cache: a stream is read once",
            Some(_) => "cache 0: every command reads its stream",
        };
        rows.push(
            Row::rate(
                format!(
                    "(pg) {} commands on {} aggregates from {TASKS} tasks, Repository with {variant} \
                     (baseline: BEGIN, SELECT stream, fold, INSERT, COMMIT)",
                    thousands(total),
                    thousands(accounts)
                ),
                "cmd",
                total,
                fw,
                bl,
            )
            .ratio_goal(fw, bl, 0.8),
        );
    }
    Ok(rows)
}

// ------------------------------------------------------------------------------------------
// Loading a long stream
// ------------------------------------------------------------------------------------------

fn load(config: &Config, rt: &Runtime, pool: &PgPool) -> BoxResult<Vec<Row>> {
    crate::progress("(pg) loading a long stream");
    let long = config.n(100_000, 1_000) / 1_000 * 1_000;
    let expected = expected_account(long);
    let (store, plain) = rt.block_on(async {
        let store = fresh_store(pool).await?;
        let stream = StreamId::for_aggregate("account", &1u64)?;
        for chunk in 0..long / 1_000 {
            let batch = (chunk * 1_000..(chunk + 1) * 1_000)
                .map(|i| Ok(NewEvent::new(Step::nth(i).encoded()?)))
                .collect::<BoxResult<Vec<_>>>()?;
            store.append(&stream, ExpectedVersion::Any, batch).await?;
        }
        let plain = Plain::create(pool).await?;
        plain
            .copy_events(pool, &events_table(store.schema()))
            .await?;
        check_log(pool, &plain.table(), long).await?;
        BoxResult::Ok((store, plain))
    })?;
    let repo = Repository::<Account, _>::new(store.clone()).with_cache_capacity(0);
    let (fw, bl) = alternate(
        config.reps,
        || {
            rt.block_on(async {
                let start = Instant::now();
                let loaded = repo.load(&1).await?;
                let time = start.elapsed();
                check(
                    "(pg) load",
                    loaded.state == expected && loaded.version.0 == long,
                )?;
                Ok(time)
            })
        },
        || {
            rt.block_on(async {
                let start = Instant::now();
                let (state, version) = plain.load(pool, 1).await?;
                let time = start.elapsed();
                check(
                    "(pg) baseline load",
                    state == expected && u64::try_from(version).ok() == Some(long),
                )?;
                Ok(time)
            })
        },
    )?;
    rt.block_on(async {
        testing::drop_schema(&store).await?;
        plain.drop_schema(pool).await
    })?;
    Ok(vec![Row::rate(
        format!(
            "(pg) load an aggregate of {} events, no cache, no snapshot \
             (baseline: one SELECT, fold)",
            thousands(long)
        ),
        "event",
        long,
        fw,
        bl,
    )])
}

// ------------------------------------------------------------------------------------------
// Catch-up
// ------------------------------------------------------------------------------------------

fn catch_up(config: &Config, rt: &Runtime, pool: &PgPool) -> BoxResult<Vec<Row>> {
    crate::progress("(pg) catch-up: filling the log");
    let accounts = config.n(1_000_000, 10_000) / CATCH_UP_STREAM;
    let events = accounts * CATCH_UP_STREAM;
    let (store, plain) = rt.block_on(async {
        let store = fresh_store(pool).await?;
        // One append of CATCH_UP_STREAM events per account, from TASKS tasks.
        timed_tasks(TASKS, |t| {
            let store = store.clone();
            async move {
                for account in (0..accounts).filter(|a| a % TASKS == t) {
                    let stream = StreamId::for_aggregate("account", &account)?;
                    let batch = (0..CATCH_UP_STREAM)
                        .map(|i| Ok(NewEvent::new(Step::nth(i).encoded()?)))
                        .collect::<BoxResult<Vec<_>>>()?;
                    store
                        .append(&stream, ExpectedVersion::NoStream, batch)
                        .await?;
                }
                Ok(())
            }
        })
        .await?;
        check_log(pool, &events_table(store.schema()), events).await?;
        let plain = Plain::create(pool).await?;
        plain
            .copy_events(pool, &events_table(store.schema()))
            .await?;
        check_log(pool, &plain.table(), events).await?;
        BoxResult::Ok((store, plain))
    })?;

    crate::progress("(pg) catch-up: reading");
    let (fw, bl) = alternate(
        config.reps,
        || rt.block_on(timed_catch_up(&store, events, "(pg) catch-up")),
        || {
            rt.block_on(async {
                let start = Instant::now();
                let (delivered, last) = plain.read_all(pool, BATCH_SIZE).await?;
                let time = start.elapsed();
                check(
                    "(pg) baseline catch-up",
                    delivered == events && u64::try_from(last).ok() == Some(events),
                )?;
                Ok(time)
            })
        },
    )?;
    rt.block_on(async {
        testing::drop_schema(&store).await?;
        plain.drop_schema(pool).await
    })?;
    let per_second = events as f64 / fw.as_secs_f64();
    Ok(vec![
        Row::rate(
            format!(
                "(pg) subscriber catching up over {} events, pages of {BATCH_SIZE} \
                 (baseline: SELECT pages by position)",
                thousands(events)
            ),
            "event",
            events,
            fw,
            bl,
        )
        .goal(
            format!("{:.0}k event/s (>= 200k event/s)", per_second / 1e3),
            Verdict::of(per_second >= 200_000.0),
        ),
    ])
}
