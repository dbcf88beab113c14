use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    pub email: String,
}

#[derive(Projection, Default, Debug)]
#[projection(name = "user-directory", events(UserCreated))]
pub struct Directory<S> {
    emails: Vec<S>,
}

impl<S: From<String> + Send + Sync + 'static> On<UserCreated> for Directory<S> {
    fn on(&mut self, event: &UserCreated, _: &EventMeta) {
        self.emails.push(event.email.clone().into());
    }
}

fn main() {}
