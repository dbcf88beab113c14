//! The SQLite section of the table (`es-bench table sqlite`): es-sqlite's `SqliteStore` with
//! its default, durable settings ([`Durability::Full`](es_sqlite::Durability::Full): WAL,
//! `synchronous = FULL`) against hand-written rusqlite code ([`plain`]) with the same
//! settings, on files with the same tables and indexes, in a directory under the system's
//! temporary directory (which must be on a local disk for the figures to mean anything: the
//! note above the table names it).
//!
//! Every repetition uses fresh files, removed afterwards; framework and baseline runs
//! alternate. The workloads:
//!
//! - appends of 1 event with [`ExpectedVersion::Any`] to [`MANY`] streams, from 1 task and
//!   from [`TASKS`] tasks; baseline: one transaction per append (`BEGIN IMMEDIATE`, read the
//!   stream's version, `INSERT`, `COMMIT`), the tasks sharing one connection; then the same
//!   with the framework on [`Durability::Normal`] against the same durable baseline, to show
//!   what durability costs;
//! - commands through `Repository` on [`MANY`] aggregates from [`TASKS`] tasks (default
//!   cache); baseline: `BEGIN IMMEDIATE`, read the stream's rows, fold, decide, `INSERT`,
//!   `COMMIT`;
//! - a subscriber catching up over 1,000,000 events (`SqliteStore::subscribe`); baseline:
//!   plain `SELECT` pages by position of the same size, each row decoded into owned values;
//! - loading an aggregate of 100,000 events (`Repository::load`, no snapshot); baseline: one
//!   `SELECT` of the stream's rows, folded;
//! - the file's size per million events (after the catch-up fill, WAL folded in).

mod plain;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use es_bench::Step;
use es_bench::domain::Account;
use es_core::store::BATCH_SIZE;
use es_core::{EventStore, ExpectedVersion, NewEvent, Repository, StreamId};
use es_sqlite::{Durability, SqliteOptions, SqliteStore};
use tokio::runtime::Runtime;

use crate::report::{Row, Verdict, thousands};
use crate::{BoxResult, Config, alternate, check, expected_account, timed_catch_up, timed_tasks};
use plain::Plain;

/// The tasks of the concurrent workloads.
const TASKS: u64 = 8;
/// How many streams "many streams", and how many aggregates "many aggregates", are.
const MANY: u64 = 1_000;
/// Events per stream of the catch-up log, appended as one batch.
const CATCH_UP_STREAM: u64 = 100;

/// A scratch directory for the section's files, removed when dropped.
struct Scratch {
    dir: PathBuf,
    next: std::cell::Cell<u64>,
}

impl Scratch {
    fn new() -> BoxResult<Self> {
        let dir = std::env::temp_dir().join(format!("es-bench-sqlite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            next: std::cell::Cell::new(0),
        })
    }

    /// A fresh file path.
    fn file(&self, what: &str) -> PathBuf {
        let n = self.next.get();
        self.next.set(n + 1);
        self.dir.join(format!("{what}-{n}.db"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Removes a database file and its WAL and shared-memory files.
fn remove(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(file));
    }
}

/// Measures the SQLite workloads; returns the rows and the note for the table's header.
pub(crate) fn rows(config: &Config) -> BoxResult<(Vec<Row>, String)> {
    let scratch = Scratch::new()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let note = format!(
        "(sqlite) es-sqlite (bundled SQLite {}) with its default Durability::Full (WAL, \
         synchronous=FULL) and the baseline with the same pragmas, files in {}",
        es_sqlite::rusqlite::version(),
        scratch.dir.display()
    );
    let mut rows = appends(config, &rt, &scratch)?;
    rows.extend(commands(config, &rt, &scratch)?);
    rows.extend(load(config, &rt, &scratch)?);
    rows.extend(catch_up(config, &rt, &scratch)?);
    Ok((rows, note))
}

/// Runs `task(t)` for `t` in `0..tasks` at once, each on a thread of its own; returns the
/// time until the last finished.
fn timed_threads<F>(tasks: u64, task: F) -> BoxResult<Duration>
where
    F: Fn(u64) -> BoxResult<()> + Sync,
{
    let start = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..tasks)
            .map(|t| {
                let task = &task;
                scope.spawn(move || task(t).map_err(|e| e.to_string()))
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| "a baseline thread panicked".to_owned())??;
        }
        Ok::<_, String>(())
    })?;
    Ok(start.elapsed())
}

// ------------------------------------------------------------------------------------------
// Appends
// ------------------------------------------------------------------------------------------

fn appends(config: &Config, rt: &Runtime, scratch: &Scratch) -> BoxResult<Vec<Row>> {
    crate::progress("(sqlite) appends");
    let mut rows = Vec::new();
    for (tasks, durability, goal) in [
        (1, Durability::Full, Some(0.8)),
        (TASKS, Durability::Full, Some(3.0)),
        (1, Durability::Normal, None),
        (TASKS, Durability::Normal, None),
    ] {
        let (appends, fw, bl) = appends_run(config, rt, scratch, tasks, durability)?;
        let setting = match durability {
            Durability::Normal => ", framework with Durability::Normal (not power-loss safe)",
            _ => "",
        };
        let row = Row::rate(
            format!(
                "{}{setting}",
                crate::appends::appends_workload(
                    "(sqlite)",
                    appends,
                    MANY.min(appends),
                    tasks,
                    "one transaction per append",
                )
            ),
            "append",
            appends,
            fw,
            bl,
        );
        rows.push(match goal {
            Some(goal) => row.ratio_goal(fw, bl, goal),
            None => row,
        });
    }
    Ok(rows)
}

/// Appends of one event from `tasks` tasks: how many, and the framework's and the baseline's
/// fastest times.
fn appends_run(
    config: &Config,
    rt: &Runtime,
    scratch: &Scratch,
    tasks: u64,
    durability: Durability,
) -> BoxResult<(u64, Duration, Duration)> {
    let encoded = Step::Deposit(2).encoded()?;
    let appends = if tasks == 1 {
        config.n(2_000, 100)
    } else {
        config.n(8_000, 400) / tasks * tasks
    };
    let streams = MANY.min(appends);
    let per_task = appends / tasks;
    // Append `i` of task `t` goes to stream `(t * per_task + i) % streams`.
    let stream_of = move |task: u64, i: u64| ((task * per_task + i) % streams) as usize;
    let (fw, bl) = alternate(
        config.reps,
        || {
            let path = scratch.file("appends");
            let time = rt.block_on(async {
                let options = SqliteOptions::new().with_durability(durability);
                let store = SqliteStore::open_with(&path, options).await?;
                let ids: Arc<Vec<StreamId>> = Arc::new(
                    (0..streams)
                        .map(|s| StreamId::for_aggregate("account", &s))
                        .collect::<Result<_, _>>()?,
                );
                let time = timed_tasks(tasks, |t| {
                    let (store, ids, encoded) = (store.clone(), Arc::clone(&ids), encoded.clone());
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
                store.close().await;
                BoxResult::Ok(time)
            })?;
            Plain::open(&path)?.check(appends)?;
            remove(&path);
            Ok(time)
        },
        || {
            let path = scratch.file("appends-plain");
            let plain = Plain::create(&path)?;
            let keys: Vec<String> = (0..streams).map(|s| format!("account-{s}")).collect();
            let time = timed_threads(tasks, |t| {
                for i in 0..per_task {
                    plain.append_any(&keys[stream_of(t, i)], encoded.name, &encoded.payload)?;
                }
                Ok(())
            })?;
            plain.check(appends)?;
            drop(plain);
            remove(&path);
            Ok(time)
        },
    )?;
    Ok((appends, fw, bl))
}

// ------------------------------------------------------------------------------------------
// Commands
// ------------------------------------------------------------------------------------------

fn commands(config: &Config, rt: &Runtime, scratch: &Scratch) -> BoxResult<Vec<Row>> {
    crate::progress("(sqlite) commands");
    let accounts = config.n(MANY, TASKS * 2);
    let per = 10;
    let total = accounts * per;
    let expected = expected_account(per);
    // Task `t` runs the commands of the accounts `a` with `a % TASKS == t`, round robin.
    let mine = move |t: u64| (0..accounts).filter(move |a| a % TASKS == t);
    let (fw, bl) = alternate(
        config.reps,
        || {
            let path = scratch.file("commands");
            let time = rt.block_on(async {
                let store = SqliteStore::open(&path).await?;
                let repo = Repository::<Account, _>::new(store.clone());
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
                    "(sqlite) commands",
                    repo.load(&(accounts - 1)).await?.state == expected,
                )?;
                store.close().await;
                BoxResult::Ok(time)
            })?;
            Plain::open(&path)?.check(total)?;
            remove(&path);
            Ok(time)
        },
        || {
            let path = scratch.file("commands-plain");
            let plain = Plain::create(&path)?;
            let time = timed_threads(TASKS, |t| {
                for round in 0..per {
                    for account in mine(t) {
                        plain.execute(account, Step::nth(round))?;
                    }
                }
                Ok(())
            })?;
            check(
                "(sqlite) baseline commands",
                plain.load(accounts - 1)?.0 == expected,
            )?;
            plain.check(total)?;
            drop(plain);
            remove(&path);
            Ok(time)
        },
    )?;
    Ok(vec![
        Row::rate(
            format!(
                "(sqlite) {} commands on {} aggregates from {TASKS} tasks, Repository with its \
                 default cache (baseline: BEGIN IMMEDIATE, SELECT stream, fold, INSERT, COMMIT)",
                thousands(total),
                thousands(accounts)
            ),
            "cmd",
            total,
            fw,
            bl,
        )
        .ratio_goal(fw, bl, 0.8),
    ])
}

// ------------------------------------------------------------------------------------------
// Loading a long stream
// ------------------------------------------------------------------------------------------

fn load(config: &Config, rt: &Runtime, scratch: &Scratch) -> BoxResult<Vec<Row>> {
    crate::progress("(sqlite) loading a long stream");
    let long = config.n(100_000, 1_000) / 1_000 * 1_000;
    let expected = expected_account(long);
    let path = scratch.file("load");
    let store = rt.block_on(async {
        let store = SqliteStore::open(&path).await?;
        let stream = StreamId::for_aggregate("account", &1u64)?;
        for chunk in 0..long / 1_000 {
            let batch = (chunk * 1_000..(chunk + 1) * 1_000)
                .map(|i| Ok(NewEvent::new(Step::nth(i).encoded()?)))
                .collect::<BoxResult<Vec<_>>>()?;
            store.append(&stream, ExpectedVersion::Any, batch).await?;
        }
        BoxResult::Ok(store)
    })?;
    let repo = Repository::<Account, _>::new(store.clone()).with_cache_capacity(0);
    let plain = Plain::open(&path)?;
    let (fw, bl) = alternate(
        config.reps,
        || {
            rt.block_on(async {
                let start = Instant::now();
                let loaded = repo.load(&1).await?;
                let time = start.elapsed();
                check("(sqlite) load", loaded.state == expected)?;
                Ok(time)
            })
        },
        || {
            let start = Instant::now();
            let (state, version) = plain.load(1)?;
            let time = start.elapsed();
            check(
                "(sqlite) baseline load",
                state == expected && version as u64 == long,
            )?;
            Ok(time)
        },
    )?;
    rt.block_on(store.close());
    drop(plain);
    remove(&path);
    Ok(vec![Row::rate(
        format!(
            "(sqlite) load an aggregate of {} events, no snapshot (baseline: one SELECT, fold)",
            thousands(long)
        ),
        "event",
        long,
        fw,
        bl,
    )])
}

// ------------------------------------------------------------------------------------------
// Catch-up, and the file's size
// ------------------------------------------------------------------------------------------

fn catch_up(config: &Config, rt: &Runtime, scratch: &Scratch) -> BoxResult<Vec<Row>> {
    crate::progress("(sqlite) catch-up: filling the log");
    let accounts = config.n(1_000_000, 10_000) / CATCH_UP_STREAM;
    let events = accounts * CATCH_UP_STREAM;
    let path = scratch.file("catch-up");
    let fill = rt.block_on(async {
        let store = SqliteStore::open(&path).await?;
        // One append of CATCH_UP_STREAM events per account, from TASKS tasks.
        let time = timed_tasks(TASKS, |t| {
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
        store.close().await;
        BoxResult::Ok(time)
    })?;
    Plain::open(&path)?.check(events)?;
    let size = std::fs::metadata(&path)?.len();
    let plain_path = scratch.file("catch-up-plain");
    let plain_size = {
        let plain = Plain::create(&plain_path)?;
        plain.copy_from(&path)?;
        drop(plain);
        let size = std::fs::metadata(&plain_path)?.len();
        remove(&plain_path);
        size
    };

    crate::progress("(sqlite) catch-up: reading");
    let store = rt.block_on(SqliteStore::open(&path))?;
    let plain = Plain::open(&path)?;
    let (fw, bl) = alternate(
        config.reps,
        || rt.block_on(timed_catch_up(&store, events, "(sqlite) catch-up")),
        || {
            let start = Instant::now();
            let (delivered, last) = plain.read_all(BATCH_SIZE)?;
            let time = start.elapsed();
            check(
                "(sqlite) baseline catch-up",
                delivered == events && u64::try_from(last).ok() == Some(events),
            )?;
            Ok(time)
        },
    )?;
    rt.block_on(store.close());
    drop(plain);
    remove(&path);
    let per_second = events as f64 / fw.as_secs_f64();
    let per_million = |bytes: u64| bytes as f64 * 1e6 / events as f64 / (1024.0 * 1024.0);
    Ok(vec![
        Row::rate(
            format!(
                "(sqlite) subscriber catching up over {} events, pages of {BATCH_SIZE} \
                 (baseline: SELECT pages by position)",
                thousands(events)
            ),
            "event",
            events,
            fw,
            bl,
        )
        .goal(
            format!("{:.2}M event/s (>= 1M event/s)", per_second / 1e6),
            Verdict::of(per_second >= 1_000_000.0),
        ),
        Row {
            workload: format!(
                "(sqlite) file size per 1,000,000 events ({} events of ~20-byte JSON payloads \
                 with no metadata, filled in {:.1} s; baseline: the same rows copied into a \
                 fresh file)",
                thousands(events),
                fill.as_secs_f64()
            ),
            framework: format!("{:.0} MiB", per_million(size)),
            baseline: format!("{:.0} MiB", per_million(plain_size)),
            ratio: format!("{:.2}x", size as f64 / plain_size as f64),
            goal: "- (reported)".to_owned(),
            verdict: Verdict::Info,
        },
    ])
}
