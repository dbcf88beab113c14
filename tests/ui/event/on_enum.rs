use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.changed")]
pub enum UserChanged {
    Renamed { name: String },
    Deleted,
}

fn main() {}
