//! The transfer workflow: a process manager that moves the money of a requested transfer.
//!
//! 1. On `TransferRequested` it withdraws the amount from the account paying, and sets a
//!    deadline.
//! 2. Once the withdrawal is accepted it deposits the amount into the account paid, then
//!    completes the transfer. A refused withdrawal cancels the transfer.
//! 3. A deposit refused because the account paid is frozen is tried again a little later,
//!    until the deadline; refused for good (the account is closed, or the deadline passed),
//!    the amount is paid back to the account paying and the transfer is cancelled.
//!
//! Every step is a command whose outcome comes back to [`TransferProcess`]'s `Answer`
//! impls; each is sent once, whatever crashes or restarts happen meanwhile (see
//! `es_core::process`). [`workflow`] puts it to work on a store.

use std::time::Duration;

use es_core::prelude::*;
use es_core::process::{
    Answer, Instance, OnTimer, Outcome, ProcessStore, React, Reaction, Router, Workflow,
};
use serde::{Deserialize, Serialize};

use super::transfer::{
    CancelTransfer, CompleteTransfer, Transfer, TransferError, TransferId, TransferRequested,
};
use super::{Account, AccountError, AccountId, Cents, Deposit, Withdraw};

/// How long a transfer may take before it is cancelled and the money paid back.
pub const DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How long after a deposit refused by a frozen account it is tried again.
pub const RETRY_CREDIT: Duration = Duration::from_secs(30);

/// The transfer workflow on `store`: [`TransferProcess`], sending its commands to the
/// accounts and transfers of the same store, each through a repository with the default
/// settings. Chain the workflow's options (`with_clock`, `with_poll_interval`, ...) on it, and
/// run it with a `ProjectionRunner`:
///
/// ```
/// use es_core::prelude::*;
/// use es_examples::bank::process::workflow;
/// use es_memstore::MemStore;
///
/// # async fn transfers() -> Result<(), Box<dyn std::error::Error>> {
/// let store = MemStore::new();
/// let process = ProjectionRunner::new(store.clone(), workflow(&store));
/// process.catch_up().await?;
/// # Ok(())
/// # }
/// ```
pub fn workflow<S: ProcessStore>(store: &S) -> Workflow<TransferProcess, S> {
    let router = Router::new()
        .with(Repository::<Account, _>::new(store.clone()))
        .with(Repository::<Transfer, _>::new(store.clone()));
    Workflow::new(store.clone(), router)
}

/// The deadline of a transfer has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline;

/// Time to try the deposit into a frozen account again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryCredit;

/// Where a transfer's money is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Being withdrawn from the account paying.
    #[default]
    Debiting,
    /// Withdrawn; being deposited into the account paid.
    Crediting,
    /// Withdrawn, and being paid back: the transfer will be cancelled for this reason.
    Refunding(String),
    /// Deposited; the transfer is being completed.
    Completing,
    /// Nowhere to move: the transfer is being cancelled.
    Cancelling,
}

/// One transfer's workflow.
#[derive(ProcessManager, Default, Debug, Clone, Serialize, Deserialize)]
#[process(
    name = "transfer-process",
    key = TransferId,
    events(TransferRequested),
    commands(Withdraw, Deposit, CompleteTransfer, CancelTransfer),
    timers(Deadline, RetryCredit)
)]
pub struct TransferProcess {
    /// The transfer.
    pub transfer: TransferId,
    /// The account paying.
    pub from: AccountId,
    /// The account paid.
    pub to: AccountId,
    /// The amount.
    pub amount: Cents,
    /// Where the money is.
    pub step: Step,
    /// How many deposits into the account paid were sent.
    pub credit_attempts: u32,
}

impl TransferProcess {
    /// Deposits the amount into the account paid.
    fn credit(&mut self, out: &mut Reaction<Self>) {
        self.credit_attempts += 1;
        out.send(Deposit {
            account: self.to,
            amount: self.amount,
        });
    }

    /// Pays the amount back to the account paying; the transfer is then cancelled for
    /// `reason`.
    fn refund(&mut self, reason: String, out: &mut Reaction<Self>) {
        self.step = Step::Refunding(reason);
        out.cancel_timer::<RetryCredit>();
        out.send(Deposit {
            account: self.from,
            amount: self.amount,
        });
    }

    fn cancel(&mut self, reason: String, out: &mut Reaction<Self>) {
        self.step = Step::Cancelling;
        out.cancel_timer::<Deadline>().cancel_timer::<RetryCredit>();
        out.send(CancelTransfer {
            transfer: self.transfer,
            reason,
        });
    }
}

impl React<TransferRequested> for TransferProcess {
    fn key(_: &TransferRequested, meta: &EventMeta) -> Instance<TransferId> {
        meta.aggregate_id::<Transfer>()
            .map_or(Instance::Ignore, Instance::start)
    }

    fn react(&mut self, event: &TransferRequested, meta: &EventMeta, out: &mut Reaction<Self>) {
        let Ok(transfer) = meta.aggregate_id::<Transfer>() else {
            return;
        };
        *self = Self {
            transfer,
            from: event.from,
            to: event.to,
            amount: event.amount,
            step: Step::Debiting,
            credit_attempts: 0,
        };
        out.send(Withdraw {
            account: event.from,
            amount: event.amount,
        });
        out.timer_after(DEADLINE, Deadline);
    }
}

impl Answer<Withdraw> for TransferProcess {
    type Aggregate = Account;

    fn answer(&mut self, _: &Withdraw, outcome: &Outcome<AccountError>, out: &mut Reaction<Self>) {
        match outcome {
            Outcome::Accepted(_) => {
                self.step = Step::Crediting;
                self.credit(out);
            }
            Outcome::Refused(error) => self.cancel(format!("not withdrawn: {error}"), out),
            Outcome::Invalid(errors) => self.cancel(format!("not withdrawn: {errors}"), out),
            _ => self.cancel("not withdrawn".to_owned(), out),
        }
    }
}

impl Answer<Deposit> for TransferProcess {
    type Aggregate = Account;

    fn answer(&mut self, _: &Deposit, outcome: &Outcome<AccountError>, out: &mut Reaction<Self>) {
        match (&self.step, outcome) {
            (Step::Crediting, Outcome::Accepted(_)) => {
                self.step = Step::Completing;
                out.cancel_timer::<Deadline>();
                out.send(CompleteTransfer {
                    transfer: self.transfer,
                });
            }
            // The account paid is frozen for now: try again a little later, until the
            // deadline.
            (Step::Crediting, Outcome::Refused(AccountError::Frozen)) => {
                out.timer_after(RETRY_CREDIT, RetryCredit);
            }
            (Step::Crediting, Outcome::Refused(error)) => {
                self.refund(format!("not deposited: {error}"), out);
            }
            (Step::Crediting, _) => self.refund("not deposited".to_owned(), out),
            (Step::Refunding(reason), Outcome::Accepted(_)) => {
                let reason = format!("{reason}; paid back");
                self.cancel(reason, out);
            }
            // The account paying cannot take its money back (closed or frozen since): the
            // transfer is cancelled, and says where the money is.
            (Step::Refunding(reason), outcome) => {
                let reason = format!("{reason}; not paid back ({outcome:?}): held by the bank");
                self.cancel(reason, out);
            }
            (Step::Debiting | Step::Completing | Step::Cancelling, _) => {}
        }
    }
}

impl Answer<CompleteTransfer> for TransferProcess {
    type Aggregate = Transfer;

    fn answer(
        &mut self,
        _: &CompleteTransfer,
        _: &Outcome<TransferError>,
        out: &mut Reaction<Self>,
    ) {
        out.finish();
    }
}

impl Answer<CancelTransfer> for TransferProcess {
    type Aggregate = Transfer;

    fn answer(&mut self, _: &CancelTransfer, _: &Outcome<TransferError>, out: &mut Reaction<Self>) {
        out.finish();
    }
}

impl OnTimer<RetryCredit> for TransferProcess {
    fn on_timer(&mut self, _: &RetryCredit, out: &mut Reaction<Self>) {
        if self.step == Step::Crediting {
            self.credit(out);
        }
    }
}

impl OnTimer<Deadline> for TransferProcess {
    fn on_timer(&mut self, _: &Deadline, out: &mut Reaction<Self>) {
        match self.step {
            Step::Debiting => self.cancel("the deadline passed".to_owned(), out),
            Step::Crediting => self.refund("the deadline passed".to_owned(), out),
            Step::Refunding(_) | Step::Completing | Step::Cancelling => {}
        }
    }
}
