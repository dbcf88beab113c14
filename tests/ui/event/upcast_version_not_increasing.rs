use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created", version = 3)]
pub struct UserCreatedV3 {
    pub name: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created", version = 2, upcast_from = UserCreatedV3)]
pub struct UserCreated {
    pub full_name: String,
}

impl From<UserCreatedV3> for UserCreated {
    fn from(v3: UserCreatedV3) -> Self {
        Self { full_name: v3.name }
    }
}

fn main() {}
