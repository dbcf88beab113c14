//! The bank account domain: accounts are opened for an owner, take deposits and withdrawals,
//! are frozen for a while, and are closed. Amounts are whole cents and must be positive; a
//! withdrawal that would overdraw the account is refused, so is closing an account that still
//! holds money, and so is moving money in or out of a frozen account. Money moves between
//! accounts through [`transfer`]s, which a process manager carries out.

pub mod balance_table;
pub mod catalog;
pub mod inspect;
pub mod process;
pub mod transfer;
pub mod views;

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

/// An amount of money in cents.
pub type Cents = i64;

/// The id of an account, such as `AccountId(7)`; its stream is `account-7`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct AccountId(pub u32);

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The inverse of `Display`, so that a projection reads the id back from a stream id
/// (`meta.aggregate_id::<Account>()`).
impl FromStr for AccountId {
    type Err = ParseIntError;

    fn from_str(id: &str) -> Result<Self, ParseIntError> {
        id.parse().map(Self)
    }
}

/// An account was opened.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "account.opened")]
pub struct AccountOpened {
    /// Who owns it.
    pub owner: String,
}

/// Money was paid in.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "account.deposited")]
pub struct MoneyDeposited {
    /// The amount, positive.
    pub amount: Cents,
}

/// Money was paid out.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "account.withdrawn")]
pub struct MoneyWithdrawn {
    /// The amount, positive.
    pub amount: Cents,
}

/// The account was frozen: money cannot move in or out until it is unfrozen.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "account.frozen")]
pub struct AccountFrozen {}

/// The account was unfrozen.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "account.unfrozen")]
pub struct AccountUnfrozen {}

/// The account was closed; nothing can be done with it afterwards.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "account.closed")]
pub struct AccountClosed {}

/// Open a new account.
#[derive(Command, Debug, Clone)]
pub struct OpenAccount {
    /// The new account.
    #[id]
    pub account: AccountId,
    /// Who owns it; must not be blank.
    pub owner: String,
}

/// Pay money in.
#[derive(Command, Debug, Clone)]
pub struct Deposit {
    /// The account.
    #[id]
    pub account: AccountId,
    /// The amount; must be positive.
    pub amount: Cents,
}

/// Pay money out.
#[derive(Command, Debug, Clone)]
pub struct Withdraw {
    /// The account.
    #[id]
    pub account: AccountId,
    /// The amount; must be positive and at most the balance.
    pub amount: Cents,
}

/// Freeze an account: no money moves in or out until it is unfrozen.
#[derive(Command, Debug, Clone)]
pub struct FreezeAccount {
    /// The account.
    #[id]
    pub account: AccountId,
}

/// Unfreeze a frozen account.
#[derive(Command, Debug, Clone)]
pub struct UnfreezeAccount {
    /// The account.
    #[id]
    pub account: AccountId,
}

/// Close an account whose balance is zero.
#[derive(Command, Debug, Clone)]
pub struct CloseAccount {
    /// The account.
    #[id]
    pub account: AccountId,
}

/// Why an account command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AccountError {
    /// The owner's name is empty or only whitespace.
    #[error("the owner must not be blank")]
    BlankOwner,
    /// The account already exists.
    #[error("the account is already open")]
    AlreadyOpen,
    /// No account has this id.
    #[error("no such account")]
    NotFound,
    /// The account was closed.
    #[error("the account is closed")]
    Closed,
    /// The account is frozen: money cannot move in or out for now.
    #[error("the account is frozen")]
    Frozen,
    /// An amount of zero or less.
    #[error("amounts must be positive, got {0} cents")]
    NonPositiveAmount(Cents),
    /// The withdrawal is larger than the balance.
    #[error("cannot withdraw {requested} cents: the balance is {balance} cents")]
    Overdraw {
        /// The balance before the withdrawal.
        balance: Cents,
        /// The amount asked for.
        requested: Cents,
    },
    /// The account still holds money.
    #[error("cannot close an account holding {0} cents")]
    NonZeroBalance(Cents),
}

/// A bank account: the consistency boundary for one balance.
#[derive(Aggregate, Default, Debug, Clone, PartialEq, Eq)]
#[aggregate(
    name = "account",
    id = AccountId,
    error = AccountError,
    events(AccountOpened, MoneyDeposited, MoneyWithdrawn, AccountFrozen, AccountUnfrozen, AccountClosed),
    commands(OpenAccount, Deposit, Withdraw, FreezeAccount, UnfreezeAccount, CloseAccount),
    event_derive(Clone, PartialEq),
    command_derive(Clone)
)]
pub struct Account {
    open: bool,
    closed: bool,
    frozen: bool,
    owner: String,
    balance: Cents,
}

impl Account {
    /// The balance in cents.
    pub fn balance(&self) -> Cents {
        self.balance
    }

    /// The owner.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether the account was closed.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the account is frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen
    }

    /// An account that exists and is not closed.
    fn active(&self) -> Result<(), AccountError> {
        match (self.open, self.closed) {
            (false, _) => Err(AccountError::NotFound),
            (true, true) => Err(AccountError::Closed),
            (true, false) => Ok(()),
        }
    }

    /// An account money can move in and out of: active and not frozen.
    fn usable(&self) -> Result<(), AccountError> {
        self.active()?;
        if self.frozen {
            return Err(AccountError::Frozen);
        }
        Ok(())
    }
}

fn positive(amount: Cents) -> Result<Cents, AccountError> {
    if amount > 0 {
        Ok(amount)
    } else {
        Err(AccountError::NonPositiveAmount(amount))
    }
}

impl Apply<AccountOpened> for Account {
    fn apply(&mut self, event: &AccountOpened) {
        self.open = true;
        self.owner.clone_from(&event.owner);
    }
}

impl Apply<MoneyDeposited> for Account {
    fn apply(&mut self, event: &MoneyDeposited) {
        self.balance += event.amount;
    }
}

impl Apply<MoneyWithdrawn> for Account {
    fn apply(&mut self, event: &MoneyWithdrawn) {
        self.balance -= event.amount;
    }
}

impl Apply<AccountFrozen> for Account {
    fn apply(&mut self, _: &AccountFrozen) {
        self.frozen = true;
    }
}

impl Apply<AccountUnfrozen> for Account {
    fn apply(&mut self, _: &AccountUnfrozen) {
        self.frozen = false;
    }
}

impl Apply<AccountClosed> for Account {
    fn apply(&mut self, _: &AccountClosed) {
        self.closed = true;
    }
}

impl Handle<OpenAccount> for Account {
    fn handle(&self, cmd: &OpenAccount) -> Result<Vec<AccountEvent>, AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        let owner = cmd.owner.trim();
        if owner.is_empty() {
            return Err(AccountError::BlankOwner);
        }
        Ok(vec![
            AccountOpened {
                owner: owner.to_owned(),
            }
            .into(),
        ])
    }
}

impl Handle<Deposit> for Account {
    fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        self.usable()?;
        let amount = positive(cmd.amount)?;
        Ok(vec![MoneyDeposited { amount }.into()])
    }
}

impl Handle<Withdraw> for Account {
    fn handle(&self, cmd: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        self.usable()?;
        let amount = positive(cmd.amount)?;
        if amount > self.balance {
            return Err(AccountError::Overdraw {
                balance: self.balance,
                requested: amount,
            });
        }
        Ok(vec![MoneyWithdrawn { amount }.into()])
    }
}

impl Handle<FreezeAccount> for Account {
    fn handle(&self, _: &FreezeAccount) -> Result<Vec<AccountEvent>, AccountError> {
        self.active()?;
        Ok(if self.frozen {
            Vec::new()
        } else {
            vec![AccountFrozen {}.into()]
        })
    }
}

impl Handle<UnfreezeAccount> for Account {
    fn handle(&self, _: &UnfreezeAccount) -> Result<Vec<AccountEvent>, AccountError> {
        self.active()?;
        Ok(if self.frozen {
            vec![AccountUnfrozen {}.into()]
        } else {
            Vec::new()
        })
    }
}

impl Handle<CloseAccount> for Account {
    fn handle(&self, _: &CloseAccount) -> Result<Vec<AccountEvent>, AccountError> {
        self.usable()?;
        if self.balance != 0 {
            return Err(AccountError::NonZeroBalance(self.balance));
        }
        Ok(vec![AccountClosed {}.into()])
    }
}
