use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreatedV1 {
    pub name: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created", version = 2, upcast_from = UserCreatedV1)]
pub struct UserCreated {
    pub full_name: String,
}

fn main() {}
