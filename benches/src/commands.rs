//! (a) N commands on one aggregate, and (b) many aggregates and hot aggregates.

use std::time::{Duration, Instant};

use es_bench::Step;
use es_bench::baseline::PlainRepository;
use es_bench::domain::Account;
use es_core::Repository;
use es_core::codec::JsonCodec;
use es_core::repository::DEFAULT_CACHE_CAPACITY;
use es_core::snapshot::Snapshotting;
use es_memstore::MemStore;
use tokio::runtime::Runtime;

use crate::report::{Row, Verdict, thousands};
use crate::{BoxResult, Config, Repo, check, expected_account, fastest, repeat};

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

pub(crate) fn one_aggregate(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
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
                    .with_cache_capacity(0)
                    .with_snapshots(store.clone())
                    .with_snapshot_every(100);
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

pub(crate) fn many_aggregates(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
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
                .with_cache_capacity(cache.unwrap_or(small_cache));
            let time = rt.block_on(framework_round_robin(&repo, accounts, 0..per))?;
            check(
                "(b)",
                rt.block_on(repo.load(&(accounts - 1)))?.state == expected_account(per),
            )?;
            Ok(time)
        })?;
        let baseline = |bookkeeping: bool| {
            repeat(config.reps, || {
                let mut repo = match cache {
                    Some(_) => PlainRepository::new().with_cache(),
                    None => PlainRepository::new(),
                };
                if bookkeeping {
                    repo = repo.with_bookkeeping();
                }
                let time = baseline_round_robin(&mut repo, accounts, 0..per)?;
                check(
                    "(b) baseline",
                    repo.load(accounts - 1)?.0 == expected_account(per)
                        && repo.logged() as u64 == if bookkeeping { accounts * per } else { 0 },
                )?;
                Ok(time)
            })
        };
        let (fw, bl) = (fastest(framework), fastest(baseline(false)?));
        let booked = fastest(baseline(true)?);
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
        rows.push(bookkeeping_row(accounts * per, fw, booked));
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
    let baseline = |bookkeeping: bool| {
        repeat(config.reps, || {
            let mut repo = PlainRepository::new().with_cache();
            if bookkeeping {
                repo = repo.with_bookkeeping();
            }
            baseline_round_robin(&mut repo, hot, 0..1)?;
            let time = baseline_round_robin(&mut repo, hot, 1..rounds + 1)?;
            check(
                "(b) hot baseline",
                repo.load(0)?.0 == expected_account(rounds + 1),
            )?;
            Ok(time)
        })
    };
    let (fw, bl) = (fastest(framework), fastest(baseline(false)?));
    let booked = fastest(baseline(true)?);
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
    rows.push(bookkeeping_row(hot * rounds, fw, booked));
    Ok(rows)
}

/// The row under each (b) row: the same framework time against the baseline that also
/// records what the framework records (ids, a time, a global log, a command-id index).
/// Reported, not a goal: it shows how much of the gap is that bookkeeping.
fn bookkeeping_row(commands: u64, framework: Duration, baseline: Duration) -> Row {
    Row::rate(
        "  same, against the baseline with the framework's bookkeeping (2 UUIDs, a time, a global log, a command-id index)".to_owned(),
        "cmd",
        commands,
        framework,
        baseline,
    )
}
