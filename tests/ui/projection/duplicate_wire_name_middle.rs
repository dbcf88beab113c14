use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    pub email: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserRegistered {
    pub email: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.deleted")]
pub struct UserDeleted {
    pub email: String,
}

// The later entry of the pair is not the last of the list: the error points at it.
#[derive(Projection, Default, Debug)]
#[projection(name = "user-directory", events(UserCreated, UserRegistered, UserDeleted))]
pub struct Directory {
    emails: Vec<String>,
}

impl On<UserCreated> for Directory {
    fn on(&mut self, event: &UserCreated, _: &EventMeta) {
        self.emails.push(event.email.clone());
    }
}

impl On<UserRegistered> for Directory {
    fn on(&mut self, event: &UserRegistered, _: &EventMeta) {
        self.emails.push(event.email.clone());
    }
}

impl On<UserDeleted> for Directory {
    fn on(&mut self, event: &UserDeleted, _: &EventMeta) {
        self.emails.retain(|email| *email != event.email);
    }
}

fn main() {}
