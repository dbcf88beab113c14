use es_core::prelude::*;

#[derive(Command, Debug)]
#[command(validate = check)]
struct Register {
    #[id]
    user_id: u64,
    name: String,
}

// Takes the field instead of the command, and answers with a bool.
fn check(name: &String) -> bool {
    !name.is_empty()
}

fn main() {}
