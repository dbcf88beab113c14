//! [`StoredEvent`]: a stored event as a read lends it, borrowed from the store.

use std::time::SystemTime;

use crate::envelope::{Position, RecordedEvent, StreamId, Version};

/// A stored event as a replay reads it: what a fold needs (the stream, the version, the
/// position for an error's location, the wire name, the schema version, the payload and the
/// time), borrowed from the store's own copy or row. Neither the event id nor the metadata is
/// here: a replay never reads them, so a store need not fetch them.
///
/// [`EventStore::visit_stream`](crate::EventStore::visit_stream) lends these, and
/// [`EventSet::decode`](crate::EventSet::decode) decodes one; a
/// [`RecordedEvent`] lends one with [`as_stored`](RecordedEvent::as_stored) (or `From`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredEvent<'a> {
    /// The stream the event belongs to.
    pub stream_id: &'a StreamId,
    /// The event's version within its stream.
    pub stream_version: Version,
    /// The event's position in the store's global log.
    pub position: Position,
    /// The wire name.
    pub name: &'a str,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The encoded payload.
    pub payload: &'a [u8],
    /// When the store recorded the event.
    pub recorded_at: SystemTime,
}

impl<'a> StoredEvent<'a> {
    /// The event at `stream_version` of `stream_id` and `position`, named `name` at
    /// `schema_version`, with `payload`, recorded at `recorded_at`: what a store lends.
    #[must_use]
    pub fn new(
        stream_id: &'a StreamId,
        stream_version: Version,
        position: Position,
        name: &'a str,
        schema_version: u32,
        payload: &'a [u8],
        recorded_at: SystemTime,
    ) -> Self {
        Self {
            stream_id,
            stream_version,
            position,
            name,
            schema_version,
            payload,
            recorded_at,
        }
    }
}

impl RecordedEvent {
    /// The event as a replay reads it, borrowed from this one.
    #[must_use]
    pub fn as_stored(&self) -> StoredEvent<'_> {
        StoredEvent {
            stream_id: &self.stream_id,
            stream_version: self.stream_version,
            position: self.position,
            name: &self.name,
            schema_version: self.schema_version,
            payload: &self.payload,
            recorded_at: self.recorded_at,
        }
    }
}

impl<'a> From<&'a RecordedEvent> for StoredEvent<'a> {
    fn from(event: &'a RecordedEvent) -> Self {
        event.as_stored()
    }
}
