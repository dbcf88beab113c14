use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
pub struct Transfer {
    amount: u64,
}

fn main() {}
