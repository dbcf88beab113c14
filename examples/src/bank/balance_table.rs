//! The balance sheet as a table in an SQLite store's file, `bank_balances`: one row per open
//! account with its owner and balance, kept by a
//! [`ProjectionRunner`] into es-sqlite's
//! [`SqliteTables`](es_sqlite::SqliteTables). It holds what the in-memory
//! [`Balances`](super::views::Balances) holds in `open`, and survives the process, so an
//! operator can rebuild it (`bank inspect --sqlite FILE rebuild balance-sheet`).

use std::collections::BTreeMap;

use es_core::StoreError;
use es_core::prelude::*;
use es_sqlite::rusqlite::{self, Connection};
use es_sqlite::{SqliteProjection, SqliteStore};

use super::{
    Account, AccountClosed, AccountId, AccountOpened, Cents, MoneyDeposited, MoneyWithdrawn,
};

/// The changes one batch of account events makes to `bank_balances`. Within a batch, the
/// accounts opened are inserted first, then each account's balance moves by its sum, then
/// the accounts closed are deleted: an account is opened once and closed once, so this is
/// the order of its events.
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(
    name = "balance-sheet",
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed)
)]
pub struct BalanceRows {
    /// The accounts opened, with their owners.
    pub opened: Vec<(AccountId, String)>,
    /// How much each account's balance moved.
    pub moved: BTreeMap<AccountId, Cents>,
    /// The accounts closed.
    pub closed: Vec<AccountId>,
}

impl BalanceRows {
    fn moved(&mut self, meta: &EventMeta, amount: Cents) {
        if let Ok(account) = meta.aggregate_id::<Account>() {
            *self.moved.entry(account).or_default() += amount;
        }
    }
}

impl On<AccountOpened> for BalanceRows {
    fn on(&mut self, event: &AccountOpened, meta: &EventMeta) {
        if let Ok(account) = meta.aggregate_id::<Account>() {
            self.opened.push((account, event.owner.clone()));
        }
    }
}

impl On<MoneyDeposited> for BalanceRows {
    fn on(&mut self, event: &MoneyDeposited, meta: &EventMeta) {
        self.moved(meta, event.amount);
    }
}

impl On<MoneyWithdrawn> for BalanceRows {
    fn on(&mut self, event: &MoneyWithdrawn, meta: &EventMeta) {
        self.moved(meta, -event.amount);
    }
}

impl On<AccountClosed> for BalanceRows {
    fn on(&mut self, _: &AccountClosed, meta: &EventMeta) {
        if let Ok(account) = meta.aggregate_id::<Account>() {
            self.closed.push(account);
        }
    }
}

impl SqliteProjection for BalanceRows {
    fn setup(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS bank_balances (
                 account INTEGER NOT NULL PRIMARY KEY,
                 owner   TEXT    NOT NULL,
                 balance INTEGER NOT NULL
             ) STRICT;",
        )
    }

    fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        let mut insert = conn.prepare_cached(
            "INSERT INTO bank_balances (account, owner, balance) VALUES (?1, ?2, 0)",
        )?;
        for (account, owner) in self.opened {
            insert.execute((account.0, owner))?;
        }
        let mut update = conn
            .prepare_cached("UPDATE bank_balances SET balance = balance + ?2 WHERE account = ?1")?;
        for (account, amount) in self.moved {
            update.execute((account.0, amount))?;
        }
        let mut delete = conn.prepare_cached("DELETE FROM bank_balances WHERE account = ?1")?;
        for account in self.closed {
            delete.execute([account.0])?;
        }
        Ok(())
    }

    fn clear(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("DELETE FROM bank_balances")
    }
}

/// The rows of `bank_balances`: each open account's owner and balance, as
/// [`Balances::open`](super::views::Balances::open) holds them. Empty before the table
/// exists.
///
/// # Errors
/// The store's error when the file cannot be read.
pub async fn balance_rows(
    store: &SqliteStore,
) -> Result<BTreeMap<AccountId, (String, Cents)>, StoreError> {
    store
        .query(|conn| {
            let exists: bool = conn.query_row(
                "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'bank_balances')",
                [],
                |row| row.get(0),
            )?;
            if !exists {
                return Ok(BTreeMap::new());
            }
            let mut select = conn.prepare("SELECT account, owner, balance FROM bank_balances")?;
            let rows = select.query_map([], |row| {
                Ok((AccountId(row.get(0)?), (row.get(1)?, row.get(2)?)))
            })?;
            rows.collect()
        })
        .await
}
