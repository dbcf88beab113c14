use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    pub name: String,
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
#[aggregate(name = "user-admin", id = u64, error = UserError, events(UserCreated), commands(RegisterUser))]
pub struct User {
    registered: bool,
}

impl Apply<UserCreated> for User {
    fn apply(&mut self, _: &UserCreated) {
        self.registered = true;
    }
}

impl Handle<RegisterUser> for User {
    fn handle(&self, cmd: &RegisterUser) -> Result<Vec<UserEvent>, UserError> {
        if self.registered {
            return Err(UserError);
        }
        Ok(vec![
            UserCreated {
                name: cmd.name.clone(),
            }
            .into(),
        ])
    }
}

fn main() {}
