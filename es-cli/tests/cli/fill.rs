//! SQLite stores filled by the bank domain, for the inspectors to look into.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use es_core::codec::JsonCodec;
use es_core::event::encode_event;
use es_core::prelude::*;
use es_core::process::ManualClock;
use es_core::{NewEvent, StreamId};
use es_examples::bank::balance_table::BalanceRows;
use es_examples::bank::process::workflow;
use es_examples::bank::transfer::{RequestTransfer, Transfer, TransferId};
use es_examples::bank::{
    Account, AccountId, AccountOpened, Deposit, FreezeAccount, MoneyDeposited, OpenAccount,
    Withdraw,
};
use es_sqlite::{SqliteStore, SqliteTables};

/// The directory of this run's store files.
fn files_dir() -> PathBuf {
    std::env::temp_dir().join(format!("es-cli-tests-{}", std::process::id()))
}

/// Removes this run's store files.
pub(crate) fn remove_files() {
    let _ = std::fs::remove_dir_all(files_dir());
}

/// A fresh path for a store file, in a directory of this run's own.
pub(crate) fn fresh_file(name: &str) -> PathBuf {
    let dir = files_dir();
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// The bank's day: accounts 1 to 3 opened (3 frozen), money deposited and withdrawn, a
/// transfer from 1 to 2 completed and one from 1 to 3 waiting for 3 to be unfrozen (its
/// process manager's retry timer is due: its clock stands an hour back). The balance sheet
/// table and the transfer process are caught up.
pub(crate) async fn bank_day(path: &Path) -> SqliteStore {
    let store = SqliteStore::open(path).await.expect("the store opens");
    let accounts = Repository::<Account, _>::new(store.clone());
    let transfers = Repository::<Transfer, _>::new(store.clone());
    for (id, owner) in [(1, "Alice"), (2, "Bob"), (3, "Dave")] {
        let account = AccountId(id);
        accounts
            .execute(OpenAccount {
                account,
                owner: owner.into(),
            })
            .await
            .expect("opened");
    }
    accounts
        .execute(Deposit {
            account: AccountId(1),
            amount: 10_000,
        })
        .await
        .expect("deposited");
    accounts
        .execute(Withdraw {
            account: AccountId(1),
            amount: 2_500,
        })
        .await
        .expect("withdrawn");
    accounts
        .execute(FreezeAccount {
            account: AccountId(3),
        })
        .await
        .expect("frozen");
    for (to, amount) in [(2, 1_500), (3, 300)] {
        let request = RequestTransfer {
            transfer: TransferId::new(),
            from: AccountId(1),
            to: AccountId(to),
            amount,
        };
        transfers.execute(request).await.expect("requested");
    }
    let clock = ManualClock::new(SystemTime::now() - Duration::from_secs(3600));
    let process = ProjectionRunner::new(store.clone(), workflow(&store).with_clock(clock));
    process
        .catch_up()
        .await
        .expect("the transfers are carried out");
    let sheet = ProjectionRunner::new(
        store.clone(),
        SqliteTables::<BalanceRows>::new(store.clone()),
    );
    sheet
        .catch_up()
        .await
        .expect("the balance sheet is caught up");
    store
}

/// `events` account events appended straight to the store, in appends of 10,000: 100
/// accounts, each opened, then deposits of 1 cent to 100 cents spread over them.
pub(crate) async fn many_events(path: &Path, events: u64) -> SqliteStore {
    let options = es_sqlite::SqliteOptions::new().with_durability(es_sqlite::Durability::Normal);
    let store = SqliteStore::open_with(path, options)
        .await
        .expect("the store opens");
    const ACCOUNTS: u64 = 100;
    const APPEND: u64 = 10_000;
    let per_account = events / ACCOUNTS;
    for account in 1..=ACCOUNTS {
        let stream = StreamId::new(format!("account-{account}")).expect("a stream id");
        let opened = AccountOpened {
            owner: format!("owner {account}"),
        };
        let mut batch = vec![NewEvent::new(
            encode_event(&JsonCodec, &opened).expect("encodes"),
        )];
        for index in 1..per_account {
            let deposit = MoneyDeposited {
                amount: (index % 100 + 1) as i64,
            };
            batch.push(NewEvent::new(
                encode_event(&JsonCodec, &deposit).expect("encodes"),
            ));
            if batch.len() as u64 == APPEND {
                let full = std::mem::take(&mut batch);
                store
                    .append(&stream, ExpectedVersion::Any, full)
                    .await
                    .expect("appended");
            }
        }
        if !batch.is_empty() {
            store
                .append(&stream, ExpectedVersion::Any, batch)
                .await
                .expect("appended");
        }
    }
    store
}
