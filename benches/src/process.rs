//! (f) The transfer process manager end to end, against a hand-written loop doing the same
//! work: read the log, and for each requested transfer withdraw, deposit and complete it
//! (each command with a command id derived from the request, as the process manager does),
//! saving a checkpoint after each page. And the delay, live, from a request's append to its
//! withdrawal's append.
//!
//! The same code measures any store with process storage: the in-memory store here, and
//! PostgreSQL from the `pg` section.

use std::time::{Duration, Instant, SystemTime};

use es_core::prelude::*;
use es_core::process::ProcessStore;
use es_examples::bank::process::workflow;
use es_examples::bank::transfer::{
    CompleteTransfer, RequestTransfer, Transfer, TransferId, TransferRequested, TransferStatus,
};
use es_examples::bank::{Account, AccountId, Deposit, MoneyWithdrawn, OpenAccount, Withdraw};
use es_memstore::MemStore;
use tokio::runtime::Runtime;

use crate::report::{Row, thousands};
use crate::{BoxResult, Config, alternate, check};

/// Accounts transfers move money between.
const ACCOUNTS: u32 = 100;

/// Rows of the in-memory store.
pub(crate) fn rows(config: &Config, rt: &Runtime) -> BoxResult<Vec<Row>> {
    let transfers = config.n(5_000, 200);
    let mut rows = vec![throughput("MemStore", config, rt, transfers, || async {
        Ok(MemStore::new())
    })?];
    rows.push(delay(
        "MemStore",
        rt,
        MemStore::new(),
        config.n(1_000, 100),
        2,
    )?);
    Ok(rows)
}

/// A store with [`ACCOUNTS`] accounts holding plenty, and `transfers` requested transfers
/// between them; returns the requests' ids.
async fn requested<S: EventStore>(store: &S, transfers: u64) -> BoxResult<Vec<TransferId>> {
    let accounts = Repository::<Account, _>::new(store.clone());
    for id in 1..=ACCOUNTS {
        let account = AccountId(id);
        accounts
            .execute(OpenAccount {
                account,
                owner: format!("owner {id}"),
            })
            .await?;
        accounts
            .execute(Deposit {
                account,
                amount: 1_000_000_000,
            })
            .await?;
    }
    let repository = Repository::<Transfer, _>::new(store.clone());
    let mut ids = Vec::with_capacity(transfers as usize);
    for n in 0..transfers {
        let transfer = TransferId::new();
        let from = (n % u64::from(ACCOUNTS)) as u32 + 1;
        repository
            .execute(RequestTransfer {
                transfer,
                from: AccountId(from),
                to: AccountId(from % ACCOUNTS + 1),
                amount: 1 + (n % 100) as i64,
            })
            .await?;
        ids.push(transfer);
    }
    Ok(ids)
}

/// The process manager: catches up over the requests.
async fn framework<S: ProcessStore>(store: &S) -> BoxResult<Duration> {
    let runner = ProjectionRunner::new(store.clone(), workflow(store));
    let start = Instant::now();
    runner.catch_up().await?;
    Ok(start.elapsed())
}

/// The hand-written loop: the same commands, checkpoint after each page.
async fn baseline<S: ProcessStore>(store: &S) -> BoxResult<Duration> {
    let accounts = Repository::<Account, _>::new(store.clone());
    let transfers = Repository::<Transfer, _>::new(store.clone());
    let start = Instant::now();
    let mut after = store
        .load_checkpoint("transfer-loop")
        .await?
        .unwrap_or(Position::START);
    loop {
        let page = store.read_all(after, es_core::BATCH_SIZE).await?;
        let Some(last) = page.last() else { break };
        for event in &page {
            if &*event.name != TransferRequested::NAME {
                continue;
            }
            let request: TransferRequested = serde_json::from_slice(&event.payload)?;
            let transfer = event.aggregate_id::<Transfer>()?;
            let id = |n: u128| Uuid::from_u128(event.event_id.0.as_u128() ^ n);
            let meta = |n| CommandMeta::new().with_command_id(id(n));
            accounts
                .execute_with(
                    Withdraw {
                        account: request.from,
                        amount: request.amount,
                    },
                    meta(1),
                )
                .await?;
            accounts
                .execute_with(
                    Deposit {
                        account: request.to,
                        amount: request.amount,
                    },
                    meta(2),
                )
                .await?;
            transfers
                .execute_with(CompleteTransfer { transfer }, meta(3))
                .await?;
        }
        after = last.position;
        store.save_checkpoint("transfer-loop", after).await?;
    }
    Ok(start.elapsed())
}

/// Checks that every transfer completed.
async fn all_completed<S: EventStore>(store: &S, ids: &[TransferId]) -> BoxResult<()> {
    let transfers = Repository::<Transfer, _>::new(store.clone());
    for id in ids {
        let status = transfers.load(id).await?.state.status();
        check(
            "(f) a transfer completed",
            status == TransferStatus::Completed,
        )?;
    }
    Ok(())
}

/// The throughput row on stores made by `fresh` (one per run and side).
pub(crate) fn throughput<S, F, Fut>(
    label: &str,
    config: &Config,
    rt: &Runtime,
    transfers: u64,
    fresh: F,
) -> BoxResult<Row>
where
    S: ProcessStore,
    F: Fn() -> Fut,
    Fut: Future<Output = BoxResult<S>>,
{
    // One run of a side on a fresh store: the framework's, or the baseline's.
    let run = |framework_side: bool| {
        rt.block_on(async {
            let store = fresh().await?;
            let ids = requested(&store, transfers).await?;
            let time = if framework_side {
                framework(&store).await?
            } else {
                baseline(&store).await?
            };
            all_completed(&store, &ids).await?;
            Ok(time)
        })
    };
    let (fw, bl) = alternate(config.reps, || run(true), || run(false))?;
    Ok(Row::rate(
        format!(
            "(f) {label}: {} transfers end to end (withdraw, deposit, complete) by the \
             process manager (baseline: a loop of the same commands, checkpoint per page)",
            thousands(transfers)
        ),
        "transfer",
        transfers,
        fw,
        bl,
    ))
}

/// The delay row: the runner live, requests appended one by one every `pause_ms`; the delay
/// from each request's recorded time to its withdrawal's.
pub(crate) fn delay<S: ProcessStore>(
    label: &str,
    rt: &Runtime,
    store: S,
    transfers: u64,
    pause_ms: u64,
) -> BoxResult<Row> {
    let delays = rt.block_on(async {
        requested(&store, 0).await?;
        let runner = ProjectionRunner::new(store.clone(), workflow(&store));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let live = tokio::spawn({
            let runner = runner.clone();
            async move {
                runner
                    .run(async {
                        let _ = stopped.await;
                    })
                    .await
            }
        });
        let repository = Repository::<Transfer, _>::new(store.clone());
        let mut last = Position::START;
        for n in 0..transfers {
            let from = (n % u64::from(ACCOUNTS)) as u32 + 1;
            let done = repository
                .execute(RequestTransfer {
                    transfer: TransferId::new(),
                    from: AccountId(from),
                    to: AccountId(from % ACCOUNTS + 1),
                    amount: 1,
                })
                .await?;
            last = done.last_position.unwrap_or(last);
            tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        }
        runner.wait_for(last, Duration::from_secs(60)).await?;
        let _ = stop.send(());
        live.await??;
        delays(&store).await
    })?;
    let (p50, p99) = (percentile(&delays, 50), percentile(&delays, 99));
    Ok(Row {
        workload: format!(
            "(f) {label}: delay from a transfer's request to its withdrawal, live, {} requests \
             (p50 / p99)",
            thousands(delays.len() as u64)
        ),
        framework: format!("{:.2} / {:.2} ms", p50 * 1e3, p99 * 1e3),
        baseline: "-".to_owned(),
        ratio: "-".to_owned(),
        goal: "- (reported)".to_owned(),
        verdict: crate::report::Verdict::Info,
    })
}

/// Each transfer's delay in seconds: its request's recorded time to its withdrawal's (matched
/// by correlation id).
async fn delays<S: EventStore>(store: &S) -> BoxResult<Vec<f64>> {
    let log = store.read_all(Position::START, usize::MAX).await?;
    let mut requested: std::collections::HashMap<Uuid, SystemTime> = Default::default();
    let mut delays = Vec::new();
    for event in &log {
        let Some(correlation) = event.metadata.correlation_id else {
            continue;
        };
        match &*event.name {
            TransferRequested::NAME => {
                requested.insert(correlation, event.recorded_at);
            }
            MoneyWithdrawn::NAME => {
                if let Some(at) = requested.get(&correlation) {
                    let delay = event.recorded_at.duration_since(*at).unwrap_or_default();
                    delays.push(delay.as_secs_f64());
                }
            }
            _ => {}
        }
    }
    delays.sort_by(f64::total_cmp);
    Ok(delays)
}

fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = (sorted.len() * p).div_ceil(100).saturating_sub(1);
    sorted[index.min(sorted.len() - 1)]
}
