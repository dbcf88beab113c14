//! Support for generated code. Not public API.

pub use std::vec::Vec;

/// The serde of es-core, for the derives of generated serde types (a process manager's
/// timers), so that they do not depend on the user's own `serde` import.
pub use serde;

pub use crate::codec::{Codec, CodecError, Encoded};
pub use crate::envelope::{RecordedEvent, StoredEvent};
pub use crate::error::{DecodeError, DecodeErrorKind};
pub use crate::event::{decode_as, encode_event};
pub use crate::names::{
    check_aggregate_name, check_event_name, check_process_name, check_projection_name,
};
pub use wire_names::{DuplicateWireName, duplicate_wire_name};

mod wire_names;

use crate::command::Command;
use crate::error::PayloadError;
use crate::event::Event;
use crate::validation::ValidationErrors;

/// The aggregate id of `command`. Its bound is how a derived aggregate checks, at each
/// `commands(..)` entry, that the command's `#[id]` type is the aggregate's `id` type.
#[inline]
pub fn command_id<C: Command<Id = I>, I>(command: &C) -> &I {
    command.aggregate_id()
}

/// `Event::decode_payload` of `#[event(upcast_from = P)]`: versions below `E::VERSION`
/// decode as `P` (recursively) and convert with `From`. Its `From` bound is how the derive
/// checks, at the `upcast_from` key, that the conversion exists.
pub fn decode_upcasting<E: Event + From<P>, P: Event, C: Codec>(
    codec: &C,
    version: u32,
    payload: &[u8],
) -> Result<E, PayloadError> {
    crate::event::decode_version(codec, version, payload, || {
        match P::decode_payload(codec, version, payload) {
            Ok(previous) => Ok(E::from(previous)),
            // Below the whole chain: name this type's version, not the oldest link's.
            Err(PayloadError::UnsupportedVersion { found, .. }) => {
                Err(PayloadError::UnsupportedVersion {
                    found,
                    current: E::VERSION,
                })
            }
            Err(other) => Err(other),
        }
    })
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
pub fn unknown_name(event: StoredEvent<'_>, expected: &'static str) -> DecodeError {
    DecodeError::new(event, DecodeErrorKind::UnknownName { expected })
}

/// What `#[command(garde)]` calls: the command's garde rules, as [`ValidationErrors`].
#[cfg(feature = "garde")]
pub fn validate_garde<T>(command: &T) -> Result<(), ValidationErrors>
where
    T: garde::Validate,
    T::Context: Default,
{
    command.validate().map_err(ValidationErrors::from)
}

/// Without the `garde` feature, `#[command(garde)]` fails at this bound, with a note on how
/// to enable the feature.
#[cfg(not(feature = "garde"))]
pub fn validate_garde<T: GardeFeature>(_: &T) -> Result<(), ValidationErrors> {
    Ok(())
}

/// Implemented by nothing: the bound that explains a missing `garde` feature.
#[cfg(not(feature = "garde"))]
#[diagnostic::on_unimplemented(
    message = "`#[command(garde)]` needs the `garde` feature of es-core",
    label = "garde validation requested here",
    note = "enable it in Cargo.toml: es-core = {{ version = \"..\", features = [\"garde\"] }}"
)]
pub trait GardeFeature {}
