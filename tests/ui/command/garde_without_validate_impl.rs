use es_core::prelude::*;

// Asks for garde's rules but does not derive `garde::Validate`.
#[derive(Command, Debug)]
#[command(garde)]
struct Register {
    #[id]
    user_id: u64,
}

fn main() {}
