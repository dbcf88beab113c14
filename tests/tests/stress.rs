//! Concurrency stress on a multi-threaded runtime: many writers on one aggregate (no lost
//! update, no version gap, every outcome typed), and many aggregates written in parallel
//! while live projections follow the log (the live read models equal a rebuild, and the
//! global log is contiguous and duplicate-free).
//!
//! Sizes scale with `ES_TEST_SCALE` (see `es_tests::scaled`); run with `--nocapture` to see
//! the conflicts and retries observed.
// Test helpers outside `#[test]` fns fail loudly on unexpected errors, like the tests.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::{Duration, Instant};

use es_core::codec::JsonCodec;
use es_core::prelude::*;
use es_core::{EventId, Executed, RecordedEvent};
use es_examples::bank::views::Balances;
use es_examples::bank::{
    Account, AccountClosed, AccountError, AccountEvent, AccountId, AccountOpened, Cents,
    CloseAccount, Deposit, MoneyDeposited, MoneyWithdrawn, OpenAccount, Withdraw,
};
use es_memstore::MemStore;
use es_tests::scaled;
use tokio::sync::oneshot;

/// Concurrent writers (tasks, each with its own repository).
const TASKS: usize = 8;

/// Retries per command on the contended aggregate: enough that almost every command wins
/// eventually, but the assertions hold whatever the split between successes and conflicts.
const HOT_RETRIES: u32 = 64;

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
    let ids: HashSet<EventId> = log.iter().map(|e| e.event_id).collect();
    assert_eq!(ids.len(), log.len(), "no event id is stored twice");
    let mut versions = BTreeMap::<String, u64>::new();
    for event in log {
        let version = versions.entry(event.stream_id.to_string()).or_default();
        *version += 1;
        assert_eq!(
            event.stream_version,
            Version(*version),
            "stream {} has a gap or a repeat at position {}",
            event.stream_id,
            event.position
        );
    }
    versions
}

/// How the commands of a run ended, by kind.
#[derive(Debug, Default)]
struct Outcomes {
    ok: usize,
    conflicts: usize,
    domain: usize,
    other: Vec<String>,
    /// Sum over successful commands of `attempts - 1`: the retries a conflict forced.
    retries: u64,
    /// Successful commands that needed more than one attempt.
    retried_commands: usize,
    max_attempts: u32,
}

impl Outcomes {
    fn record<T>(&mut self, result: &Result<Executed<Account>, ExecuteError<T>>, retries: u32)
    where
        T: std::fmt::Debug,
    {
        match result {
            Ok(done) => {
                assert!(done.attempts >= 1, "a decided command has attempts >= 1");
                assert!(!done.duplicate, "execute draws a fresh command id");
                self.ok += 1;
                self.retries += u64::from(done.attempts - 1);
                self.retried_commands += usize::from(done.attempts > 1);
                self.max_attempts = self.max_attempts.max(done.attempts);
            }
            Err(ExecuteError::Conflict { attempts, .. }) => {
                assert_eq!(*attempts, retries + 1, "a conflict comes after every retry");
                self.conflicts += 1;
                self.max_attempts = self.max_attempts.max(*attempts);
            }
            Err(ExecuteError::Domain(_)) => self.domain += 1,
            Err(other) => self.other.push(format!("{other:?}")),
        }
    }

    fn merge(&mut self, other: Self) {
        self.ok += other.ok;
        self.conflicts += other.conflicts;
        self.domain += other.domain;
        self.other.extend(other.other);
        self.retries += other.retries;
        self.retried_commands += other.retried_commands;
        self.max_attempts = self.max_attempts.max(other.max_attempts);
    }
}

/// A deposit or withdrawal that one task made and the store acknowledged.
#[derive(Debug)]
struct Acknowledged {
    event: AccountEvent,
    version: Version,
    position: Position,
}

/// Opens `account` for `owner` through a repository of its own.
async fn open(store: &MemStore, account: AccountId, owner: impl Into<String>) {
    Repository::<Account, _>::new(store.clone())
        .execute(OpenAccount {
            account,
            owner: owner.into(),
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_on_one_aggregate_lose_no_update_and_leave_no_gap() {
    let per_task = scaled(2_000);
    let started = Instant::now();
    let store = MemStore::new();
    let account = AccountId(1);
    open(&store, account, "Hot").await;

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            // Each task has its own repository (and so its own cache) on the shared store.
            let repo = Repository::<Account, _>::new(store.clone()).max_retries(HOT_RETRIES);
            tokio::spawn(async move {
                let mut outcomes = Outcomes::default();
                let mut acknowledged = Vec::new();
                let mut overdrafts = Vec::new();
                for i in 0..per_task {
                    // Unique amounts, so that stored events match acknowledged commands one to
                    // one. A withdrawal takes about two and a half deposits: the balance stays
                    // low, and a withdrawal decided on a stale balance would overdraw it.
                    let tag = Cents::try_from(task * per_task + i).unwrap();
                    let result = if i % 2 == 0 {
                        let amount = 100_000 + tag;
                        repo.execute(Deposit { account, amount }).await
                    } else {
                        let amount = 250_000 + tag;
                        repo.execute(Withdraw { account, amount }).await
                    };
                    outcomes.record(&result, HOT_RETRIES);
                    match result {
                        Ok(mut done) => {
                            assert_eq!(done.events.len(), 1, "one event per command");
                            acknowledged.push(Acknowledged {
                                event: done.events.remove(0),
                                version: done.stream_version,
                                position: done.last_position.expect("an event was appended"),
                            });
                        }
                        Err(ExecuteError::Domain(AccountError::Overdraw {
                            balance,
                            requested,
                        })) => {
                            overdrafts.push((balance, requested));
                        }
                        Err(_) => {}
                    }
                    if i % 32 == 31 {
                        tokio::task::yield_now().await;
                    }
                }
                (repo, outcomes, acknowledged, overdrafts)
            })
        })
        .collect();

    let mut outcomes = Outcomes::default();
    let mut acknowledged = Vec::new();
    let mut overdrafts = Vec::new();
    let mut repos = Vec::new();
    for task in tasks {
        let (repo, task_outcomes, task_acknowledged, task_overdrafts) = task.await.unwrap();
        repos.push(repo);
        outcomes.merge(task_outcomes);
        acknowledged.extend(task_acknowledged);
        overdrafts.extend(task_overdrafts);
    }
    let commands = TASKS * per_task;
    println!(
        "one hot aggregate: {commands} commands from {TASKS} tasks in {:?}: {} ok, {} refused \
         (overdraft), {} conflict errors (after {} attempts each), {} retries over {} retried \
         commands, at most {} attempts for one command",
        started.elapsed(),
        outcomes.ok,
        outcomes.domain,
        outcomes.conflicts,
        HOT_RETRIES + 1,
        outcomes.retries,
        outcomes.retried_commands,
        outcomes.max_attempts,
    );
    assert!(
        outcomes.other.is_empty(),
        "untyped outcomes: {:?}",
        outcomes.other
    );
    assert_eq!(
        outcomes.domain,
        overdrafts.len(),
        "overdrafts are the only refusals"
    );
    assert_eq!(
        outcomes.ok + outcomes.domain + outcomes.conflicts,
        commands,
        "every command has an outcome"
    );
    assert_eq!(acknowledged.len(), outcomes.ok);

    // The stream holds the opening and exactly the acknowledged events, each at the version
    // and position its command was told, with versions 1..=N.
    let stream = StreamId::new("account-1").unwrap();
    let stored = store
        .read_stream(&stream, Version(1), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        stored.len(),
        1 + outcomes.ok,
        "one event per successful command"
    );
    let versions: Vec<u64> = stored.iter().map(|e| e.stream_version.0).collect();
    let expected_versions: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(versions, expected_versions, "versions 1..=N, no gap");
    assert_log_is_contiguous(&whole_log(&store).await);
    let mut by_version = BTreeMap::new();
    for event in &stored[1..] {
        let decoded = AccountEvent::decode(&JsonCodec, event).unwrap();
        by_version.insert(event.stream_version, (decoded, event.position));
    }
    for ack in &acknowledged {
        assert_eq!(
            by_version.get(&ack.version),
            Some(&(ack.event.clone(), ack.position)),
            "{:?} is stored where its command said",
            ack.event
        );
    }
    assert_eq!(by_version.len(), acknowledged.len(), "nothing extra stored");

    // No decision was made on a stale state: the balance never went below zero, and every
    // refusal named a balance the account really had, smaller than the amount asked for.
    let mut balance: Cents = 0;
    let mut balances = BTreeSet::from([0]);
    for (event, _) in by_version.values() {
        match event {
            AccountEvent::MoneyDeposited(MoneyDeposited { amount }) => balance += amount,
            AccountEvent::MoneyWithdrawn(MoneyWithdrawn { amount }) => balance -= amount,
            other => panic!("only deposits and withdrawals were made, found {other:?}"),
        }
        assert!(balance >= 0, "overdrawn to {balance}: a lost update");
        balances.insert(balance);
    }
    for (refused_at, requested) in &overdrafts {
        assert!(refused_at < requested);
        assert!(
            balances.contains(refused_at),
            "refused on a balance of {refused_at}, which the account never had"
        );
    }
    let loaded = Repository::<Account, _>::new(store.clone())
        .load(&account)
        .await
        .unwrap();
    assert_eq!(loaded.state.balance(), balance);
    assert_eq!(loaded.version.0, stored.len() as u64);

    // Every task's repository (with a cache that is stale by the others' writes) still
    // decides on the current state: one deposit each, then one of them empties the account
    // (refused on any stale balance), another is refused a cent, and another closes it.
    let mut version = loaded.version;
    for repo in &repos {
        let done = repo.execute(Deposit { account, amount: 1 }).await.unwrap();
        version = version.next();
        assert_eq!(done.stream_version, version);
    }
    let rest = balance + Cents::try_from(TASKS).unwrap();
    repos[0]
        .execute(Withdraw {
            account,
            amount: rest,
        })
        .await
        .unwrap();
    match repos[1].execute(Withdraw { account, amount: 1 }).await {
        Err(ExecuteError::Domain(AccountError::Overdraw { balance: 0, .. })) => {}
        other => panic!("the account is empty, got {other:?}"),
    }
    repos[2].execute(CloseAccount { account }).await.unwrap();
    let closed = repos[3].load(&account).await.unwrap();
    assert!(closed.state.is_closed());
    assert_eq!(closed.state.balance(), 0);
    assert_eq!(closed.version, Version(version.0 + 2));
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
    open: BTreeMap<String, (String, Cents)>,
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
            let repo = Repository::<Account, _>::new(store.clone()).max_retries(HOT_RETRIES);
            let balances = balances.clone();
            tokio::spawn(async move {
                let mut done = Workload::default();
                let record = |done: &mut Workload, result| {
                    done.outcomes.record(&result, HOT_RETRIES);
                    result
                };
                for i in 0..per_task {
                    let account = AccountId(u32::try_from(task * per_task + i + 1).unwrap());
                    let n = Cents::from(account.0);
                    let stream = format!("account-{account}");
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
                        done.open.insert(stream.clone(), (owner(account), balance));
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
                            view.open.get(&stream).map(|(_, balance)| *balance),
                            (balance > 0).then_some(balance),
                            "{stream} as seen after waiting for its last write"
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
    assert!(
        outcomes.other.is_empty(),
        "untyped outcomes: {:?}",
        outcomes.other
    );
    assert_eq!(
        outcomes.domain,
        TASKS * per_task,
        "only the overdrafts were refused"
    );
    expected
        .open
        .insert(format!("account-{SHARED}"), (owner(SHARED), shared_total));
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
/// repository. Every deposit must land (retries absorb the conflicts), the balance is the sum
/// of all of them, and the stream is the opening event plus versions 2..=16,001, gap-free.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_deposit_into_one_account_and_every_deposit_lands() {
    let per_task = scaled(2_000);
    let store = MemStore::new();
    let account = AccountId(7);
    open(&store, account, "Busy").await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let repo = Repository::<Account, _>::new(store.clone()).max_retries(10_000);
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
