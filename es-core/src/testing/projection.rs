//! The projection kit: events fed by stream, then the state checked.

use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;
use std::time::SystemTime;

use crate::codec::JsonCodec;
use crate::envelope::{EventId, Metadata, Position, RecordedEvent, StreamId, Version};
use crate::event::{Event, encode_event};
use crate::projection::Projection;

/// Starts a projection scenario from `P::default()`.
pub fn projection<P: Projection + Default>() -> ProjectionScenario<P> {
    ProjectionScenario {
        state: P::default(),
        versions: HashMap::new(),
        position: Position::START,
    }
}

/// A projection fed events one by one, as the runner would, then checked.
#[derive(Debug)]
pub struct ProjectionScenario<P> {
    state: P,
    versions: HashMap<StreamId, Version>,
    position: Position,
}

impl<P: Projection> ProjectionScenario<P> {
    /// Stores `event` in `stream` (at the stream's next version and the log's next position)
    /// and hands it to the projection, encoded and decoded as a store would. Events the
    /// projection does not listen to are skipped, as by the runner.
    ///
    /// # Panics
    /// When `stream` is not a valid stream id, or the event does not encode or decode.
    #[track_caller]
    #[must_use]
    pub fn given<E: Event>(mut self, stream: &str, event: E) -> Self {
        let stream_id = StreamId::new(stream).unwrap_or_else(|err| panic!("{err}"));
        let version = self.versions.entry(stream_id.clone()).or_default();
        *version = version.next();
        self.position = self.position.next();
        let encoded = encode_event(&JsonCodec, &event)
            .unwrap_or_else(|err| panic!("event {} does not encode: {err}", E::NAME));
        let recorded = RecordedEvent {
            stream_id,
            stream_version: *version,
            position: self.position,
            event_id: EventId::new(),
            recorded_at: SystemTime::now(),
            name: Arc::from(E::NAME),
            schema_version: E::VERSION,
            payload: encoded.payload,
            metadata: Metadata::default(),
        };
        if let Err(err) = self.state.project(&JsonCodec, &recorded) {
            panic!("projection {}: {err}", P::NAME);
        }
        self
    }

    /// Asserts that the state equals `expected`.
    ///
    /// # Panics
    /// When it does not; the message shows both states, pretty-printed.
    #[track_caller]
    pub fn then(self, expected: P) -> Self
    where
        P: PartialEq + Debug,
    {
        assert!(
            self.state == expected,
            "projection {} after {} event(s):\nexpected state: {expected:#?}\n  actual state: {:#?}",
            P::NAME,
            self.position,
            self.state
        );
        self
    }

    /// Runs `check` on the state.
    pub fn then_state(self, check: impl FnOnce(&P)) -> Self {
        check(&self.state);
        self
    }

    /// The state so far.
    pub fn state(&self) -> &P {
        &self.state
    }
}
