//! Support for generated code. Not public API.

pub use std::vec::Vec;

pub use crate::codec::{Codec, CodecError, Encoded};
pub use crate::envelope::RecordedEvent;
pub use crate::error::{DecodeError, DecodeErrorKind};
pub use crate::event::{decode_as, encode_event};

use crate::command::Command;

/// The aggregate id of `command`. Its bound is how a derived aggregate checks, at each
/// `commands(..)` entry, that the command's `#[id]` type is the aggregate's `id` type.
#[inline]
pub fn command_id<C: Command<Id = I>, I>(command: &C) -> &I {
    command.aggregate_id()
}

/// Converts a decoded older schema version `P` into the current type `T`. Its bound is how
/// `#[event(upcast_from = P)]` checks, at that key, that `impl From<P> for T` exists.
#[inline]
pub fn upcast<P, T: From<P>>(previous: P) -> T {
    T::from(previous)
}

/// `a == b` for strings, usable in constants.
#[must_use]
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The error of an event set that does not know `event`'s name.
#[must_use]
pub fn unknown_name(event: &RecordedEvent, expected: &'static str) -> DecodeError {
    DecodeError::new(event, DecodeErrorKind::UnknownName { expected })
}
