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

#[derive(ProcessManager, Debug, Serialize, Deserialize)]
#[process(name = "transfer", key = u64, events(TransferRequested, MoneyWithdrawn))]
pub enum Transfer {
    Requested,
    Done,
}

fn main() {}
