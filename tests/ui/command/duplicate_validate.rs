use es_core::prelude::*;

#[derive(Command, Debug)]
#[command(validate = first)]
#[command(validate = second)]
struct Register {
    #[id]
    user_id: u64,
}

fn first(_: &Register) -> Result<(), ValidationErrors> {
    Ok(())
}

fn second(_: &Register) -> Result<(), ValidationErrors> {
    Ok(())
}

fn main() {}
