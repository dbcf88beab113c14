use es_core::prelude::*;

#[derive(Command, Debug)]
#[command(validate)]
struct Register {
    #[id]
    user_id: u64,
}

fn main() {}
