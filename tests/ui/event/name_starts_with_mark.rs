use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = ".user.created")]
pub struct UserCreated {
    pub name: String,
}

fn main() {}
