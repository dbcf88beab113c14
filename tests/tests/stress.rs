//! Concurrency stress on a multi-threaded runtime: many writers on one aggregate (no lost
//! update, no version gap, every outcome typed), and many aggregates written in parallel
//! while live projections follow the log (the live read models equal a rebuild, and the
//! global log is contiguous and duplicate-free).
//!
//! Sizes scale with `ES_TEST_SCALE` (see `es_tests::scaled`); run with `--nocapture` to see
//! the conflicts and retries observed.
// Test helpers outside `#[test]` fns fail loudly on unexpected errors, like the tests.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use es_core::prelude::*;
use es_core::{EventId, RecordedEvent};
use es_examples::bank::views::Balances;
use es_examples::bank::{
    Account, AccountClosed, AccountError, AccountId, AccountOpened, Cents, CloseAccount, Deposit,
    MoneyDeposited, MoneyWithdrawn, OpenAccount, Withdraw,
};
use es_memstore::MemStore;
use es_tests::scaled;
use tokio::sync::oneshot;

mod support;
use support::{
    HOT_RETRY, Outcomes, TASKS, assert_log_is_ordered, open, writers_race_on_one_account,
};

/// How long a projection may take to reach the head before the test fails.
const PROJECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Every event of the store, in log order.
async fn whole_log(store: &MemStore) -> Vec<RecordedEvent> {
    store.read_all(Position::START, usize::MAX).await.unwrap()
}

/// Asserts that `log` holds positions 1..=N in order, each event id once, and that each
/// stream's versions appear as 1, 2, 3, ... in log order. Returns the streams' versions.
fn assert_log_is_contiguous(log: &[RecordedEvent]) -> BTreeMap<String, u64> {
    let positions: Vec<u64> = log.iter().map(|e| e.position.0).collect();
    let expected: Vec<u64> = (1..=log.len() as u64).collect();
    assert_eq!(positions, expected, "positions are 1..=N, in order");
    assert_log_is_ordered(log)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_on_one_aggregate_lose_no_update_and_leave_no_gap() {
    let stores = vec![MemStore::new(); TASKS];
    let log = writers_race_on_one_account("MemStore", stores, scaled(2_000)).await;
    assert_log_is_contiguous(&log);
}

/// Every event the projection was handed, in order: (position, event id).
#[derive(Projection, Default, Debug, Clone, PartialEq)]
#[projection(
    name = "trace",
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed)
)]
struct Trace {
    seen: Vec<(u64, EventId)>,
}

impl Trace {
    fn record(&mut self, meta: &EventMeta) {
        self.seen.push((meta.position.0, meta.event_id));
    }
}

impl On<AccountOpened> for Trace {
    fn on(&mut self, _: &AccountOpened, meta: &EventMeta) {
        self.record(meta);
    }
}

impl On<MoneyDeposited> for Trace {
    fn on(&mut self, _: &MoneyDeposited, meta: &EventMeta) {
        self.record(meta);
    }
}

impl On<MoneyWithdrawn> for Trace {
    fn on(&mut self, _: &MoneyWithdrawn, meta: &EventMeta) {
        self.record(meta);
    }
}

impl On<AccountClosed> for Trace {
    fn on(&mut self, _: &AccountClosed, meta: &EventMeta) {
        self.record(meta);
    }
}

/// The account every task also deposits into now and then.
const SHARED: AccountId = AccountId(0);

fn owner(account: AccountId) -> String {
    format!("owner {account}")
}

/// What one task of the many-aggregates workload did.
#[derive(Debug, Default)]
struct Workload {
    outcomes: Outcomes,
    /// The final (owner, balance) of each account it left open.
    open: BTreeMap<AccountId, (String, Cents)>,
    closed: u32,
    /// Money left in its own accounts.
    total: Cents,
    /// Acknowledged deposits into the shared account.
    shared_deposits: Vec<Cents>,
    /// Read-your-writes checks made against the live projection.
    checked: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_projections_follow_many_parallel_writers_and_equal_a_rebuild() {
    let per_task = scaled(250);
    let started = Instant::now();
    let store = MemStore::new();
    open(&store, SHARED, owner(SHARED)).await;

    let balances = ProjectionRunner::new(store.clone(), Balances::default()).with_batch_size(64);
    let trace = ProjectionRunner::new(store.clone(), Trace::default());
    let (stop_balances, balances_stopped) = oneshot::channel::<()>();
    let (stop_trace, trace_stopped) = oneshot::channel::<()>();
    let balances_live = tokio::spawn({
        let balances = balances.clone();
        async move {
            balances
                .run(async {
                    let _ = balances_stopped.await;
                })
                .await
        }
    });
    let trace_live = tokio::spawn({
        let trace = trace.clone();
        async move {
            trace
                .run(async {
                    let _ = trace_stopped.await;
                })
                .await
        }
    });

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let repo = Repository::<Account, _>::new(store.clone()).with_retry(HOT_RETRY);
            let balances = balances.clone();
            tokio::spawn(async move {
                let mut done = Workload::default();
                let record = |done: &mut Workload, result| {
                    done.outcomes.record(&result, HOT_RETRY);
                    result
                };
                for i in 0..per_task {
                    let account = AccountId(u32::try_from(task * per_task + i + 1).unwrap());
                    let n = Cents::from(account.0);
                    let open = OpenAccount {
                        account,
                        owner: owner(account),
                    };
                    record(&mut done, repo.execute(open).await).unwrap();
                    for amount in [100 + n, 7] {
                        record(&mut done, repo.execute(Deposit { account, amount }).await).unwrap();
                    }
                    let taken = 50;
                    let mut last = record(
                        &mut done,
                        repo.execute(Withdraw {
                            account,
                            amount: taken,
                        })
                        .await,
                    )
                    .unwrap();
                    let mut balance = 100 + n + 7 - taken;
                    // Too much is refused and changes nothing.
                    let refused = repo
                        .execute(Withdraw {
                            account,
                            amount: balance + 1,
                        })
                        .await;
                    assert!(matches!(
                        &refused,
                        Err(ExecuteError::Domain(AccountError::Overdraw { .. }))
                    ));
                    record(&mut done, refused).unwrap_err();
                    if i % 4 == 0 {
                        let emptied = repo
                            .execute(Withdraw {
                                account,
                                amount: balance,
                            })
                            .await;
                        record(&mut done, emptied).unwrap();
                        last = record(&mut done, repo.execute(CloseAccount { account }).await)
                            .unwrap();
                        balance = 0;
                        done.closed += 1;
                    } else {
                        done.open.insert(account, (owner(account), balance));
                        done.total += balance;
                    }
                    if i % 10 == 0 {
                        let amount = Cents::from(account.0);
                        let shared = repo
                            .execute(Deposit {
                                account: SHARED,
                                amount,
                            })
                            .await;
                        if record(&mut done, shared).is_ok() {
                            done.shared_deposits.push(amount);
                        }
                    }
                    if i % 25 == 0 {
                        // Read your writes through the live projection.
                        let position = last.last_position.unwrap();
                        balances
                            .wait_for(position, PROJECTION_TIMEOUT)
                            .await
                            .unwrap();
                        let view = balances.read();
                        assert_eq!(
                            view.open.get(&account).map(|(_, balance)| *balance),
                            (balance > 0).then_some(balance),
                            "account {account} as seen after waiting for its last write"
                        );
                        done.checked += 1;
                    }
                    if i % 8 == 7 {
                        tokio::task::yield_now().await;
                    }
                }
                done
            })
        })
        .collect();

    let mut outcomes = Outcomes::default();
    let mut expected = Balances::default();
    let mut shared_total = 0;
    let mut checked = 0;
    for task in tasks {
        let done = task.await.unwrap();
        outcomes.merge(done.outcomes);
        expected.open.extend(done.open);
        expected.closed += done.closed;
        expected.total += done.total;
        shared_total += done.shared_deposits.iter().sum::<Cents>();
        checked += done.checked;
    }
    let commands = outcomes.ok + outcomes.conflicts + outcomes.domain + outcomes.other.len();
    outcomes.assert_all_typed();
    assert_eq!(
        outcomes.domain,
        TASKS * per_task,
        "only the overdrafts were refused"
    );
    expected.open.insert(SHARED, (owner(SHARED), shared_total));
    expected.total += shared_total;

    // The live runners reach the head of the log...
    let log = whole_log(&store).await;
    let head = Position(log.len() as u64);
    balances.wait_for(head, PROJECTION_TIMEOUT).await.unwrap();
    trace.wait_for(head, PROJECTION_TIMEOUT).await.unwrap();
    println!(
        "many aggregates: {} accounts, {commands} commands ({} ok, {} refused, {} conflict \
         errors, {} retries, {checked} read-your-writes checks), {} events, projections at \
         the head after {:?}",
        TASKS * per_task + 1,
        outcomes.ok,
        outcomes.domain,
        outcomes.conflicts,
        outcomes.retries,
        head.0,
        started.elapsed(),
    );

    // ... where the live read model is what the commands imply, and what a fresh runner
    // builds from the whole log.
    assert_eq!(*balances.read(), expected);
    let rebuilt = ProjectionRunner::new(store.clone(), Balances::default());
    assert_eq!(rebuilt.catch_up().await.unwrap(), head);
    assert_eq!(*rebuilt.read(), *balances.read());

    // The global log is contiguous, each event once; the live trace saw exactly it, in order.
    let versions = assert_log_is_contiguous(&log);
    assert_eq!(
        versions.len(),
        TASKS * per_task + 1,
        "one stream per account"
    );
    let logged: Vec<(u64, EventId)> = log.iter().map(|e| (e.position.0, e.event_id)).collect();
    assert_eq!(
        trace.read().seen,
        logged,
        "every event once, in position order"
    );
    let traced_again = ProjectionRunner::new(store.clone(), Trace::default());
    traced_again.catch_up().await.unwrap();
    assert_eq!(*traced_again.read(), *trace.read());

    // Both live runners stop cleanly at the head.
    stop_balances.send(()).unwrap();
    stop_trace.send(()).unwrap();
    assert_eq!(balances_live.await.unwrap().unwrap(), head);
    assert_eq!(trace_live.await.unwrap().unwrap(), head);
}

/// The exact shape: 8 tasks x 2,000 deposits on one account, each task with its own
/// repository under the default retry policy. Every deposit must land (retries absorb the
/// conflicts), the balance is the sum of all of them, and the stream is the opening event
/// plus versions 2..=16,001, gap-free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_deposit_into_one_account_and_every_deposit_lands() {
    let per_task = scaled(2_000);
    let store = MemStore::new();
    let account = AccountId(7);
    open(&store, account, "Busy").await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let repo = Repository::<Account, _>::new(store.clone());
            tokio::spawn(async move {
                let mut sum: Cents = 0;
                let mut retries = 0;
                for i in 0..per_task {
                    let amount = Cents::try_from(task * per_task + i + 1).unwrap();
                    let done = repo
                        .execute(Deposit { account, amount })
                        .await
                        .expect("a deposit always lands (or the test shows the typed error)");
                    sum += amount;
                    retries += done.attempts - 1;
                    if i % 32 == 31 {
                        tokio::task::yield_now().await;
                    }
                }
                (sum, retries)
            })
        })
        .collect();
    let (mut sum, mut retries) = (0, 0);
    for task in tasks {
        let (task_sum, task_retries) = task.await.unwrap();
        sum += task_sum;
        retries += task_retries;
    }
    let commands = TASKS * per_task;
    println!("{commands} deposits from {TASKS} writers, {retries} retries");

    let repository = Repository::<Account, _>::new(store.clone());
    let stream = repository.stream_id(&account).unwrap();
    let stored = store
        .read_stream(&stream, Version(1), usize::MAX)
        .await
        .unwrap();
    let versions: Vec<u64> = stored.iter().map(|e| e.stream_version.0).collect();
    let expected: Vec<u64> = (1..=u64::try_from(commands).unwrap() + 1).collect();
    assert_eq!(
        versions, expected,
        "the opening event, then one version per deposit"
    );
    let loaded = repository.load(&account).await.unwrap();
    assert_eq!(loaded.state.balance(), sum, "no deposit was lost");
}
