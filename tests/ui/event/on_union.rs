use es_core::prelude::*;

#[derive(Event)]
#[event(name = "bits.flipped")]
pub union BitsFlipped {
    pub word: u32,
    pub bytes: [u8; 4],
}

fn main() {}
