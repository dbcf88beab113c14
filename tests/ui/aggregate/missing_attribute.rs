use es_core::prelude::*;

#[derive(Aggregate, Default, Debug)]
pub struct User {
    registered: bool,
}

fn main() {}
