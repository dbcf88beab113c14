use es_core::prelude::*;

#[derive(Command, garde::Validate, Debug)]
#[command(garde = true)]
struct Register {
    #[id]
    #[garde(skip)]
    user_id: u64,
}

fn main() {}
