//! Read models of the bank domain.

use std::collections::BTreeMap;

use es_core::prelude::*;

use super::{
    Account, AccountClosed, AccountId, AccountOpened, Cents, MoneyDeposited, MoneyWithdrawn,
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
