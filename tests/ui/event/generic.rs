use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "item.added")]
pub struct ItemAdded<T> {
    pub item: T,
}

fn main() {}
