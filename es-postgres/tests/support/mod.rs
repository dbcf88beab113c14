//! Helpers shared by es-postgres's test files.

// Each test binary compiles this module and uses only some of it.
#![allow(dead_code)]

use bytes::Bytes;
use es_core::{EventId, Metadata, NewEvent, StreamId};
use uuid::Uuid;

/// A stream id the test chose (so it is valid).
pub(crate) fn stream(id: &str) -> StreamId {
    StreamId::new(id).expect("a valid stream id")
}

/// An event with the JSON payload `{"n": n}` and no metadata.
pub(crate) fn event(n: u64) -> NewEvent {
    NewEvent {
        event_id: EventId::new(),
        name: "test.happened".into(),
        schema_version: 1,
        payload: Bytes::from(format!("{{\"n\":{n}}}")),
        metadata: Metadata::default(),
    }
}

/// `events`, each carrying `command_id`.
pub(crate) fn with_command(mut events: Vec<NewEvent>, command_id: Uuid) -> Vec<NewEvent> {
    for event in &mut events {
        event.metadata.command_id = Some(command_id);
    }
    events
}

mod held;
mod live;
// Some test binaries use none of these.
#[allow(unused_imports)]
pub(crate) use held::*;
#[allow(unused_imports)]
pub(crate) use live::*;
