use es_core::prelude::*;

#[derive(Command, Debug)]
pub struct Rename<Id> {
    #[id]
    pub id: Id,
    pub name: String,
}

fn main() {}
