use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    pub email: String,
}

#[derive(Projection, Default, Debug)]
#[projection(name = "user-directory", events())]
pub struct Directory {
    emails: Vec<String>,
}

fn main() {}
