//! Process managers' timers, with an injected clock: a timer fires after a restart when it
//! came due meanwhile, fires once, never before its time, and a cancelled one never fires.
//! On the in-memory store and on PostgreSQL; and on PostgreSQL with two runners on separate
//! connection pools (as two processes would be), live at once: each timer fires once.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime};

use es_core::prelude::*;
use es_core::process::{ManualClock, ProcessStore, Workflow};
use es_examples::bank::process::{DEADLINE, RETRY_CREDIT, Step, TransferProcess, workflow};
use es_examples::bank::transfer::{RequestTransfer, Transfer, TransferId, TransferStatus};
use es_examples::bank::{Account, AccountId, Deposit, FreezeAccount, OpenAccount, UnfreezeAccount};
use es_memstore::MemStore;
use es_postgres::{PgStore, PgStoreOptions, testing};

/// How many tests of this binary need PostgreSQL (for the skip notice).
const PG_TESTS: usize = 2;

const WITHIN: Duration = Duration::from_secs(20);

fn runner<S: ProcessStore>(
    store: &S,
    clock: &ManualClock,
) -> ProjectionRunner<Workflow<TransferProcess, S>, S> {
    let workflow = workflow(store)
        .with_clock(clock.clone())
        .with_poll_interval(Duration::from_millis(20));
    ProjectionRunner::new(store.clone(), workflow)
}

/// Opens `id` with `amount` (none when zero).
async fn open<S: EventStore>(store: &S, id: u32, amount: i64) {
    let accounts = Repository::<Account, _>::new(store.clone());
    let account = AccountId(id);
    accounts
        .execute(OpenAccount {
            account,
            owner: format!("owner {id}"),
        })
        .await
        .unwrap();
    if amount > 0 {
        accounts.execute(Deposit { account, amount }).await.unwrap();
    }
}

async fn request<S: EventStore>(store: &S, from: u32, to: u32, amount: i64) -> TransferId {
    let transfer = TransferId::new();
    Repository::<Transfer, _>::new(store.clone())
        .execute(RequestTransfer {
            transfer,
            from: AccountId(from),
            to: AccountId(to),
            amount,
        })
        .await
        .unwrap();
    transfer
}

async fn balance<S: EventStore>(store: &S, id: u32) -> i64 {
    Repository::<Account, _>::new(store.clone())
        .load(&AccountId(id))
        .await
        .unwrap()
        .state
        .balance()
}

async fn status<S: EventStore>(store: &S, transfer: TransferId) -> TransferStatus {
    Repository::<Transfer, _>::new(store.clone())
        .load(&transfer)
        .await
        .unwrap()
        .state
        .status()
}

async fn timers_fire_once_on_time_and_after_restarts<S: ProcessStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    open(&store, 1, 1_000).await;
    open(&store, 2, 0).await;
    accounts
        .execute(FreezeAccount {
            account: AccountId(2),
        })
        .await
        .unwrap();
    let clock = ManualClock::new(SystemTime::now());
    let transfer = request(&store, 1, 2, 100).await;

    let first = runner(&store, &clock);
    first.catch_up().await.unwrap();
    let instance = first.target().instance(&transfer).await.unwrap().unwrap();
    assert_eq!(
        (&instance.step, instance.credit_attempts),
        (&Step::Crediting, 1),
        "withdrawn; the deposit refused by the frozen account"
    );
    assert_eq!(balance(&store, 1).await, 900);

    // Never before its time: a restart just before the retry is due fires nothing.
    clock.advance(RETRY_CREDIT - Duration::from_secs(2));
    let restarted = runner(&store, &clock);
    restarted.catch_up().await.unwrap();
    let attempts = |p: TransferProcess| p.credit_attempts;
    assert_eq!(
        restarted
            .target()
            .instance(&transfer)
            .await
            .unwrap()
            .map(attempts),
        Some(1)
    );

    // Due while no runner was running: the next one fires it, once.
    clock.advance(Duration::from_secs(3));
    let restarted = runner(&store, &clock);
    restarted.catch_up().await.unwrap();
    restarted.catch_up().await.unwrap();
    runner(&store, &clock).catch_up().await.unwrap();
    assert_eq!(
        restarted
            .target()
            .instance(&transfer)
            .await
            .unwrap()
            .map(attempts),
        Some(2),
        "fired once, by whichever runner came first"
    );

    // Unfrozen: the next retry goes through, and the deadline is cancelled.
    accounts
        .execute(UnfreezeAccount {
            account: AccountId(2),
        })
        .await
        .unwrap();
    clock.advance(RETRY_CREDIT);
    restarted.catch_up().await.unwrap();
    assert_eq!(status(&store, transfer).await, TransferStatus::Completed);
    assert!(
        restarted
            .target()
            .instance(&transfer)
            .await
            .unwrap()
            .is_none(),
        "finished"
    );
    clock.advance(DEADLINE * 2);
    runner(&store, &clock).catch_up().await.unwrap();
    assert_eq!(
        (balance(&store, 1).await, balance(&store, 2).await),
        (900, 100)
    );
    assert_eq!(
        status(&store, transfer).await,
        TransferStatus::Completed,
        "the cancelled deadline never fired"
    );

    // A transfer to an account frozen for good: retried every 30 s until the deadline, then
    // paid back. (The clock back at the time the store records events.)
    clock.set(SystemTime::now());
    open(&store, 3, 0).await;
    accounts
        .execute(FreezeAccount {
            account: AccountId(3),
        })
        .await
        .unwrap();
    let stuck = request(&store, 1, 3, 250).await;
    let live = runner(&store, &clock);
    live.catch_up().await.unwrap();
    assert_eq!(balance(&store, 1).await, 650);
    clock.advance(DEADLINE + Duration::from_secs(1));
    live.catch_up().await.unwrap();
    assert_eq!(status(&store, stuck).await, TransferStatus::Cancelled);
    assert_eq!(balance(&store, 1).await, 900, "paid back");
    assert_eq!(balance(&store, 3).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_on_time_and_after_restarts_in_memory() {
    timers_fire_once_on_time_and_after_restarts(MemStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_on_time_and_after_restarts_in_an_sqlite_file() {
    let file = es_tests::ScratchFile::new("timers");
    let store = es_sqlite::SqliteStore::open(file.path()).await.unwrap();
    timers_fire_once_on_time_and_after_restarts(store.clone()).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timers_fire_once_on_time_and_after_restarts_on_postgres() {
    let Some(store) = es_tests::pg_store(PG_TESTS).await else {
        return;
    };
    timers_fire_once_on_time_and_after_restarts(store).await;
}

/// Two runners, each on a connection pool of its own, run live at once over one schema
/// while the clock moves: transfers into frozen accounts are retried every 30 s and paid back
/// at the deadline. Each timer fires once: every instance counts exactly the retries the
/// clock allows, and each transfer is paid back once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runners_on_one_database_fire_each_timer_once() {
    const TRANSFERS: u32 = 6;
    let Some(database) = testing::database_or_skip(PG_TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let other = PgStore::from_pool_with(
        database.pool().await.expect("another pool"),
        PgStoreOptions::new().with_schema(store.schema().clone()),
    );
    let accounts = Repository::<Account, _>::new(store.clone());
    open(&store, 1, 10_000).await;
    let mut transfers = Vec::new();
    for i in 0..TRANSFERS {
        let to = 10 + i;
        open(&store, to, 0).await;
        accounts
            .execute(FreezeAccount {
                account: AccountId(to),
            })
            .await
            .unwrap();
        transfers.push(request(&store, 1, to, 100).await);
    }
    let clock = ManualClock::new(SystemTime::now());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let live: Vec<_> = [runner(&store, &clock), runner(&other, &clock)]
        .into_iter()
        .map(|runner| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                runner
                    .run(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            })
        })
        .collect();
    let probe = runner(&store, &clock);
    let attempts = |probe: &ProjectionRunner<Workflow<TransferProcess, PgStore>, PgStore>| {
        let probe = probe.clone();
        let transfers = transfers.clone();
        async move {
            let mut all = Vec::new();
            for transfer in &transfers {
                let instance = probe.target().instance(transfer).await.unwrap();
                all.push(instance.map(|p| p.credit_attempts));
            }
            all
        }
    };
    // Every deposit refused once; then the clock moves one retry at a time.
    for expected in 1..=4_u32 {
        tokio::time::timeout(WITHIN, async {
            loop {
                let seen = attempts(&probe).await;
                if seen.iter().all(|a| *a == Some(expected)) {
                    break;
                }
                assert!(
                    seen.iter().all(|a| a.is_none_or(|a| a <= expected)),
                    "a retry fired twice or early: {seen:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("retry {expected} fired"));
        clock.advance(RETRY_CREDIT);
    }
    clock.advance(DEADLINE);
    tokio::time::timeout(WITHIN, async {
        loop {
            let mut ended = 0;
            for transfer in &transfers {
                if status(&store, *transfer).await == TransferStatus::Cancelled {
                    ended += 1;
                }
            }
            if ended == transfers.len() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every transfer paid back at its deadline");
    stop.send(true).unwrap();
    for task in live {
        task.await.unwrap().unwrap();
    }
    assert_eq!(balance(&store, 1).await, 10_000, "each paid back once");
    let log = store.read_all(Position::START, usize::MAX).await.unwrap();
    let refunds = log
        .iter()
        .filter(|e| &*e.name == "account.deposited" && e.stream_id.as_str() == "account-1")
        .count();
    assert_eq!(
        refunds,
        1 + TRANSFERS as usize,
        "the first deposit, then one refund each"
    );
}
