use es_core::prelude::*;
use serde::{Deserialize, Serialize};

mod v1 {
    use super::*;

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "user.created")]
    pub struct UserCreated {}
}

mod v2 {
    use super::*;

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "user.created.v2")]
    pub struct UserCreated {}
}

#[derive(Command, Debug)]
pub struct RegisterUser {
    #[id]
    pub user_id: u64,
    pub name: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the user is already registered")]
pub struct UserError;

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "user", id = u64, error = UserError, events(v1::UserCreated, v2::UserCreated), commands(RegisterUser))]
pub struct User {
    registered: bool,
}

fn main() {}
