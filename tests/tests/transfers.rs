//! The transfer workflow under fire: 20 accounts, 2,000 random transfers requested from 16
//! tasks (a tenth of them to a closed account), while the process manager's runner is
//! dropped at random moments (mid-batch, mid-command) and started again, at least 10 times.
//! Afterwards money is conserved, every transfer has ended (completed, or cancelled with its
//! money paid back), and no command took effect twice: each transfer's events are counted.
//! On the in-memory store, on PostgreSQL and in an SQLite file.
//!
//! Sizes scale with `ES_TEST_SCALE` (see `es_tests::scaled`).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use es_core::prelude::*;
use es_core::process::Workflow;
use es_core::testing::hooked::{Hooked, StoreHooks};
use es_core::{NewEvent, RecordedEvent};
use es_examples::bank::process::{TransferProcess, workflow};
use es_examples::bank::transfer::{RequestTransfer, Transfer, TransferId, TransferStatus};
use es_examples::bank::{Account, AccountId, CloseAccount, Deposit, OpenAccount};
use es_memstore::MemStore;
use es_tests::{Rng, pg_store, scaled};

const ACCOUNTS: u32 = 20;
/// Accounts 19 and 20 are closed before the transfers start.
const CLOSED: [u32; 2] = [19, 20];
const INITIAL: i64 = 100_000;
const TASKS: usize = 16;
const TRANSFERS: usize = 2_000;
const RESTARTS: u32 = 10;

/// A runner of the transfer process, as a freshly started process makes it.
fn runner<S: es_core::process::ProcessStore>(
    store: &S,
) -> ProjectionRunner<Workflow<TransferProcess, S>, S> {
    ProjectionRunner::new(store.clone(), workflow(store)).with_batch_size(8)
}

async fn open_accounts<S: EventStore>(store: &S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    for id in 1..=ACCOUNTS {
        let account = AccountId(id);
        accounts
            .execute(OpenAccount {
                account,
                owner: format!("owner {id}"),
            })
            .await
            .unwrap();
        if CLOSED.contains(&id) {
            accounts.execute(CloseAccount { account }).await.unwrap();
        } else {
            accounts
                .execute(Deposit {
                    account,
                    amount: INITIAL,
                })
                .await
                .unwrap();
        }
    }
}

/// Requests `count` transfers from one task; returns each transfer with its request's
/// command id (the correlation id of everything the transfer causes).
async fn request<S: EventStore>(store: S, seed: u64, count: usize) -> Vec<(TransferId, Uuid)> {
    let transfers = Repository::<Transfer, _>::new(store);
    let mut rng = Rng(seed);
    let mut requested = Vec::with_capacity(count);
    for _ in 0..count {
        let open = (ACCOUNTS - CLOSED.len() as u32) as u64;
        let from = AccountId(1 + rng.below(open) as u32);
        let to = if rng.below(10) == 0 {
            AccountId(CLOSED[rng.below(2) as usize])
        } else {
            let mut to = from;
            while to == from {
                to = AccountId(1 + rng.below(open) as u32);
            }
            to
        };
        let transfer = TransferId::new();
        let meta = CommandMeta::new();
        let command_id = meta.command_id;
        let command = RequestTransfer {
            transfer,
            from,
            to,
            amount: 1 + rng.below(5_000) as i64,
        };
        transfers.execute_with(command, meta).await.unwrap();
        requested.push((transfer, command_id));
        // In bursts, which keep the process manager busy for a while.
        if requested.len() % 25 == 0 {
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    }
    requested
}

/// Runs the runner in a task, drops it at a random moment, starts a new one, until `done`
/// and at least [`RESTARTS`] runners were dropped with work left (events after their
/// position); returns how many were, and how many restarts there were in all.
async fn restart_until_done<S: es_core::process::ProcessStore>(
    store: S,
    done: Arc<AtomicBool>,
) -> (u32, u32) {
    let mut rng = Rng(0x5eed);
    let (mut busy, mut restarts) = (0, 0);
    loop {
        let live = runner(&store);
        let task = tokio::spawn({
            let live = live.clone();
            async move { live.run(std::future::pending()).await }
        });
        tokio::time::sleep(Duration::from_millis(2 + rng.below(20))).await;
        // Dropped wherever it is: reading, handling an instance, sending, committing.
        task.abort();
        let _ = task.await;
        restarts += 1;
        let left = store.read_all(live.position(), 1).await.unwrap();
        if !left.is_empty() {
            busy += 1;
        }
        // Enough, or no more work to drop a runner in the middle of.
        if done.load(Ordering::SeqCst) && (busy >= RESTARTS || left.is_empty()) {
            return (busy, restarts);
        }
    }
}

async fn transfers_conserve_money<S: es_core::process::ProcessStore>(store: S) {
    open_accounts(&store).await;
    let total = scaled(TRANSFERS);
    let done = Arc::new(AtomicBool::new(false));
    let restarter = tokio::spawn(restart_until_done(store.clone(), Arc::clone(&done)));
    let requesters: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            let count = total / TASKS + usize::from(task < total % TASKS);
            tokio::spawn(request(store, 0x9e37_79b9 + task as u64, count))
        })
        .collect();
    let mut requested = Vec::with_capacity(total);
    for requester in requesters {
        requested.extend(requester.await.unwrap());
    }
    done.store(true, Ordering::SeqCst);
    let (busy, restarts) = restarter.await.unwrap();
    assert!(busy >= RESTARTS, "{busy} runners dropped with work left");

    // A last runner finishes the work.
    let last = runner(&store);
    last.catch_up().await.unwrap();
    assert!(
        last.target().parked().await.unwrap().is_empty(),
        "no instance parked"
    );

    let transfers = Repository::<Transfer, _>::new(store.clone());
    let accounts = Repository::<Account, _>::new(store.clone());
    let (mut completed, mut cancelled) = (0, 0);
    for (transfer, _) in &requested {
        match transfers.load(transfer).await.unwrap().state.status() {
            TransferStatus::Completed => completed += 1,
            TransferStatus::Cancelled => cancelled += 1,
            other => panic!("transfer {transfer} did not end: {other:?}"),
        }
    }
    let mut held = 0;
    for id in 1..=ACCOUNTS {
        held += accounts.load(&AccountId(id)).await.unwrap().state.balance();
    }
    let deposited = INITIAL * i64::from(ACCOUNTS - CLOSED.len() as u32);
    assert_eq!(held, deposited, "money is conserved");

    // Each transfer's effects, by its correlation id: once each.
    let log = store.read_all(Position::START, usize::MAX).await.unwrap();
    let mut effects: HashMap<Uuid, HashMap<&str, u32>> = HashMap::new();
    for event in &log {
        if let Some(correlation) = event.metadata.correlation_id {
            *effects
                .entry(correlation)
                .or_default()
                .entry(&event.name)
                .or_default() += 1;
        }
    }
    for (transfer, correlation) in &requested {
        let seen = effects.get(correlation).cloned().unwrap_or_default();
        let count = |name: &str| seen.get(name).copied().unwrap_or(0);
        let (withdrawn, deposited) = (count("account.withdrawn"), count("account.deposited"));
        match (count("transfer.completed"), count("transfer.cancelled")) {
            (1, 0) => assert_eq!(
                (withdrawn, deposited),
                (1, 1),
                "completed transfer {transfer}: {seen:?}"
            ),
            (0, 1) => assert!(
                (withdrawn, deposited) == (0, 0) || (withdrawn, deposited) == (1, 1),
                "cancelled transfer {transfer}: withdrawn and paid back once, or neither: {seen:?}"
            ),
            _ => panic!("transfer {transfer} ended twice or never: {seen:?}"),
        }
    }
    eprintln!(
        "{} transfers: {completed} completed, {cancelled} cancelled; {restarts} restarts, \
         {busy} of them with work left",
        requested.len()
    );
    assert!(completed > 0 && cancelled > 0);
}

/// Calls that take a few polls, like a round trip, so that a runner dropped at a random
/// moment is often dropped in the middle of a batch, a command or a commit.
#[derive(Debug, Clone, Default)]
struct RoundTrips;

impl<S: EventStore> StoreHooks<S> for RoundTrips {
    async fn append(
        &self,
        inner: &S,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<es_core::Appended, es_core::StoreError> {
        tokio::task::yield_now().await;
        let appended = inner.append(stream_id, expected, events).await;
        tokio::task::yield_now().await;
        appended
    }

    async fn read_stream(
        &self,
        inner: &S,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, es_core::StoreError> {
        tokio::task::yield_now().await;
        inner.read_stream(stream_id, from, max_count).await
    }

    async fn read_all(
        &self,
        inner: &S,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, es_core::StoreError> {
        tokio::task::yield_now().await;
        inner.read_all(after, max_count).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_conserve_money_in_memory() {
    transfers_conserve_money(Hooked::new(MemStore::new(), RoundTrips)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_conserve_money_on_postgres() {
    let Some(store) = pg_store(1).await else {
        return;
    };
    transfers_conserve_money(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_conserve_money_in_an_sqlite_file() {
    let file = es_tests::ScratchFile::new("transfers");
    let store = es_sqlite::SqliteStore::open(file.path()).await.unwrap();
    transfers_conserve_money(store.clone()).await;
    store.close().await;
}
