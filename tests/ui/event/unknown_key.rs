use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created", vresion = 2)]
pub struct UserCreated {
    pub name: String,
}

fn main() {}
