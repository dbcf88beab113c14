//! Remembered refusals: a command id refused once gets the same refusal every time after,
//! through any repository of the store, without being decided again, also once the state
//! would accept it; and two repositories executing the same command id at once get one
//! answer. On the in-memory store, on PostgreSQL and in an SQLite file.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use es_core::StoreError;
use es_core::prelude::*;
use es_core::testing::hooked::{Hooked, StoreHooks};
use es_examples::bank::{Account, AccountError, AccountId, Deposit, OpenAccount, Withdraw};
use es_memstore::MemStore;
use es_tests::pg_store;

/// How many tests of this binary need PostgreSQL (for the skip notice).
const PG_TESTS: usize = 2;

/// An overdraft refused under a command id stays refused after a deposit would let it
/// through: the same id, asked again (here and through another repository), gets the first
/// refusal, and nothing is appended.
async fn a_refusal_is_answered_again<S: EventStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    let account = AccountId(1);
    accounts
        .execute(OpenAccount {
            account,
            owner: "Ada".into(),
        })
        .await
        .unwrap();
    let overdraft = Withdraw {
        account,
        amount: 100,
    };
    let meta = CommandMeta::new();
    let refusal = AccountError::Overdraw {
        balance: 0,
        requested: 100,
    };
    let first = accounts.execute_with(overdraft.clone(), meta.clone()).await;
    assert!(
        matches!(&first, Err(ExecuteError::Domain(error)) if *error == refusal),
        "{first:?}"
    );
    accounts
        .execute(Deposit {
            account,
            amount: 500,
        })
        .await
        .unwrap();
    let stream = accounts.stream_id(&account).unwrap();
    let version = store.stream_version(&stream).await.unwrap();
    // Decided again, the withdrawal would now be accepted.
    for repository in [
        accounts.clone(),
        Repository::<Account, _>::new(store.clone()),
    ] {
        let again = repository
            .execute_with(overdraft.clone(), meta.clone())
            .await;
        assert!(
            matches!(&again, Err(ExecuteError::Domain(error)) if *error == refusal),
            "the same refusal: {again:?}"
        );
    }
    assert_eq!(
        store.stream_version(&stream).await.unwrap(),
        version,
        "nothing was decided again"
    );
    let loaded = accounts.load(&account).await.unwrap();
    assert_eq!(loaded.state.balance(), 500);
    // A new command id is decided as usual.
    accounts
        .execute_with(overdraft, CommandMeta::new())
        .await
        .unwrap();
    assert_eq!(accounts.load(&account).await.unwrap().state.balance(), 400);
}

/// Two repositories (two workers) execute the same command ids at once, each with a cache
/// of its own, while deposits change the balance under them: each command id gets one answer
/// from both, and a withdrawal appended once at most.
async fn racing_workers_get_one_answer<S: EventStore>(store: S) {
    let account = AccountId(2);
    let setup = Repository::<Account, _>::new(store.clone());
    setup
        .execute(OpenAccount {
            account,
            owner: "Bob".into(),
        })
        .await
        .unwrap();
    let (first, second) = (
        Repository::<Account, _>::new(store.clone()),
        Repository::<Account, _>::new(store.clone()),
    );
    let mut withdrawn = 0;
    for round in 0..30_i64 {
        let meta = CommandMeta::new();
        let withdraw = Withdraw {
            account,
            amount: 10,
        };
        let deposit = setup.execute(Deposit {
            account,
            amount: 10 * (round % 2),
        });
        let (a, b, _) = tokio::join!(
            first.execute_with(withdraw.clone(), meta.clone()),
            second.execute_with(withdraw, meta.clone()),
            deposit,
        );
        match (&a, &b) {
            (Ok(a), Ok(b)) => {
                assert_eq!(
                    (a.stream_version, a.last_position),
                    (b.stream_version, b.last_position),
                    "round {round}: one append"
                );
                assert!(
                    a.duplicate || b.duplicate,
                    "round {round}: one of them is the repeat"
                );
                withdrawn += 10;
            }
            (Err(ExecuteError::Domain(a)), Err(ExecuteError::Domain(b))) => {
                assert_eq!(a, b, "round {round}: one refusal");
            }
            _ => panic!("round {round}: two answers: {a:?} and {b:?}"),
        }
    }
    let events = store
        .read_stream(&setup.stream_id(&account).unwrap(), Version(1), 1000)
        .await
        .unwrap();
    let withdrawals = events
        .iter()
        .filter(|event| &*event.name == "account.withdrawn")
        .count();
    assert_eq!(
        withdrawals * 10,
        withdrawn,
        "every accepted command appended once"
    );
}

/// Right after the repository checks the stream's version before recording a refusal,
/// another worker deposits and executes the refused command under the same command id,
/// accepted now: the refusal meets that append.
#[derive(Clone)]
struct AcceptedMeanwhile {
    withdraw: Withdraw,
    meta: CommandMeta,
    raced: Arc<AtomicBool>,
}

impl StoreHooks<MemStore> for AcceptedMeanwhile {
    async fn stream_version(
        &self,
        inner: &MemStore,
        stream_id: &StreamId,
    ) -> Result<Version, StoreError> {
        let version = inner.stream_version(stream_id).await;
        if !self.raced.swap(true, Ordering::SeqCst) {
            let other = Repository::<Account, _>::new(inner.clone());
            let account = self.withdraw.account;
            other
                .execute(Deposit {
                    account,
                    amount: 500,
                })
                .await
                .unwrap();
            let withdraw = self.withdraw.clone();
            other
                .execute_with(withdraw, self.meta.clone())
                .await
                .unwrap();
        }
        version
    }
}

/// A command refused on a state that its own append (by another worker) has left behind gets
/// that append as its answer, and the refusing repository keeps no state it knows is stale:
/// its next command is decided once.
#[tokio::test]
async fn a_refusal_that_meets_the_commands_append_leaves_no_stale_state() {
    let account = AccountId(3);
    let withdraw = Withdraw {
        account,
        amount: 100,
    };
    let meta = CommandMeta::new();
    let hooks = AcceptedMeanwhile {
        withdraw: withdraw.clone(),
        meta: meta.clone(),
        raced: Arc::default(),
    };
    let accounts = Repository::<Account, _>::new(Hooked::new(MemStore::new(), hooks));
    accounts
        .execute(OpenAccount {
            account,
            owner: "Cy".into(),
        })
        .await
        .unwrap();
    let refused = accounts.execute_with(withdraw, meta).await.unwrap();
    assert!(refused.duplicate, "the other worker's append: {refused:?}");
    assert_eq!(refused.stream_version, Version(3));
    let next = accounts
        .execute(Deposit { account, amount: 1 })
        .await
        .unwrap();
    assert_eq!(
        (next.stream_version, next.attempts),
        (Version(4), 1),
        "decided on the current state"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_again_in_memory() {
    a_refusal_is_answered_again(MemStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_again_on_postgres() {
    if let Some(store) = pg_store(PG_TESTS).await {
        a_refusal_is_answered_again(store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_get_one_answer_in_memory() {
    racing_workers_get_one_answer(MemStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_get_one_answer_on_postgres() {
    if let Some(store) = pg_store(PG_TESTS).await {
        racing_workers_get_one_answer(store).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_again_in_an_sqlite_file() {
    let file = es_tests::ScratchFile::new("refusals");
    let store = es_sqlite::SqliteStore::open(file.path()).await.unwrap();
    a_refusal_is_answered_again(store.clone()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_get_one_answer_in_an_sqlite_file() {
    let file = es_tests::ScratchFile::new("refusal-race");
    let store = es_sqlite::SqliteStore::open(file.path()).await.unwrap();
    racing_workers_get_one_answer(store.clone()).await;
    store.close().await;
}
