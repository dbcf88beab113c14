use es_core::prelude::*;

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
#[aggregate(name = "user", id = u64, error = UserError, events(), commands(RegisterUser))]
pub struct User {}

impl Handle<RegisterUser> for User {
    fn handle(&self, _: &RegisterUser) -> Result<Vec<UserEvent>, UserError> {
        Ok(vec![])
    }
}

fn main() {}
