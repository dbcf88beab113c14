use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct UserCreated<T> {
    pub name: T,
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
#[aggregate(name = "user", id = u64, error = UserError, events(UserCreated<u8>), commands(RegisterUser))]
pub struct User {
    registered: bool,
}

fn main() {}
