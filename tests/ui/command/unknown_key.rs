use es_core::prelude::*;

#[derive(Command, Debug)]
#[command(name = "user.rename")]
pub struct RenameUser {
    #[id]
    pub user_id: u64,
    pub name: String,
}

fn main() {}
