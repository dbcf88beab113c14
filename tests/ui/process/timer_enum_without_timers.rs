use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "transfer.requested")]
pub struct TransferRequested {
    pub id: u64,
    pub from: u64,
    pub amount: u64,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "account.withdrawn")]
pub struct MoneyWithdrawn {
    pub transfer: u64,
}

#[derive(Command, Debug, Clone)]
pub struct Withdraw {
    #[id]
    pub account: u64,
    pub amount: u64,
}

#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[error("insufficient funds")]
pub struct AccountError;

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "account", id = u64, error = AccountError, events(MoneyWithdrawn), commands(Withdraw))]
pub struct Account;

impl Apply<MoneyWithdrawn> for Account {
    fn apply(&mut self, _: &MoneyWithdrawn) {}
}

impl Handle<Withdraw> for Account {
    fn handle(&self, _: &Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(vec![])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deadline;

#[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
#[process(name = "transfer", key = u64, events(TransferRequested, MoneyWithdrawn), commands(Withdraw), timer_enum = Alarm)]
pub struct Transfer {
    amount: u64,
}

impl React<TransferRequested> for Transfer {
    fn key(event: &TransferRequested, _: &EventMeta) -> Instance<u64> {
        Instance::start(event.id)
    }

    fn react(&mut self, event: &TransferRequested, _: &EventMeta, out: &mut Reaction<Self>) {
        self.amount = event.amount;
        out.send(Withdraw {
            account: event.from,
            amount: event.amount,
        });
    }
}

impl React<MoneyWithdrawn> for Transfer {
    fn key(event: &MoneyWithdrawn, _: &EventMeta) -> Instance<u64> {
        Instance::existing(event.transfer)
    }

    fn react(&mut self, _: &MoneyWithdrawn, _: &EventMeta, out: &mut Reaction<Self>) {
        out.finish();
    }
}

impl Answer<Withdraw> for Transfer {
    type Aggregate = Account;

    fn answer(&mut self, _: &Withdraw, _: &Outcome<AccountError>, out: &mut Reaction<Self>) {
        out.finish();
    }
}

fn main() {}
