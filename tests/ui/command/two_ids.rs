use es_core::prelude::*;

#[derive(Command, Debug)]
pub struct MoveItem {
    #[id]
    pub from_list: u64,
    #[id]
    pub to_list: u64,
}

fn main() {}
