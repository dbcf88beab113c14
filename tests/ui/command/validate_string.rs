use es_core::prelude::*;

#[derive(Command, Debug)]
#[command(validate = "check")]
struct Register {
    #[id]
    user_id: u64,
}

fn check(_: &Register) -> Result<(), ValidationErrors> {
    Ok(())
}

fn main() {}
