//! `es-bench`: the framework against a hand-written baseline, measured in the same run and
//! printed as one table with the speed goals of the project.
//!
//! ```text
//! cargo run --release -p es-bench                     # the whole table
//! cargo run --release -p es-bench -- table a c         # only the sections (a) and (c)
//! cargo run --release -p es-bench -- table pg          # only PostgreSQL (see the `pg` module)
//! cargo run --release -p es-bench -- table pg-reads    # only its reads: load and catch-up
//! cargo run --release -p es-bench -- table sqlite      # only SQLite (see the `sqlite` module)
//! cargo run --release -p es-bench -- memory           # only the peak-RSS figure of the store
//! cargo run --release -p es-bench -- compile-cost     # build time added by the derives
//! ES_BENCH_SCALE=0.1 ES_BENCH_REPS=1 cargo run --release -p es-bench   # a quick run
//! ```
//!
//! Every figure is the best of `ES_BENCH_REPS` runs (default 3); `ES_BENCH_SCALE` (default
//! `1`) multiplies every workload size. Memory is measured in child processes (`es-bench
//! memory <kind>`), so the peak RSS of the other workloads cannot inflate it. Nothing here
//! asserts on time: a goal missed is a row that says so. The PostgreSQL section needs a server
//! (`DATABASE_URL`, or PostgreSQL's binaries to start one); without one the table says it was
//! skipped.

mod appends;
mod commands;
mod compile_cost;
mod load;
mod memory;
#[cfg(unix)]
mod pg;
mod process;
mod projection;
mod report;
mod sqlite;

use std::error::Error;
use std::time::{Duration, Instant};

use es_bench::Step;
use es_bench::domain::Account;
use es_core::{EventStore, Position, Repository};
use es_memstore::MemStore;
use tokio::runtime::Runtime;

use report::print_table;

type BoxError = Box<dyn Error + Send + Sync>;
type BoxResult<T> = Result<T, BoxError>;

/// The store-backed repository of the benchmarks, with snapshot policy `N`.
type Repo<N> = Repository<Account, MemStore, N>;

const USAGE: &str = "usage: es-bench [table [memory|a|b|c|d|e|f|pg|pg-reads|sqlite]...] | es-bench memory [framework|appends|baseline] | es-bench compile-cost [--runs N] | es-bench pg-worker URL SCHEMA COUNT WORKERS (a worker process of the pg section)";

fn main() -> BoxResult<()> {
    let config = Config::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => table(&config, &[]),
        Some("table") => table(&config, &args[1..]),
        Some("memory") => {
            let kind = args.get(1).map_or("framework", String::as_str);
            memory::measure(&config, kind)
        }
        Some("compile-cost") => compile_cost::run(&args[1..]),
        #[cfg(unix)]
        Some("pg-worker") => pg::worker(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown mode {other:?}; {USAGE}").into()),
    }
}

/// Sizes and repetitions, from the environment.
struct Config {
    scale: f64,
    reps: usize,
}

impl Config {
    fn from_env() -> BoxResult<Self> {
        let scale = match std::env::var("ES_BENCH_SCALE") {
            Ok(value) => value
                .parse::<f64>()
                .map_err(|e| format!("ES_BENCH_SCALE={value}: {e}"))?,
            Err(_) => 1.0,
        };
        let reps = match std::env::var("ES_BENCH_REPS") {
            Ok(value) => value
                .parse::<usize>()
                .map_err(|e| format!("ES_BENCH_REPS={value}: {e}"))?,
            Err(_) => 3,
        };
        if !(scale > 0.0 && scale.is_finite()) || reps == 0 {
            return Err("ES_BENCH_SCALE must be positive and ES_BENCH_REPS at least 1".into());
        }
        Ok(Self { scale, reps })
    }

    /// `full` scaled, at least `min`.
    fn n(&self, full: u64, min: u64) -> u64 {
        ((full as f64 * self.scale).round() as u64).max(min)
    }

    /// How long to repeat a short operation for one timing.
    fn min_time(&self) -> Duration {
        Duration::from_secs_f64((0.3 * self.scale).clamp(0.03, 0.3))
    }
}

/// Measures the sections named in `only` (all when empty) and prints the table.
fn table(config: &Config, only: &[String]) -> BoxResult<()> {
    const SECTIONS: [&str; 10] = [
        "memory", "a", "b", "c", "d", "e", "f", "pg", "pg-reads", "sqlite",
    ];
    if let Some(unknown) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        return Err(format!("unknown section {unknown:?}; {USAGE}").into());
    }
    let wanted = |section: &str| only.is_empty() || only.iter().any(|s| s == section);
    let mut rows = Vec::new();
    // Memory first, each in a fresh process: nothing else has touched the heap there.
    if wanted("memory") {
        progress("memory (child processes)");
        rows.extend(memory::rows(config)?);
    }
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    if wanted("a") {
        progress("(a) commands on one aggregate");
        rows.extend(commands::one_aggregate(config, &rt)?);
    }
    if wanted("b") {
        progress("(b) many aggregates, hot aggregates");
        rows.extend(commands::many_aggregates(config, &rt)?);
    }
    if wanted("c") {
        progress("(c) loading a long stream");
        rows.extend(load::long_stream(config, &rt)?);
    }
    if wanted("d") {
        progress("(d) raw appends");
        rows.extend(appends::raw_appends(config)?);
    }
    if wanted("e") {
        progress("(e) projection catch-up");
        rows.extend(projection::rows(config, &rt)?);
    }
    if wanted("f") {
        progress("(f) the transfer process manager");
        let multi = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        rows.extend(process::rows(config, &multi)?);
    }
    let mut notes = Vec::new();
    if wanted("pg") || wanted("pg-reads") {
        progress("(pg) PostgreSQL");
        #[cfg(unix)]
        {
            let reads_only = !wanted("pg");
            let (pg_rows, note) = pg::rows(config, reads_only)?;
            rows.extend(pg_rows);
            notes.push(note);
        }
        #[cfg(not(unix))]
        notes.push(
            "(pg) skipped: the PostgreSQL rows start their server with es_postgres::testing, \
             which exists on Unix only"
                .to_owned(),
        );
    }
    if wanted("sqlite") {
        progress("(sqlite) SQLite");
        let (sqlite_rows, note) = sqlite::rows(config)?;
        rows.extend(sqlite_rows);
        notes.push(note);
    }
    print_table(config, &rows, &notes);
    Ok(())
}

fn progress(what: &str) {
    eprintln!("es-bench: {what} ...");
}

/// Runs `run` `reps` times and returns every outcome.
fn repeat<T>(reps: usize, mut run: impl FnMut() -> BoxResult<T>) -> BoxResult<Vec<T>> {
    (0..reps).map(|_| run()).collect()
}

fn fastest(times: impl IntoIterator<Item = Duration>) -> Duration {
    times.into_iter().min().unwrap_or(Duration::MAX)
}

/// Runs `framework` and `baseline` in turn, `reps` times each, so that load from elsewhere on
/// the machine (another build, say) falls on both sides alike; returns the fastest time of
/// each.
fn alternate(
    reps: usize,
    mut framework: impl FnMut() -> BoxResult<Duration>,
    mut baseline: impl FnMut() -> BoxResult<Duration>,
) -> BoxResult<(Duration, Duration)> {
    let (mut fw, mut bl) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        fw.push(framework()?);
        bl.push(baseline()?);
    }
    Ok((fastest(fw), fastest(bl)))
}

/// Runs `task(t)` for `t` in `0..tasks` at once, each on a task of its own; returns the
/// time until the last finished.
async fn timed_tasks<F, Fut>(tasks: u64, task: F) -> BoxResult<Duration>
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = BoxResult<()>> + Send + 'static,
{
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks).map(|t| tokio::spawn(task(t))).collect();
    for handle in handles {
        handle.await??;
    }
    Ok(start.elapsed())
}

/// Follows `store` from the start until its `events` events are delivered; checks that every
/// one came, in order, and returns the time it took.
async fn timed_catch_up<S: EventStore>(store: &S, events: u64, what: &str) -> BoxResult<Duration> {
    let start = Instant::now();
    let mut subscription = store.subscribe(Position::START);
    let (mut delivered, mut last) = (0u64, Position::START);
    while let Some(event) = subscription.try_next().await? {
        delivered += 1;
        last = event.position;
    }
    let time = start.elapsed();
    check(what, delivered == events && last == Position(events))?;
    Ok(time)
}

/// Repeats `op` until `min_time` has passed; returns the time per call.
fn per_call(min_time: Duration, mut op: impl FnMut() -> BoxResult<()>) -> BoxResult<Duration> {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls == 0 || start.elapsed() < min_time {
        op()?;
        calls += 1;
    }
    Ok(start.elapsed() / calls)
}

/// [`per_call`] for an async operation.
async fn per_call_async(
    min_time: Duration,
    mut op: impl AsyncFnMut() -> BoxResult<()>,
) -> BoxResult<Duration> {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls == 0 || start.elapsed() < min_time {
        op().await?;
        calls += 1;
    }
    Ok(start.elapsed() / calls)
}

/// A store filled through a repository: the first `per` steps of each of `accounts`
/// accounts, account by account.
fn filled_store(rt: &Runtime, accounts: u64, per: u64) -> BoxResult<MemStore> {
    let store = MemStore::new();
    let repo = Repository::<Account, _>::new(store.clone());
    rt.block_on(async {
        for account in 0..accounts {
            for i in 0..per {
                repo.execute(Step::nth(i).command(account)).await?;
            }
        }
        BoxResult::Ok(())
    })?;
    Ok(store)
}

/// The state after the first `n` steps of an account, folded directly (no JSON at all): the
/// check that both sides computed the right thing.
fn expected_account(n: u64) -> Account {
    let mut state = Account::default();
    for i in 0..n {
        match Step::nth(i) {
            Step::Open => {
                let event = state.decide_open(es_bench::OWNER).expect("opens once");
                state.opened(&event);
            }
            Step::Deposit(amount) => {
                let event = state.decide_deposit(amount).expect("deposits");
                state.deposited(&event);
            }
            Step::Withdraw(amount) => {
                let event = state.decide_withdraw(amount).expect("covered");
                state.withdrawn(&event);
            }
        }
    }
    state
}

fn check(what: &str, ok: bool) -> BoxResult<()> {
    if ok {
        Ok(())
    } else {
        Err(format!("{what}: the framework and the baseline disagree").into())
    }
}
