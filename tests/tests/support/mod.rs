//! Shared by the stress tests of the in-memory and the PostgreSQL store: the race of many
//! writers on one bank account, and how its commands ended.
// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]
// Test helpers fail loudly on unexpected errors, like the tests.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Instant;

use es_core::codec::JsonCodec;
use es_core::prelude::*;
use es_core::{EventId, Executed, RecordedEvent, RetryPolicy};
use es_examples::bank::{
    Account, AccountError, AccountEvent, AccountId, Cents, CloseAccount, Deposit, MoneyDeposited,
    MoneyWithdrawn, OpenAccount, Withdraw,
};

/// Concurrent writers (tasks, each with its own repository).
pub(crate) const TASKS: usize = 8;

/// The retry policy on the contended aggregate: the default waits, with attempts enough that
/// almost every command wins eventually; the assertions hold whatever the split between
/// successes and conflicts.
pub(crate) const HOT_RETRY: RetryPolicy = RetryPolicy::CONFLICTS.with_max_attempts(65);

/// Opens `account` for `owner` through a repository of its own.
pub(crate) async fn open<S: EventStore>(store: &S, account: AccountId, owner: impl Into<String>) {
    Repository::<Account, _>::new(store.clone())
        .execute(OpenAccount {
            account,
            owner: owner.into(),
        })
        .await
        .unwrap();
}

/// Asserts that `log` has strictly increasing positions, each event id once, and that each
/// stream's versions appear as 1, 2, 3, ... in log order. Returns the streams' versions.
pub(crate) fn assert_log_is_ordered(log: &[RecordedEvent]) -> BTreeMap<String, u64> {
    assert!(
        log.windows(2)
            .all(|pair| pair[0].position < pair[1].position),
        "positions increase along the log"
    );
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
pub(crate) struct Outcomes {
    pub(crate) ok: usize,
    pub(crate) conflicts: usize,
    pub(crate) domain: usize,
    pub(crate) other: Vec<String>,
    /// Sum over successful commands of `attempts - 1`: the retries a conflict forced.
    pub(crate) retries: u64,
    /// Successful commands that needed more than one attempt.
    pub(crate) retried_commands: usize,
    pub(crate) max_attempts: u32,
}

impl Outcomes {
    pub(crate) fn record<T>(
        &mut self,
        result: &Result<Executed<Account>, ExecuteError<T>>,
        policy: RetryPolicy,
    ) where
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
                assert_eq!(
                    *attempts,
                    policy.max_attempts(),
                    "a conflict comes after every attempt the policy allows"
                );
                self.conflicts += 1;
                self.max_attempts = self.max_attempts.max(*attempts);
            }
            Err(ExecuteError::Domain(_)) => self.domain += 1,
            Err(other) => self.other.push(format!("{other:?}")),
        }
    }

    /// Asserts that every command ended in one of the typed outcomes counted.
    pub(crate) fn assert_all_typed(&self) {
        assert!(self.other.is_empty(), "untyped outcomes: {:?}", self.other);
    }

    pub(crate) fn merge(&mut self, other: Self) {
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

/// The race on one account behind the stress tests of every store: one task per store in
/// `stores` (handles on the same log: clones of one store, or stores of their own, each with
/// its own connections), each with its own repository (and so its own cache), makes
/// `per_task` commands on one account, deposits and withdrawals in turn, retrying conflicts
/// under [`HOT_RETRY`]. Asserts that no update was lost and no decision was made on a
/// stale state: the stream holds exactly the acknowledged events, at the versions and
/// positions their commands were told, versions 1..=N; the balance never went below zero;
/// every refusal named a balance the account had; the caches that went stale still decide on
/// the current state. Returns the whole log, for the checks of the store's own log rules.
pub(crate) async fn writers_race_on_one_account<S: EventStore>(
    label: &str,
    stores: Vec<S>,
    per_task: usize,
) -> Vec<RecordedEvent> {
    let tasks_count = stores.len();
    assert!(
        tasks_count >= 4,
        "the end of the race uses four repositories"
    );
    let started = Instant::now();
    let store = stores[0].clone();
    let account = AccountId(1);
    open(&store, account, "Hot").await;

    let tasks: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(task, store)| {
            let repo = Repository::<Account, _>::new(store).with_retry(HOT_RETRY);
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
                    outcomes.record(&result, HOT_RETRY);
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
    let commands = tasks_count * per_task;
    println!(
        "{label}, one hot aggregate: {commands} commands from {tasks_count} tasks in {:?}: {} ok, {} refused \
         (overdraft), {} conflict errors (after {} attempts each), {} retries over {} retried \
         commands, at most {} attempts for one command",
        started.elapsed(),
        outcomes.ok,
        outcomes.domain,
        outcomes.conflicts,
        HOT_RETRY.max_attempts(),
        outcomes.retries,
        outcomes.retried_commands,
        outcomes.max_attempts,
    );
    outcomes.assert_all_typed();
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
    let rest = balance + Cents::try_from(tasks_count).unwrap();
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
    store.read_all(Position::START, usize::MAX).await.unwrap()
}
