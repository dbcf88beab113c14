//! The benchmark domain: bank accounts, written with the framework's derives.
//!
//! The rules and state changes live in inherent methods ([`Account::decide_deposit`],
//! [`Account::deposited`], ...) that the `Handle`/`Apply` impls call and that the
//! [`baseline`](crate::baseline) calls by hand, so both sides do the same domain work.

use es_core::prelude::*;
use es_core::projection::EventMeta;
use serde::{Deserialize, Serialize};

/// An account's id; account `7` lives in the stream `account-7`.
pub type AccountId = u64;

/// An account was opened.
#[derive(Event, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[event(name = "account.opened")]
pub struct Opened {
    /// Who owns it.
    pub owner: String,
}

/// Money was paid in.
#[derive(Event, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[event(name = "account.deposited")]
pub struct Deposited {
    /// The amount in cents, positive.
    pub amount: i64,
}

/// Money was paid out.
#[derive(Event, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[event(name = "account.withdrawn")]
pub struct Withdrawn {
    /// The amount in cents, positive.
    pub amount: i64,
}

/// Open an account.
#[derive(Command, Debug, Clone)]
pub struct Open {
    /// The account.
    #[id]
    pub account: AccountId,
    /// Who owns it.
    pub owner: String,
}

/// Pay money in.
#[derive(Command, Debug, Clone)]
pub struct Deposit {
    /// The account.
    #[id]
    pub account: AccountId,
    /// The amount in cents.
    pub amount: i64,
}

/// Pay money out.
#[derive(Command, Debug, Clone)]
pub struct Withdraw {
    /// The account.
    #[id]
    pub account: AccountId,
    /// The amount in cents.
    pub amount: i64,
}

/// Why an account command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// The account is open already.
    #[error("the account is open already")]
    AlreadyOpen,
    /// The account has not been opened.
    #[error("the account is not open")]
    NotOpen,
    /// An amount of zero or less.
    #[error("amounts must be positive, got {0}")]
    NonPositive(i64),
    /// A withdrawal larger than the balance.
    #[error("cannot withdraw {requested} from a balance of {balance}")]
    Overdraw {
        /// The balance.
        balance: i64,
        /// The amount asked for.
        requested: i64,
    },
}

/// A bank account. Serde-serializable, so repositories can snapshot it.
#[derive(Aggregate, Default, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[aggregate(name = "account", id = AccountId, error = AccountError,
            events(Opened, Deposited, Withdrawn), commands(Open, Deposit, Withdraw))]
pub struct Account {
    /// Whether it was opened.
    pub open: bool,
    /// Its owner.
    pub owner: String,
    /// The balance in cents.
    pub balance: i64,
    /// How many deposits and withdrawals it saw.
    pub transactions: u64,
}

impl Account {
    /// The rule of [`Open`].
    ///
    /// # Errors
    /// [`AccountError::AlreadyOpen`].
    pub fn decide_open(&self, owner: &str) -> Result<Opened, AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(Opened {
            owner: owner.to_owned(),
        })
    }

    /// The rule of [`Deposit`].
    ///
    /// # Errors
    /// [`AccountError::NotOpen`], [`AccountError::NonPositive`].
    pub fn decide_deposit(&self, amount: i64) -> Result<Deposited, AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if amount <= 0 {
            return Err(AccountError::NonPositive(amount));
        }
        Ok(Deposited { amount })
    }

    /// The rule of [`Withdraw`].
    ///
    /// # Errors
    /// [`AccountError::NotOpen`], [`AccountError::NonPositive`], [`AccountError::Overdraw`].
    pub fn decide_withdraw(&self, amount: i64) -> Result<Withdrawn, AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if amount <= 0 {
            return Err(AccountError::NonPositive(amount));
        }
        if amount > self.balance {
            return Err(AccountError::Overdraw {
                balance: self.balance,
                requested: amount,
            });
        }
        Ok(Withdrawn { amount })
    }

    /// Folds [`Opened`].
    pub fn opened(&mut self, event: &Opened) {
        self.open = true;
        self.owner.clone_from(&event.owner);
    }

    /// Folds [`Deposited`].
    pub fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.transactions += 1;
    }

    /// Folds [`Withdrawn`].
    pub fn withdrawn(&mut self, event: &Withdrawn) {
        self.balance -= event.amount;
        self.transactions += 1;
    }
}

impl Apply<Opened> for Account {
    fn apply(&mut self, event: &Opened) {
        self.opened(event);
    }
}

impl Apply<Deposited> for Account {
    fn apply(&mut self, event: &Deposited) {
        self.deposited(event);
    }
}

impl Apply<Withdrawn> for Account {
    fn apply(&mut self, event: &Withdrawn) {
        self.withdrawn(event);
    }
}

impl Handle<Open> for Account {
    fn handle(&self, cmd: &Open) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![self.decide_open(&cmd.owner)?.into()])
    }
}

impl Handle<Deposit> for Account {
    fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![self.decide_deposit(cmd.amount)?.into()])
    }
}

impl Handle<Withdraw> for Account {
    fn handle(&self, cmd: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![self.decide_withdraw(cmd.amount)?.into()])
    }
}

/// A read model over every account: how many are open, the money they hold, and how many
/// events it has seen.
#[derive(Projection, Default, Debug, Clone, PartialEq, Eq)]
#[projection(name = "ledger", events(Opened, Deposited, Withdrawn))]
pub struct Ledger {
    /// Accounts opened.
    pub accounts: u64,
    /// The sum of all balances, in cents.
    pub total: i64,
    /// Events seen.
    pub events: u64,
}

impl Ledger {
    /// Folds [`Opened`].
    pub fn opened(&mut self, _: &Opened) {
        self.accounts += 1;
        self.events += 1;
    }

    /// Folds [`Deposited`].
    pub fn deposited(&mut self, event: &Deposited) {
        self.total += event.amount;
        self.events += 1;
    }

    /// Folds [`Withdrawn`].
    pub fn withdrawn(&mut self, event: &Withdrawn) {
        self.total -= event.amount;
        self.events += 1;
    }
}

impl On<Opened> for Ledger {
    fn on(&mut self, event: &Opened, _: &EventMeta) {
        self.opened(event);
    }
}

impl On<Deposited> for Ledger {
    fn on(&mut self, event: &Deposited, _: &EventMeta) {
        self.deposited(event);
    }
}

impl On<Withdrawn> for Ledger {
    fn on(&mut self, event: &Withdrawn, _: &EventMeta) {
        self.withdrawn(event);
    }
}
