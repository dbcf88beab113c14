use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.registered")]
pub struct UserCreatedV1 {
    pub name: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created", version = 2, upcast_from = UserCreatedV1)]
pub struct UserCreated {
    pub full_name: String,
}

impl From<UserCreatedV1> for UserCreated {
    fn from(v1: UserCreatedV1) -> Self {
        Self { full_name: v1.name }
    }
}

fn main() {}
