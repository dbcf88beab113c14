use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "counter.incremented")]
pub struct Incremented {
    pub by: u32,
}

#[derive(Projection)]
#[projection(name = "total", events(Incremented))]
pub union Total {
    pub signed: i64,
    pub unsigned: u64,
}

fn main() {}
