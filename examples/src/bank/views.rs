//! Read models of the bank domain: [`Balances`], the balance sheet; [`Accounts`], each
//! account as the web service shows it; [`Transfers`], each transfer and where it stands.

use std::collections::{BTreeMap, HashMap};

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

use super::transfer::{
    Transfer, TransferCancelled, TransferCompleted, TransferId, TransferRequested, TransferStatus,
};
use super::{
    Account, AccountClosed, AccountFrozen, AccountId, AccountOpened, AccountUnfrozen, Cents,
    MoneyDeposited, MoneyWithdrawn,
};

/// Balances of open accounts, and the bank's totals.
///
/// The events do not carry the account's id: it is read from the stream of each event
/// (`meta.aggregate_id::<Account>()`, `account-7` → `AccountId(7)`).
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(
    name = "balances",
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed)
)]
pub struct Balances {
    /// Owner and balance of each open account.
    pub open: BTreeMap<AccountId, (String, Cents)>,
    /// Money held across all accounts.
    pub total: Cents,
    /// Accounts closed.
    pub closed: u32,
}

impl Balances {
    /// The account whose stream delivered `meta`, or `None` for a stream that is not an
    /// account's: the `account.*` events are only ever appended by [`Account`], so such an
    /// event is skipped.
    fn account(meta: &EventMeta) -> Option<AccountId> {
        meta.aggregate_id::<Account>().ok()
    }

    fn balance(&mut self, meta: &EventMeta) -> Option<&mut Cents> {
        let account = Self::account(meta)?;
        self.open.get_mut(&account).map(|(_, balance)| balance)
    }
}

impl On<AccountOpened> for Balances {
    fn on(&mut self, event: &AccountOpened, meta: &EventMeta) {
        if let Some(account) = Self::account(meta) {
            self.open.insert(account, (event.owner.clone(), 0));
        }
    }
}

impl On<MoneyDeposited> for Balances {
    fn on(&mut self, event: &MoneyDeposited, meta: &EventMeta) {
        if let Some(balance) = self.balance(meta) {
            *balance += event.amount;
        }
        self.total += event.amount;
    }
}

impl On<MoneyWithdrawn> for Balances {
    fn on(&mut self, event: &MoneyWithdrawn, meta: &EventMeta) {
        if let Some(balance) = self.balance(meta) {
            *balance -= event.amount;
        }
        self.total -= event.amount;
    }
}

impl On<AccountClosed> for Balances {
    fn on(&mut self, _: &AccountClosed, meta: &EventMeta) {
        if let Some(account) = Self::account(meta) {
            self.open.remove(&account);
        }
        self.closed += 1;
    }
}

/// Every account ever opened, closed ones included: owner, balance, state, and the version
/// of the account's stream the view has reached.
///
/// The version lets a client check that the view holds its own write: a command answered
/// with stream version `v` is in the view once the account's `version` is `v` or more.
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(
    name = "accounts",
    events(
        AccountOpened,
        MoneyDeposited,
        MoneyWithdrawn,
        AccountFrozen,
        AccountUnfrozen,
        AccountClosed
    )
)]
pub struct Accounts {
    /// Each account, by id.
    pub accounts: BTreeMap<AccountId, AccountSummary>,
}

/// One account in [`Accounts`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSummary {
    /// Who owns it.
    pub owner: String,
    /// The balance in cents.
    pub balance: Cents,
    /// Whether money is kept from moving in or out.
    pub frozen: bool,
    /// Whether it was closed.
    pub closed: bool,
    /// The version of the account's stream at the last event seen.
    pub version: Version,
}

impl Accounts {
    /// Money held across all accounts.
    #[must_use]
    pub fn total(&self) -> Cents {
        self.accounts.values().map(|account| account.balance).sum()
    }

    /// The account of `meta`'s stream, brought to `meta`'s version; `None` for a stream that
    /// is not an account's, or an account whose opening the view has not seen.
    fn seen(&mut self, meta: &EventMeta) -> Option<&mut AccountSummary> {
        let id = meta.aggregate_id::<Account>().ok()?;
        let account = self.accounts.get_mut(&id)?;
        account.version = meta.stream_version;
        Some(account)
    }
}

impl On<AccountOpened> for Accounts {
    fn on(&mut self, event: &AccountOpened, meta: &EventMeta) {
        if let Ok(id) = meta.aggregate_id::<Account>() {
            let account = AccountSummary {
                owner: event.owner.clone(),
                version: meta.stream_version,
                ..AccountSummary::default()
            };
            self.accounts.insert(id, account);
        }
    }
}

impl On<MoneyDeposited> for Accounts {
    fn on(&mut self, event: &MoneyDeposited, meta: &EventMeta) {
        if let Some(account) = self.seen(meta) {
            account.balance += event.amount;
        }
    }
}

impl On<MoneyWithdrawn> for Accounts {
    fn on(&mut self, event: &MoneyWithdrawn, meta: &EventMeta) {
        if let Some(account) = self.seen(meta) {
            account.balance -= event.amount;
        }
    }
}

impl On<AccountFrozen> for Accounts {
    fn on(&mut self, _: &AccountFrozen, meta: &EventMeta) {
        if let Some(account) = self.seen(meta) {
            account.frozen = true;
        }
    }
}

impl On<AccountUnfrozen> for Accounts {
    fn on(&mut self, _: &AccountUnfrozen, meta: &EventMeta) {
        if let Some(account) = self.seen(meta) {
            account.frozen = false;
        }
    }
}

impl On<AccountClosed> for Accounts {
    fn on(&mut self, _: &AccountClosed, meta: &EventMeta) {
        if let Some(account) = self.seen(meta) {
            account.closed = true;
        }
    }
}

/// Every transfer requested, and where it stands.
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(
    name = "transfers",
    events(TransferRequested, TransferCompleted, TransferCancelled)
)]
pub struct Transfers {
    /// Each transfer, by id.
    pub transfers: HashMap<TransferId, TransferSummary>,
}

/// One transfer in [`Transfers`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferSummary {
    /// The account paying.
    pub from: AccountId,
    /// The account paid.
    pub to: AccountId,
    /// The amount in cents.
    pub amount: Cents,
    /// Pending, completed or cancelled.
    pub status: TransferStatus,
    /// Why it was cancelled.
    pub reason: Option<String>,
    /// The position of the transfer's last event in the log. The money of a transfer that
    /// ended has moved before this position: an account read at it or later shows the
    /// transfer's withdrawal and deposit.
    pub position: Position,
}

impl Transfers {
    fn seen(&mut self, meta: &EventMeta) -> Option<&mut TransferSummary> {
        let id = meta.aggregate_id::<Transfer>().ok()?;
        let transfer = self.transfers.get_mut(&id)?;
        transfer.position = meta.position;
        Some(transfer)
    }
}

impl On<TransferRequested> for Transfers {
    fn on(&mut self, event: &TransferRequested, meta: &EventMeta) {
        if let Ok(id) = meta.aggregate_id::<Transfer>() {
            let transfer = TransferSummary {
                from: event.from,
                to: event.to,
                amount: event.amount,
                status: TransferStatus::Pending,
                reason: None,
                position: meta.position,
            };
            self.transfers.insert(id, transfer);
        }
    }
}

impl On<TransferCompleted> for Transfers {
    fn on(&mut self, _: &TransferCompleted, meta: &EventMeta) {
        if let Some(transfer) = self.seen(meta) {
            transfer.status = TransferStatus::Completed;
        }
    }
}

impl On<TransferCancelled> for Transfers {
    fn on(&mut self, event: &TransferCancelled, meta: &EventMeta) {
        if let Some(transfer) = self.seen(meta) {
            transfer.status = TransferStatus::Cancelled;
            transfer.reason = Some(event.reason.clone());
        }
    }
}
