use es_core::prelude::*;

#[derive(Command, Debug)]
pub enum UserCommand {
    Rename { user_id: u64, name: String },
    Delete { user_id: u64 },
}

fn main() {}
