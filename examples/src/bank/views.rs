//! Read models of the bank domain.

use std::collections::BTreeMap;

use es_core::prelude::*;

use super::{AccountClosed, AccountOpened, Cents, MoneyDeposited, MoneyWithdrawn};

/// Balances of open accounts, by stream, and the bank's totals.
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(
    name = "balances",
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountClosed)
)]
pub struct Balances {
    /// Owner and balance of each open account, by stream id (`account-7`).
    pub open: BTreeMap<String, (String, Cents)>,
    /// Money held across all accounts.
    pub total: Cents,
    /// Accounts closed.
    pub closed: u32,
}

impl Balances {
    fn balance(&mut self, meta: &EventMeta) -> Option<&mut Cents> {
        self.open
            .get_mut(meta.stream_id.as_str())
            .map(|(_, balance)| balance)
    }
}

impl On<AccountOpened> for Balances {
    fn on(&mut self, event: &AccountOpened, meta: &EventMeta) {
        self.open
            .insert(meta.stream_id.to_string(), (event.owner.clone(), 0));
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
        self.open.remove(meta.stream_id.as_str());
        self.closed += 1;
    }
}
