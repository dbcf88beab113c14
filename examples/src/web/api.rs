//! The JSON bodies of the service's requests and answers. They are serde types both ways, so
//! a Rust client (such as the tests) reads the answers with the same types.

use es_core::{Position, Version};
use serde::{Deserialize, Serialize};

use crate::bank::transfer::TransferId;
use crate::bank::views::{AccountSummary, TransferSummary};
use crate::bank::{AccountId, Cents};

/// `POST /accounts`: open an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenRequest {
    /// The new account's id.
    pub account: AccountId,
    /// Who owns it; must not be blank.
    pub owner: String,
}

/// `POST /accounts/{id}/deposits` and `/withdrawals`: an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AmountRequest {
    /// The amount in cents; must be positive.
    pub amount: Cents,
}

/// `POST /transfers`: move money from one account to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferRequest {
    /// The account paying.
    pub from: AccountId,
    /// The account paid; must differ from `from`.
    pub to: AccountId,
    /// The amount in cents; must be positive.
    pub amount: Cents,
}

/// The answer to a write: which stream it went to, and where.
///
/// Pass `position` as `?min_position=` to a later read to see the write in it
/// (read-your-writes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written<I> {
    /// The account or transfer written to.
    pub id: I,
    /// The version of its stream after the write.
    pub version: Version,
    /// The position of the write's last event in the log.
    pub position: Position,
}

/// `GET /accounts/{id}`: one account as the read model has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// The account's id.
    pub account: AccountId,
    /// Owner, balance, state and the stream version the read model has reached.
    #[serde(flatten)]
    pub summary: AccountSummary,
    /// The position in the log the read model had reached when read: every write at or
    /// before it is reflected.
    pub position: Position,
}

/// `GET /accounts`: every account, and the money they hold together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountList {
    /// The accounts, by id, with `position` in each.
    pub accounts: Vec<AccountView>,
    /// Money held across all accounts, in cents.
    pub total: Cents,
    /// The position the read model had reached.
    pub position: Position,
}

/// `GET /transfers/{id}`: one transfer and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferView {
    /// The transfer's id.
    pub transfer: TransferId,
    /// Accounts, amount, status and the position of the transfer's last event.
    #[serde(flatten)]
    pub summary: TransferSummary,
}

/// `GET /accounts/{id}/history`: the account's events, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// The account's id.
    pub account: AccountId,
    /// Its events, oldest first.
    pub events: Vec<HistoryEntry>,
}

/// One event of a [`History`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// The stream version the event brought the account to.
    pub version: Version,
    /// Its position in the log.
    pub position: Position,
    /// The event's name, such as `account.deposited`.
    pub event: String,
    /// The event, as today's type reads it (older schema versions upcast).
    pub data: serde_json::Value,
}
