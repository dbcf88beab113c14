use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
pub struct UserCreated {
    pub name: String,
}

fn main() {}
