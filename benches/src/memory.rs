//! The peak RSS of the in-memory store, measured in child processes.

use std::process::Command as Process;
use std::time::Instant;

use es_bench::baseline::PlainRepository;
use es_bench::{Step, peak_rss_kib};
use es_core::{EventStore, ExpectedVersion, NewEvent, StreamId};
use es_memstore::MemStore;

use crate::report::{Row, Verdict, mib, thousands};
use crate::{BoxResult, Config, filled_store};

/// The number of events of the memory workload, and of each of its accounts.
fn memory_size(config: &Config) -> (u64, u64) {
    let per = 100;
    (config.n(1_000_000, 10_000) / per * per, per)
}

/// `es-bench memory <kind>`: fills a store with the memory workload and prints the peak RSS
/// of the process. Kinds: `framework` (commands through a Repository), `appends` (raw
/// EventStore::append of events without metadata), `baseline` (the plain map).
pub(crate) fn measure(config: &Config, kind: &str) -> BoxResult<()> {
    let (events, per) = memory_size(config);
    let accounts = events / per;
    let start = Instant::now();
    let held = match kind {
        "framework" => {
            let rt = tokio::runtime::Builder::new_current_thread().build()?;
            filled_store(&rt, accounts, per)?.len() as u64
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

pub(crate) fn rows(config: &Config) -> BoxResult<Vec<Row>> {
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
