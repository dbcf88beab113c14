//! `es-bench`: the framework against a hand-written baseline, measured in the same run and
//! printed as one table with the speed goals of the project.
//!
//! ```text
//! cargo run --release -p es-bench                     # the whole table
//! cargo run --release -p es-bench -- table a c         # only the sections (a) and (c)
//! cargo run --release -p es-bench -- table pg          # only PostgreSQL (see the `pg` module)
//! cargo run --release -p es-bench -- memory           # only the peak-RSS figure of the store
//! ES_BENCH_SCALE=0.1 ES_BENCH_REPS=1 cargo run --release -p es-bench   # a quick run
//! ```
//!
//! Every figure is the best of `ES_BENCH_REPS` runs (default 3); `ES_BENCH_SCALE` (default
//! `1`) multiplies every workload size. Memory is measured in child processes (`es-bench
//! memory <kind>`), so the peak RSS of the other workloads cannot inflate it. Nothing here
//! asserts on time: a goal missed is a row that says so. The PostgreSQL section needs a server
//! (`DATABASE_URL`, or PostgreSQL's binaries to start one); without one the table says it was
//! skipped.

mod pg;

use std::error::Error;
use std::fmt::Write as _;
use std::process::Command as Process;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use es_bench::baseline::{PlainRepository, PlainStore, Stored, fold_ledger, wire_name};
use es_bench::domain::{Account, Deposited, Ledger};
use es_bench::{Step, peak_rss_kib};
use es_core::codec::{Encoded, JsonCodec};
use es_core::event::encode_event;
use es_core::repository::DEFAULT_CACHE_CAPACITY;
use es_core::snapshot::{SnapshotStore, Snapshotting};
use es_core::{EventStore, ExpectedVersion, NewEvent, Position, ProjectionRunner, Repository};
use es_core::{StreamId, Version};
use es_memstore::MemStore;
use tokio::runtime::Runtime;

type BoxError = Box<dyn Error + Send + Sync>;
type BoxResult<T> = Result<T, BoxError>;

/// The store-backed repository of the benchmarks, with snapshot policy `N`.
type Repo<N> = Repository<Account, MemStore, JsonCodec, N>;

const USAGE: &str = "usage: es-bench [table [memory|a|b|c|d|e|pg]...] | es-bench memory [framework|appends|baseline]";

fn main() -> BoxResult<()> {
    let config = Config::from_env()?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => table(&config, &[]),
        Some("table") => table(&config, &args[1..]),
        Some("memory") => {
            let kind = args.get(1).map_or("framework", String::as_str);
            memory(&config, kind)
        }
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

// ------------------------------------------------------------------------------------------
// The table
// ------------------------------------------------------------------------------------------

/// Whether a row meets its goal.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Met,
    NotMet,
    Info,
}

impl Verdict {
    fn of(met: bool) -> Self {
        if met { Self::Met } else { Self::NotMet }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::NotMet => "NOT MET",
            Self::Info => "-",
        }
    }
}

struct Row {
    workload: String,
    framework: String,
    baseline: String,
    ratio: String,
    goal: String,
    verdict: Verdict,
}

impl Row {
    /// A throughput row: `count` operations in `framework` and in `baseline` time.
    fn rate(
        workload: String,
        unit: &str,
        count: u64,
        framework: Duration,
        baseline: Duration,
    ) -> Self {
        Self {
            workload,
            framework: rate(count, framework, unit),
            baseline: rate(count, baseline, unit),
            ratio: format!("{:.2}x", baseline.as_secs_f64() / framework.as_secs_f64()),
            goal: "- (reported)".to_owned(),
            verdict: Verdict::Info,
        }
    }

    /// The framework/baseline throughput ratio.
    fn throughput_ratio(framework: Duration, baseline: Duration) -> f64 {
        baseline.as_secs_f64() / framework.as_secs_f64()
    }

    fn goal(mut self, goal: String, verdict: Verdict) -> Self {
        self.goal = goal;
        self.verdict = verdict;
        self
    }
}

fn rate(count: u64, time: Duration, unit: &str) -> String {
    let per_second = count as f64 / time.as_secs_f64();
    let (value, prefix) = if per_second >= 1e6 {
        (per_second / 1e6, "M")
    } else if per_second >= 1e3 {
        (per_second / 1e3, "k")
    } else {
        (per_second, "")
    };
    format!("{value:.2}{prefix} {unit}/s")
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Prints the table, with `notes` (one line each) under its header lines.
fn print_table(config: &Config, rows: &[Row], notes: &[String]) {
    let headers = [
        "workload",
        "framework",
        "baseline",
        "ratio",
        "goal (measured)",
        "met",
    ];
    let cells: Vec<[&str; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.workload.as_str(),
                r.framework.as_str(),
                r.baseline.as_str(),
                r.ratio.as_str(),
                r.goal.as_str(),
                r.verdict.label(),
            ]
        })
        .collect();
    let mut widths = headers.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        let mut out = String::from("|");
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let pad = width - cell.chars().count();
            // Numbers right-aligned, text left-aligned.
            if (1..=3).contains(&i) {
                let _ = write!(out, " {}{cell} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {cell}{} |", " ".repeat(pad));
            }
        }
        out
    };
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "es-bench: scale {} (ES_BENCH_SCALE), each figure the best of {} run(s) (ES_BENCH_REPS), {cpus} CPU(s)",
        config.scale, config.reps
    );
    println!(
        "ratio = framework throughput / baseline throughput (memory: framework / baseline peak RSS)"
    );
    for note in notes {
        println!("{note}");
    }
    println!("{}", line(headers));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    println!("|{}|", rule.join("|"));
    for row in cells {
        println!("{}", line(row));
    }
}

/// Measures the sections named in `only` (all when empty) and prints the table.
fn table(config: &Config, only: &[String]) -> BoxResult<()> {
    const SECTIONS: [&str; 7] = ["memory", "a", "b", "c", "d", "e", "pg"];
    if let Some(unknown) = only.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
        return Err(format!("unknown section {unknown:?}; {USAGE}").into());
    }
    let wanted = |section: &str| only.is_empty() || only.iter().any(|s| s == section);
    let mut rows = Vec::new();
    // Memory first, each in a fresh process: nothing else has touched the heap there.
    if wanted("memory") {
        progress("memory (child processes)");
        rows.extend(memory_rows(config)?);
    }
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    if wanted("a") {
        progress("(a) commands on one aggregate");
        rows.extend(one_aggregate(config, &rt)?);
    }
    if wanted("b") {
        progress("(b) many aggregates, hot aggregates");
        rows.extend(many_aggregates(config, &rt)?);
    }
    if wanted("c") {
        progress("(c) loading a long stream");
        rows.extend(long_stream(config, &rt)?);
    }
    if wanted("d") {
        progress("(d) raw appends");
        rows.extend(raw_appends(config)?);
    }
    if wanted("e") {
        progress("(e) projection catch-up");
        rows.extend(projection(config, &rt)?);
    }
    let mut notes = Vec::new();
    if wanted("pg") {
        progress("(pg) PostgreSQL");
        let (pg_rows, note) = pg::rows(config)?;
        rows.extend(pg_rows);
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

// ------------------------------------------------------------------------------------------
// (a) N commands on one aggregate
// ------------------------------------------------------------------------------------------

/// The time of a run of commands, of its first `window` commands and of its last.
struct Windows {
    total: Duration,
    first: Duration,
    last: Duration,
}

async fn framework_commands<N: Snapshotting<Account, JsonCodec>>(
    repo: &Repo<N>,
    account: u64,
    n: u64,
    window: u64,
) -> BoxResult<Windows> {
    let start = Instant::now();
    let mut first = Duration::ZERO;
    let mut last_start = start;
    for i in 0..n {
        if i == n - window {
            last_start = Instant::now();
        }
        repo.execute(Step::nth(i).command(account)).await?;
        if i + 1 == window {
            first = start.elapsed();
        }
    }
    Ok(Windows {
        total: start.elapsed(),
        first,
        last: last_start.elapsed(),
    })
}

fn baseline_commands(
    repo: &mut PlainRepository,
    account: u64,
    n: u64,
    window: u64,
) -> BoxResult<Windows> {
    let start = Instant::now();
    let mut first = Duration::ZERO;
    let mut last_start = start;
    for i in 0..n {
        if i == n - window {
            last_start = Instant::now();
        }
        repo.execute(account, Step::nth(i))?;
        if i + 1 == window {
            first = start.elapsed();
        }
    }
    Ok(Windows {
        total: start.elapsed(),
        first,
        last: last_start.elapsed(),
    })
}

/// The best total, the best first window and the best last window of several runs.
fn best_windows(runs: &[Windows]) -> Windows {
    Windows {
        total: fastest(runs.iter().map(|w| w.total)),
        first: fastest(runs.iter().map(|w| w.first)),
        last: fastest(runs.iter().map(|w| w.last)),
    }
}

fn one_aggregate(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    // The windows hold whole snapshot intervals (100 commands), so the uncached variant
    // compares like with like.
    let n = config.n(20_000, 2_000);
    let window = (n / 20 / 100 * 100).clamp(100, 1_000);
    let expected = expected_account(n);
    let mut rows = Vec::new();

    for snapshots in [false, true] {
        let framework = repeat(config.reps, || {
            let store = MemStore::new();
            let windows = if snapshots {
                let repo = Repository::<Account, _>::new(store.clone())
                    .cache_capacity(0)
                    .with_snapshots(store.clone())
                    .snapshot_every(100);
                let windows = rt.block_on(framework_commands(&repo, 1, n, window))?;
                check(
                    "(a) snapshots",
                    rt.block_on(repo.load(&1))?.state == expected,
                )?;
                windows
            } else {
                let repo = Repository::<Account, _>::new(store.clone());
                let windows = rt.block_on(framework_commands(&repo, 1, n, window))?;
                check("(a) cached", rt.block_on(repo.load(&1))?.state == expected)?;
                windows
            };
            Ok(windows)
        })?;
        let baseline = repeat(config.reps, || {
            let mut repo = if snapshots {
                PlainRepository::new().with_snapshots(100)
            } else {
                PlainRepository::new().with_cache()
            };
            let windows = baseline_commands(&mut repo, 1, n, window)?;
            check("(a) baseline", repo.load(1)?.0 == expected)?;
            Ok(windows)
        })?;
        let (fw, bl) = (best_windows(&framework), best_windows(&baseline));
        let growth = fw.last.as_secs_f64() / fw.first.as_secs_f64();
        let baseline_growth = bl.last.as_secs_f64() / bl.first.as_secs_f64();
        let variant = if snapshots {
            "cache 0 + snapshot every 100 (baseline: same)"
        } else {
            "default cache (baseline: state map)"
        };
        rows.push(
            Row::rate(
                format!("(a) {} commands on 1 aggregate, {variant}", thousands(n)),
                "cmd",
                n,
                fw.total,
                bl.total,
            )
            .goal(
                format!(
                    "last/first {} = {growth:.2} (<= 1.5; baseline {baseline_growth:.2})",
                    thousands(window)
                ),
                Verdict::of(growth <= 1.5),
            ),
        );
    }
    Ok(rows)
}

// ------------------------------------------------------------------------------------------
// (b) many aggregates, hot aggregates
// ------------------------------------------------------------------------------------------

/// The steps numbered `rounds` on each of `accounts` accounts, round robin.
async fn framework_round_robin<N: Snapshotting<Account, JsonCodec>>(
    repo: &Repo<N>,
    accounts: u64,
    rounds: std::ops::Range<u64>,
) -> BoxResult<Duration> {
    let start = Instant::now();
    for round in rounds {
        let step = Step::nth(round);
        for account in 0..accounts {
            repo.execute(step.command(account)).await?;
        }
    }
    Ok(start.elapsed())
}

fn baseline_round_robin(
    repo: &mut PlainRepository,
    accounts: u64,
    rounds: std::ops::Range<u64>,
) -> BoxResult<Duration> {
    let start = Instant::now();
    for round in rounds {
        let step = Step::nth(round);
        for account in 0..accounts {
            repo.execute(account, step)?;
        }
    }
    Ok(start.elapsed())
}

fn many_aggregates(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    let accounts = config.n(10_000, 100);
    let per = 10;
    let goal = |ratio: f64| {
        (
            format!("{ratio:.2}x baseline (>= 0.5x)"),
            Verdict::of(ratio >= 0.5),
        )
    };
    let mut rows = Vec::new();

    // Round robin over more aggregates than the cache holds (the default cache of 1,024
    // at full size): every command misses and replays its stream; the baseline replays by
    // hand too. Then with a cache holding them all, against the baseline's state map.
    let small_cache = if accounts as usize > DEFAULT_CACHE_CAPACITY {
        DEFAULT_CACHE_CAPACITY
    } else {
        (accounts / 2) as usize
    };
    for cache in [None, Some(accounts as usize)] {
        let framework = repeat(config.reps, || {
            let store = MemStore::new();
            let repo = Repository::<Account, _>::new(store.clone())
                .cache_capacity(cache.unwrap_or(small_cache));
            let time = rt.block_on(framework_round_robin(&repo, accounts, 0..per))?;
            check(
                "(b)",
                rt.block_on(repo.load(&(accounts - 1)))?.state == expected_account(per),
            )?;
            Ok(time)
        })?;
        let baseline = repeat(config.reps, || {
            let mut repo = match cache {
                Some(_) => PlainRepository::new().with_cache(),
                None => PlainRepository::new(),
            };
            let time = baseline_round_robin(&mut repo, accounts, 0..per)?;
            check(
                "(b) baseline",
                repo.load(accounts - 1)?.0 == expected_account(per),
            )?;
            Ok(time)
        })?;
        let (fw, bl) = (fastest(framework), fastest(baseline));
        let variant = match cache {
            None => format!(
                "cache {} (default {}): all miss, replay (baseline: replay)",
                thousands(small_cache as u64),
                thousands(DEFAULT_CACHE_CAPACITY as u64)
            ),
            Some(capacity) => format!(
                "cache {}: all hit after the first (baseline: state map)",
                thousands(capacity as u64)
            ),
        };
        let (goal, verdict) = goal(Row::throughput_ratio(fw, bl));
        rows.push(
            Row::rate(
                format!(
                    "(b) {} aggregates x {per} commands, round robin, {variant}",
                    thousands(accounts)
                ),
                "cmd",
                accounts * per,
                fw,
                bl,
            )
            .goal(goal, verdict),
        );
    }

    // Hot aggregates: opened (untimed), then commands round robin, all cached.
    let hot = 100;
    let rounds = config.n(1_000, 10);
    let framework = repeat(config.reps, || {
        let store = MemStore::new();
        let repo = Repository::<Account, _>::new(store.clone());
        rt.block_on(framework_round_robin(&repo, hot, 0..1))?;
        let time = rt.block_on(framework_round_robin(&repo, hot, 1..rounds + 1))?;
        check(
            "(b) hot",
            rt.block_on(repo.load(&0))?.state == expected_account(rounds + 1),
        )?;
        Ok(time)
    })?;
    let baseline = repeat(config.reps, || {
        let mut repo = PlainRepository::new().with_cache();
        baseline_round_robin(&mut repo, hot, 0..1)?;
        let time = baseline_round_robin(&mut repo, hot, 1..rounds + 1)?;
        check(
            "(b) hot baseline",
            repo.load(0)?.0 == expected_account(rounds + 1),
        )?;
        Ok(time)
    })?;
    let (fw, bl) = (fastest(framework), fastest(baseline));
    let (goal, verdict) = goal(Row::throughput_ratio(fw, bl));
    rows.push(
        Row::rate(
            format!(
                "(b) hot: {hot} cached aggregates x {} commands, default cache (baseline: state map)",
                thousands(rounds)
            ),
            "cmd",
            hot * rounds,
            fw,
            bl,
        )
        .goal(goal, verdict),
    );
    Ok(rows)
}

// ------------------------------------------------------------------------------------------
// (c) loading a long stream
// ------------------------------------------------------------------------------------------

/// Copies the streams of `accounts` from `store` into a baseline store: the same JSON.
async fn copy_streams(store: &MemStore, accounts: &[u64], into: &mut PlainStore) -> BoxResult<()> {
    for &account in accounts {
        let stream = StreamId::for_aggregate("account", &account)?;
        let key = PlainRepository::stream(account);
        let mut from = Version(1);
        loop {
            let batch = store.read_stream(&stream, from, 10_000).await?;
            for event in &batch {
                let name = wire_name(&event.name).ok_or("unknown event name")?;
                into.push(
                    &key,
                    Stored {
                        name,
                        payload: event.payload.to_vec(),
                    },
                );
                from = event.stream_version.next();
            }
            if batch.len() < 10_000 {
                break;
            }
        }
    }
    Ok(())
}

fn long_stream(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    let long = config.n(100_000, 1_000) / 100 * 100;
    let short = 100;
    // `big` has a snapshot at its last event; `tail` the same snapshot version and the
    // longest tail the policy allows (99 events after it).
    let (big, small, tail) = (1, 2, 3);
    let tail_events = long + 99;
    let min_time = config.min_time();

    // The framework's store: the long stream written with snapshots every 100 events (the
    // last at `long`), the short one without snapshots.
    let store = MemStore::new();
    let snapshotted = Repository::<Account, _>::new(store.clone())
        .with_snapshots(store.clone())
        .snapshot_every(100);
    let plain = Repository::<Account, _>::new(store.clone());
    rt.block_on(async {
        for i in 0..long {
            snapshotted.execute(Step::nth(i).command(big)).await?;
        }
        for i in 0..short {
            plain.execute(Step::nth(i).command(small)).await?;
        }
        for i in 0..tail_events {
            snapshotted.execute(Step::nth(i).command(tail)).await?;
        }
        BoxResult::Ok(())
    })?;
    let snapshot_of = |account: u64| -> BoxResult<Vec<u8>> {
        let stream = snapshotted.stream_id(&account)?;
        let snapshot = rt
            .block_on(store.load_snapshot(&stream))?
            .ok_or("no snapshot was taken")?;
        if snapshot.version != Version(long) {
            return Err(format!("the snapshot is at {}, not {long}", snapshot.version).into());
        }
        Ok(snapshot.payload.to_vec())
    };

    // The baseline: the same events and the same snapshot JSON, copied.
    let mut baseline = PlainRepository::new().with_snapshots(100);
    rt.block_on(copy_streams(
        &store,
        &[big, small, tail],
        &mut baseline.store,
    ))?;
    for account in [big, tail] {
        baseline.put_snapshot(
            &PlainRepository::stream(account),
            long,
            snapshot_of(account)?,
        );
    }
    let replay_by_hand = |account: u64| -> BoxResult<Account> {
        let mut state = Account::default();
        baseline
            .store
            .fold(&PlainRepository::stream(account), &mut state, 0)?;
        Ok(state)
    };
    let expected_big = expected_account(long);
    let expected_small = expected_account(short);
    let expected_tail = expected_account(tail_events);

    let measure = |what: &str,
                   framework: &dyn Fn() -> BoxResult<Duration>,
                   baseline: &dyn Fn() -> BoxResult<Duration>|
     -> BoxResult<(Duration, Duration)> {
        progress(what);
        let fw = fastest(repeat(config.reps, framework)?);
        let bl = fastest(repeat(config.reps, baseline)?);
        Ok((fw, bl))
    };

    // Loading the long stream with its snapshot.
    let with_snapshot = measure(
        "(c) with snapshot",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = snapshotted.load(&big).await?;
                check("(c) snapshot", loaded.state == expected_big)
            }))
        },
        &|| {
            per_call(min_time, || {
                let (state, _) = baseline.load(big)?;
                check("(c) baseline snapshot", state == expected_big)
            })
        },
    )?;
    // The same with the longest tail after the snapshot.
    let with_tail = measure(
        "(c) with snapshot and tail",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = snapshotted.load(&tail).await?;
                check("(c) snapshot + tail", loaded.state == expected_tail)
            }))
        },
        &|| {
            per_call(min_time, || {
                let (state, _) = baseline.load(tail)?;
                check("(c) baseline snapshot + tail", state == expected_tail)
            })
        },
    )?;
    // Replaying the long stream.
    let replay = measure(
        "(c) replay",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = plain.load(&big).await?;
                check("(c) replay", loaded.state == expected_big)
            }))
        },
        &|| {
            per_call(min_time, || {
                check("(c) baseline replay", replay_by_hand(big)? == expected_big)
            })
        },
    )?;
    // Replaying the short stream: the reference of the snapshot goal.
    let short_replay = measure(
        "(c) short replay",
        &|| {
            rt.block_on(per_call_async(min_time, async || {
                let loaded = plain.load(&small).await?;
                check("(c) short", loaded.state == expected_small)
            }))
        },
        &|| {
            per_call(min_time, || {
                check(
                    "(c) baseline short",
                    replay_by_hand(small)? == expected_small,
                )
            })
        },
    )?;

    let cost = with_snapshot.0.as_secs_f64() / short_replay.0.as_secs_f64();
    let tail_cost = with_tail.0.as_secs_f64() / short_replay.0.as_secs_f64();
    let replay_ratio = Row::throughput_ratio(replay.0, replay.1);
    Ok(vec![
        Row::rate(
            format!(
                "(c) load 1 aggregate of {} events, snapshot at {}",
                thousands(long),
                thousands(long)
            ),
            "load",
            1,
            with_snapshot.0,
            with_snapshot.1,
        )
        .goal(
            format!("{cost:.2}x the cost of a 100-event load (<= 2x)"),
            Verdict::of(cost <= 2.0),
        ),
        Row::rate(
            format!(
                "(c) load 1 aggregate of {} events, snapshot at {} + 99-event tail",
                thousands(tail_events),
                thousands(long)
            ),
            "load",
            1,
            with_tail.0,
            with_tail.1,
        )
        .goal(
            format!("{tail_cost:.2}x the cost of a 100-event load (<= 2x)"),
            Verdict::of(tail_cost <= 2.0),
        ),
        Row::rate(
            format!(
                "(c) load 1 aggregate of {} events, no snapshot (replay)",
                thousands(long)
            ),
            "event",
            long,
            replay.0,
            replay.1,
        )
        .goal(
            format!("{replay_ratio:.2}x baseline decode+fold (>= 0.7x)"),
            Verdict::of(replay_ratio >= 0.7),
        ),
        Row::rate(
            format!("(c) reference: load 1 aggregate of {short} events, no snapshot"),
            "load",
            1,
            short_replay.0,
            short_replay.1,
        ),
    ])
}

// ------------------------------------------------------------------------------------------
// (d) raw appends
// ------------------------------------------------------------------------------------------

fn raw_appends(config: &Config) -> BoxResult<Vec<Row>> {
    let appends = config.n(200_000, 1_000) / 4 * 4;
    let rt = tokio::runtime::Builder::new_multi_thread().build()?;
    let encoded: Encoded = encode_event(&JsonCodec, &Deposited { amount: 2 })?;
    let payload = encoded.payload.to_vec();
    let mut rows = Vec::new();
    for (streams, tasks) in [(1u64, 1u64), (10_000, 1), (1, 4), (10_000, 4)] {
        let streams = streams.min(appends);
        let per_task = appends / tasks;
        // Event `i` of task `t` goes to stream `(t * per_task + i) % streams`.
        let stream_of = move |task: u64, i: u64| ((task * per_task + i) % streams) as usize;

        let framework = repeat(config.reps, || {
            let store = MemStore::new();
            let ids: Arc<Vec<StreamId>> = Arc::new(
                (0..streams)
                    .map(|s| StreamId::for_aggregate("account", &s))
                    .collect::<Result<_, _>>()?,
            );
            let batches: Vec<Vec<(usize, Vec<NewEvent>)>> = (0..tasks)
                .map(|t| {
                    (0..per_task)
                        .map(|i| (stream_of(t, i), vec![NewEvent::new(encoded.clone())]))
                        .collect()
                })
                .collect();
            let time = rt.block_on(async {
                let start = Instant::now();
                let handles: Vec<_> = batches
                    .into_iter()
                    .map(|batch| {
                        let (store, ids) = (store.clone(), Arc::clone(&ids));
                        tokio::spawn(async move {
                            for (stream, events) in batch {
                                store
                                    .append(&ids[stream], ExpectedVersion::Any, events)
                                    .await?;
                            }
                            BoxResult::Ok(())
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await??;
                }
                BoxResult::Ok(start.elapsed())
            })?;
            check("(d)", store.len() as u64 == appends)?;
            Ok(time)
        })?;
        let baseline = repeat(config.reps, || {
            let map = Arc::new(Mutex::new(PlainStore::default()));
            let keys: Arc<Vec<String>> =
                Arc::new((0..streams).map(PlainRepository::stream).collect());
            let batches: Vec<Vec<(usize, Stored)>> = (0..tasks)
                .map(|t| {
                    (0..per_task)
                        .map(|i| {
                            let stored = Stored {
                                name: encoded.name,
                                payload: payload.clone(),
                            };
                            (stream_of(t, i), stored)
                        })
                        .collect()
                })
                .collect();
            let time = rt.block_on(async {
                let start = Instant::now();
                let handles: Vec<_> = batches
                    .into_iter()
                    .map(|batch| {
                        let (map, keys) = (Arc::clone(&map), Arc::clone(&keys));
                        tokio::spawn(async move {
                            for (stream, stored) in batch {
                                map.lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .push(&keys[stream], stored);
                            }
                        })
                    })
                    .collect();
                for handle in handles {
                    handle.await?;
                }
                BoxResult::Ok(start.elapsed())
            })?;
            let len = map.lock().unwrap_or_else(PoisonError::into_inner).len();
            check("(d) baseline", len as u64 == appends)?;
            Ok(time)
        })?;
        let (fw, bl) = (fastest(framework), fastest(baseline));
        rows.push(Row::rate(
            appends_workload("(d)", appends, streams, tasks, "Mutex<map>"),
            "append",
            appends,
            fw,
            bl,
        ));
    }
    Ok(rows)
}

/// The workload cell of an appends row: `{section} {appends} appends of 1 event, {streams}
/// stream(s), {tasks} task(s) (baseline: {baseline})`.
fn appends_workload(
    section: &str,
    appends: u64,
    streams: u64,
    tasks: u64,
    baseline: &str,
) -> String {
    format!(
        "{section} {} appends of 1 event, {} stream(s), {tasks} task(s) (baseline: {baseline})",
        thousands(appends),
        thousands(streams)
    )
}

// ------------------------------------------------------------------------------------------
// (e) a projection catching up
// ------------------------------------------------------------------------------------------

fn projection(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    let per = 100;
    let accounts = config.n(1_000_000, 10_000) / per;
    let events = accounts * per;
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
    // The baseline's log: the same JSON payloads, in the same order.
    let log: Vec<Stored> = rt.block_on(async {
        let mut log = Vec::with_capacity(events as usize);
        let mut after = Position::START;
        loop {
            let batch = store.read_all(after, 10_000).await?;
            let Some(last) = batch.last() else { break };
            after = last.position;
            for event in &batch {
                log.push(Stored {
                    name: wire_name(&event.name).ok_or("unknown event name")?,
                    payload: event.payload.to_vec(),
                });
            }
        }
        BoxResult::Ok(log)
    })?;
    check("(e) log", log.len() as u64 == events)?;

    let framework = repeat(config.reps, || {
        let runner = ProjectionRunner::new(store.clone(), Ledger::default());
        let start = Instant::now();
        let reached = rt.block_on(runner.catch_up())?;
        let time = start.elapsed();
        check("(e)", reached == Position(events))?;
        let ledger = runner.read().clone();
        Ok((time, ledger))
    })?;
    let baseline = repeat(config.reps, || {
        let start = Instant::now();
        let mut ledger = Ledger::default();
        for event in &log {
            fold_ledger(&mut ledger, event.name, &event.payload)?;
        }
        Ok((start.elapsed(), ledger))
    })?;
    check(
        "(e) ledger",
        framework
            .iter()
            .chain(&baseline)
            .all(|(_, ledger)| *ledger == baseline[0].1)
            && baseline[0].1.events == events,
    )?;
    let fw = fastest(framework.iter().map(|(time, _)| *time));
    let bl = fastest(baseline.iter().map(|(time, _)| *time));
    Ok(vec![Row::rate(
        format!(
            "(e) ProjectionRunner::catch_up over {} events (baseline: decode+fold by hand)",
            thousands(events)
        ),
        "event",
        events,
        fw,
        bl,
    )])
}

// ------------------------------------------------------------------------------------------
// Memory
// ------------------------------------------------------------------------------------------

/// The number of events of the memory workload, and of each of its accounts.
fn memory_size(config: &Config) -> (u64, u64) {
    let per = 100;
    (config.n(1_000_000, 10_000) / per * per, per)
}

/// `es-bench memory <kind>`: fills a store with the memory workload and prints the peak RSS
/// of the process. Kinds: `framework` (commands through a Repository), `appends` (raw
/// EventStore::append of events without metadata), `baseline` (the plain map).
fn memory(config: &Config, kind: &str) -> BoxResult<()> {
    let (events, per) = memory_size(config);
    let accounts = events / per;
    let start = Instant::now();
    let held = match kind {
        "framework" => {
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
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
            store.len() as u64
        }
        "appends" => {
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            let store = MemStore::new();
            rt.block_on(async {
                for account in 0..accounts {
                    let stream = StreamId::for_aggregate("account", &account)?;
                    for i in 0..per {
                        let event = Step::nth(i).encoded()?;
                        store
                            .append(&stream, ExpectedVersion::Any, vec![NewEvent::new(event)])
                            .await?;
                    }
                }
                BoxResult::Ok(())
            })?;
            store.len() as u64
        }
        "baseline" => {
            let mut repo = PlainRepository::new().with_cache();
            for account in 0..accounts {
                for i in 0..per {
                    repo.execute(account, Step::nth(i))?;
                }
            }
            repo.store.len() as u64
        }
        other => return Err(format!("unknown memory kind {other:?}").into()),
    };
    let peak = peak_rss_kib().ok_or("no /proc/self/status: peak RSS is only read on Linux")?;
    println!(
        "es-bench memory {kind}: {} events held, peak RSS {} ({:.1} s to fill)",
        thousands(held),
        mib(peak),
        start.elapsed().as_secs_f64()
    );
    println!("VmHWM_kB={peak}");
    Ok(())
}

/// Runs `es-bench memory <kind>` in a child process; returns its peak RSS in KiB.
fn child_peak_rss(kind: &str) -> BoxResult<u64> {
    let output = Process::new(std::env::current_exe()?)
        .args(["memory", kind])
        .output()?;
    if !output.status.success() {
        return Err(format!(
            "es-bench memory {kind} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM_kB="))
        .ok_or("es-bench memory printed no VmHWM_kB line")?;
    Ok(line.trim().parse()?)
}

fn memory_rows(config: &Config) -> BoxResult<Vec<Row>> {
    let (events, _) = memory_size(config);
    let baseline = child_peak_rss("baseline")?;
    let mut rows = Vec::new();
    for (kind, how) in [
        ("framework", "Repository::execute (ids + metadata)"),
        ("appends", "raw EventStore::append, no metadata"),
    ] {
        let peak = child_peak_rss(kind)?;
        let limit = 512 * 1024;
        rows.push(Row {
            workload: format!(
                "memory: MemStore with {} events via {how}, peak RSS",
                thousands(events)
            ),
            framework: mib(peak),
            baseline: mib(baseline),
            ratio: format!("{:.2}x", peak as f64 / baseline as f64),
            goal: format!("{} (< 512 MiB)", mib(peak)),
            verdict: Verdict::of(peak < limit),
        });
    }
    Ok(rows)
}
