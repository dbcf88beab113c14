//! Errors about stored data that cannot be turned back into events: [`DecodeError`] (which
//! event, where, and why) and [`PayloadError`] (why a payload did not become its type).

use std::sync::Arc;

use crate::codec::CodecError;
use crate::envelope::{Position, StoredEvent, StreamId, Version};

/// A stored event that could not be decoded: names the stream, the stream version, the
/// global position, the wire name and schema version, and the cause.
///
/// Bad stored data is never a panic: every decode path in es-core returns this error.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot decode event {name:?} (schema version {schema_version}) at version {stream_version} \
     of stream {stream_id} (position {position}): {kind}"
)]
pub struct DecodeError {
    /// The stream holding the event.
    pub stream_id: StreamId,
    /// The event's version within its stream.
    pub stream_version: Version,
    /// The event's global position.
    pub position: Position,
    /// The stored wire name.
    pub name: Arc<str>,
    /// The stored schema version.
    pub schema_version: u32,
    /// What went wrong (already part of the message, so not a separate `source`).
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// An error about `event` (a [`StoredEvent`], or a `&RecordedEvent`).
    #[must_use]
    pub fn new<'e>(event: impl Into<StoredEvent<'e>>, kind: DecodeErrorKind) -> Self {
        let event = event.into();
        Self {
            stream_id: event.stream_id.clone(),
            stream_version: event.stream_version,
            position: event.position,
            name: Arc::from(event.name),
            schema_version: event.schema_version,
            kind,
        }
    }
}

/// Why a stored event could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// No event type of the expected set has this wire name.
    #[error("no event type of {expected} is named so")]
    UnknownName {
        /// What was expected, such as the name of the aggregate's event enum.
        expected: &'static str,
    },
    /// The event type exists but cannot read this schema version: one above `current`, or
    /// one below that no `upcast_from` link reads.
    #[error(
        "the event type is at schema version {current}; it reads older versions only through \
         its `upcast_from` chain, and newer ones (written by a newer release) not at all"
    )]
    UnsupportedVersion {
        /// The schema version of the Rust type.
        current: u32,
    },
    /// The payload does not decode into the event type.
    #[error("the payload does not decode: {0}")]
    Payload(CodecError),
}

/// Why an event payload could not be turned into its type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PayloadError {
    /// The stored schema version is one this type cannot read.
    #[error("schema version {found} cannot be decoded (current version is {current})")]
    UnsupportedVersion {
        /// The version found in the store.
        found: u32,
        /// The version of the Rust type.
        current: u32,
    },
    /// The codec refused the bytes.
    #[error(transparent)]
    Codec(CodecError),
}
