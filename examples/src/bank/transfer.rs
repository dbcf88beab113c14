//! Transfers between accounts: the request and its end, as an aggregate. The money moves
//! through the [`TransferProcess`](super::process::TransferProcess), which withdraws,
//! deposits, refunds and ends the transfer.

use std::fmt;
use std::str::FromStr;

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

use super::{AccountId, Cents};

/// The id of a transfer, such as `TransferId(Uuid)`; its stream is `transfer-<uuid>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TransferId(pub Uuid);

impl TransferId {
    /// A new, time-ordered id.
    #[must_use]
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for TransferId {
    fn default() -> Self {
        Self(Uuid::nil())
    }
}

impl fmt::Display for TransferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for TransferId {
    type Err = <Uuid as FromStr>::Err;

    fn from_str(id: &str) -> Result<Self, Self::Err> {
        id.parse().map(Self)
    }
}

/// A transfer was asked for.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "transfer.requested")]
pub struct TransferRequested {
    /// The account paying.
    pub from: AccountId,
    /// The account paid.
    pub to: AccountId,
    /// The amount, positive.
    pub amount: Cents,
}

/// The money reached the account paid.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "transfer.completed")]
pub struct TransferCompleted {}

/// The transfer did not happen; any money withdrawn was paid back.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "transfer.cancelled")]
pub struct TransferCancelled {
    /// Why.
    pub reason: String,
}

/// Ask for a transfer.
#[derive(Command, Debug, Clone)]
#[command(validate = check_request)]
pub struct RequestTransfer {
    /// The new transfer.
    #[id]
    pub transfer: TransferId,
    /// The account paying.
    pub from: AccountId,
    /// The account paid; not the one paying.
    pub to: AccountId,
    /// The amount; must be positive.
    pub amount: Cents,
}

fn check_request(cmd: &RequestTransfer) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if cmd.amount <= 0 {
        errors.add("amount", "must be positive");
    }
    if cmd.from == cmd.to {
        errors.add("to", "must differ from `from`");
    }
    errors.into_result()
}

/// Record that the money reached the account paid.
#[derive(Command, Debug, Clone)]
pub struct CompleteTransfer {
    /// The transfer.
    #[id]
    pub transfer: TransferId,
}

/// Record that the transfer did not happen.
#[derive(Command, Debug, Clone)]
pub struct CancelTransfer {
    /// The transfer.
    #[id]
    pub transfer: TransferId,
    /// Why.
    pub reason: String,
}

/// Why a transfer command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum TransferError {
    /// The transfer was requested already.
    #[error("the transfer exists already")]
    AlreadyRequested,
    /// No transfer has this id.
    #[error("no such transfer")]
    NotFound,
    /// The transfer has ended (completed or cancelled).
    #[error("the transfer has ended")]
    Ended,
}

/// Where a transfer stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransferStatus {
    /// Not requested.
    #[default]
    None,
    /// Requested, not ended.
    Pending,
    /// The money reached the account paid.
    Completed,
    /// It did not happen.
    Cancelled,
}

/// A transfer: its request and how it ended.
#[derive(Aggregate, Default, Debug, Clone)]
#[aggregate(
    name = "transfer",
    id = TransferId,
    error = TransferError,
    events(TransferRequested, TransferCompleted, TransferCancelled),
    commands(RequestTransfer, CompleteTransfer, CancelTransfer),
    event_derive(Clone, PartialEq),
    command_derive(Clone)
)]
pub struct Transfer {
    status: TransferStatus,
    amount: Cents,
    reason: Option<String>,
}

impl Transfer {
    /// Where it stands.
    pub fn status(&self) -> TransferStatus {
        self.status
    }

    /// The amount.
    pub fn amount(&self) -> Cents {
        self.amount
    }

    /// Why it was cancelled, if it was.
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    fn pending(&self) -> Result<(), TransferError> {
        match self.status {
            TransferStatus::None => Err(TransferError::NotFound),
            TransferStatus::Pending => Ok(()),
            TransferStatus::Completed | TransferStatus::Cancelled => Err(TransferError::Ended),
        }
    }
}

impl Apply<TransferRequested> for Transfer {
    fn apply(&mut self, event: &TransferRequested) {
        self.status = TransferStatus::Pending;
        self.amount = event.amount;
    }
}

impl Apply<TransferCompleted> for Transfer {
    fn apply(&mut self, _: &TransferCompleted) {
        self.status = TransferStatus::Completed;
    }
}

impl Apply<TransferCancelled> for Transfer {
    fn apply(&mut self, event: &TransferCancelled) {
        self.status = TransferStatus::Cancelled;
        self.reason = Some(event.reason.clone());
    }
}

impl Handle<RequestTransfer> for Transfer {
    fn handle(&self, cmd: &RequestTransfer) -> Result<Vec<TransferEvent>, TransferError> {
        if self.status != TransferStatus::None {
            return Err(TransferError::AlreadyRequested);
        }
        Ok(vec![
            TransferRequested {
                from: cmd.from,
                to: cmd.to,
                amount: cmd.amount,
            }
            .into(),
        ])
    }
}

impl Handle<CompleteTransfer> for Transfer {
    fn handle(&self, _: &CompleteTransfer) -> Result<Vec<TransferEvent>, TransferError> {
        self.pending()?;
        Ok(vec![TransferCompleted {}.into()])
    }
}

impl Handle<CancelTransfer> for Transfer {
    fn handle(&self, cmd: &CancelTransfer) -> Result<Vec<TransferEvent>, TransferError> {
        self.pending()?;
        Ok(vec![
            TransferCancelled {
                reason: cmd.reason.clone(),
            }
            .into(),
        ])
    }
}
