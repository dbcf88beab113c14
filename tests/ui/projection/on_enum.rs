use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    pub email: String,
}

#[derive(Projection, Debug)]
#[projection(name = "user-directory", events(UserCreated))]
pub enum Directory {
    Empty,
    Filled { emails: Vec<String> },
}

fn main() {}
