//! Why loading an aggregate or executing a command failed.

use crate::codec::CodecError;
use crate::envelope::{InvalidStreamId, StreamId, Version};
use crate::error::DecodeError;
use crate::store::StoreError;
use crate::validation::ValidationErrors;

/// Why [`Repository::load`](super::Repository::load) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event does not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The aggregate id makes no valid stream id.
    #[error(transparent)]
    InvalidStreamId(#[from] InvalidStreamId),
}

/// Why [`Repository::execute`](super::Repository::execute) failed. `E` is the aggregate's
/// domain error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E> {
    /// The command broke its own rules ([`Command::validate`](crate::Command::validate)):
    /// it was refused before its aggregate was loaded, and nothing was appended.
    #[error("invalid command {command}: {errors}")]
    Invalid {
        /// The Rust name of the command's type.
        command: &'static str,
        /// Every broken rule, by field.
        errors: ValidationErrors,
    },
    /// The aggregate refused the command; nothing was appended.
    #[error(transparent)]
    Domain(E),
    /// Other writers kept changing the stream: every attempt the repository's
    /// [`RetryPolicy`](crate::RetryPolicy) allowed met a version conflict. Nothing of the
    /// command was appended.
    #[error(
        "version conflict on stream {stream_id} after {attempts} attempt(s): \
         last loaded at version {expected}, the store was at version {actual}"
    )]
    Conflict {
        /// The aggregate's stream.
        stream_id: StreamId,
        /// How many times the command was decided: the policy's
        /// [`max_attempts`](crate::RetryPolicy::max_attempts).
        attempts: u32,
        /// The version of the last attempt's load.
        expected: Version,
        /// The stream's version when the last append was refused.
        actual: Version,
    },
    /// An event the aggregate produced could not be encoded; nothing was appended.
    #[error("cannot encode event {name:?} for stream {stream_id}: {cause}")]
    Encode {
        /// The aggregate's stream.
        stream_id: StreamId,
        /// The event's wire name.
        name: &'static str,
        /// The codec's error.
        cause: CodecError,
    },
    /// The aggregate's refusal could not be encoded, to be remembered under the command id
    /// ([`Repository::execute_with`](super::Repository::execute_with)); nothing was recorded.
    #[error("cannot encode the refusal of a command on stream {stream_id}: {cause}")]
    EncodeRefusal {
        /// The aggregate's stream.
        stream_id: StreamId,
        /// The codec's error.
        cause: CodecError,
    },
    /// A stored event of the aggregate does not decode.
    #[error(transparent)]
    Decode(DecodeError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The aggregate id makes no valid stream id.
    #[error(transparent)]
    InvalidStreamId(InvalidStreamId),
}

impl<E> From<LoadError> for ExecuteError<E> {
    fn from(error: LoadError) -> Self {
        match error {
            LoadError::Store(error) => Self::Store(error),
            LoadError::Decode(error) => Self::Decode(error),
            LoadError::InvalidStreamId(error) => Self::InvalidStreamId(error),
        }
    }
}

impl<E> From<InvalidStreamId> for ExecuteError<E> {
    fn from(error: InvalidStreamId) -> Self {
        Self::InvalidStreamId(error)
    }
}
