use es_core::prelude::*;

#[derive(Command, Debug)]
pub struct RenameUser {
    #[id = "user"]
    pub user_id: u64,
    pub name: String,
}

fn main() {}
