use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    pub email: String,
}

#[derive(Projection, Default, Debug)]
#[projection(name = "user-directory", events(UserCreated))]
pub struct Directory
where
    String: Clone,
{
    emails: Vec<String>,
}

impl On<UserCreated> for Directory {
    fn on(&mut self, event: &UserCreated, _: &EventMeta) {
        self.emails.push(event.email.clone());
    }
}

fn main() {}
