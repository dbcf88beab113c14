//! What a command id produced on a stream, as a store records it: an [`Appended`] batch of
//! events, or a [`Refusal`]; [`Recorded`] is either.

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::{Position, StreamId, Version};
use crate::store::StoreError;

/// Where an append landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The stream's version after the append (the version of its last new event).
    pub stream_version: Version,
    /// The global position of the first appended event.
    pub first_position: Position,
    /// The global position of the last appended event.
    pub last_position: Position,
    /// Whether nothing was written because the command id already produced this append.
    pub duplicate: bool,
}

impl Appended {
    /// Describes an append; for store implementations.
    #[must_use]
    pub const fn new(
        stream_version: Version,
        first_position: Position,
        last_position: Position,
    ) -> Self {
        Self {
            stream_version,
            first_position,
            last_position,
            duplicate: false,
        }
    }

    /// The same append, reported again for a repeated command id.
    #[must_use]
    pub const fn as_duplicate(self) -> Self {
        Self {
            duplicate: true,
            ..self
        }
    }
}

/// What a command id produced on a stream, from
/// [`EventStore::find_command`](crate::EventStore::find_command) and
/// [`EventStore::refuse`](crate::EventStore::refuse).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The command appended these events (a [`duplicate`](Appended::duplicate) when reported
    /// again).
    Appended(Appended),
    /// The command was refused.
    Refused(Refusal),
}

impl Recorded {
    /// The answer to an append that repeats `command_id` on `stream_id`, whose earlier
    /// outcome this is: the earlier append again, as a [`duplicate`](Appended::duplicate), or
    /// [`StoreError::AlreadyRefused`] with the earlier refusal. For store implementations, so
    /// that each answers a repeat the same way.
    ///
    /// # Errors
    /// [`StoreError::AlreadyRefused`] when the command was refused.
    pub fn into_repeat_answer(
        self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> Result<Appended, StoreError> {
        match self {
            Self::Appended(appended) => Ok(appended.as_duplicate()),
            Self::Refused(refusal) => Err(StoreError::AlreadyRefused {
                stream_id: stream_id.clone(),
                command_id,
                refusal,
            }),
        }
    }
}

/// A command's refusal as a store keeps it: the stream version it was decided at and the
/// encoded domain error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Refusal {
    /// The stream's version when the command was refused.
    pub stream_version: Version,
    /// The domain error, as the repository's codec encoded it.
    pub payload: Bytes,
}

impl Refusal {
    /// A refusal decided at `stream_version`; for store implementations.
    #[must_use]
    pub const fn new(stream_version: Version, payload: Bytes) -> Self {
        Self {
            stream_version,
            payload,
        }
    }
}
