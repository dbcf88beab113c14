//! A given/when/then fixture for aggregates and projections: no store, no async runtime.
//!
//! ```
//! # use es_core::prelude::*;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Debug, Serialize, Deserialize)]
//! # #[event(name = "counter.incremented")]
//! # struct Incremented { by: u32 }
//! # #[derive(Command, Debug)]
//! # struct Increment { #[id] id: u64, by: u32 }
//! # #[derive(Debug, PartialEq, thiserror::Error)]
//! # #[error("increments must be positive")]
//! # struct ZeroIncrement;
//! # #[derive(Aggregate, Default, Debug)]
//! # #[aggregate(name = "counter", id = u64, error = ZeroIncrement,
//! #             events(Incremented), commands(Increment))]
//! # struct Counter { total: u64 }
//! # impl Apply<Incremented> for Counter {
//! #     fn apply(&mut self, event: &Incremented) { self.total += u64::from(event.by); }
//! # }
//! # impl Handle<Increment> for Counter {
//! #     fn handle(&self, cmd: &Increment) -> Result<Vec<CounterEvent>, ZeroIncrement> {
//! #         if cmd.by == 0 { return Err(ZeroIncrement); }
//! #         Ok(vec![Incremented { by: cmd.by }.into()])
//! #     }
//! # }
//! use es_core::testing::given;
//!
//! given::<Counter>([Incremented { by: 2 }.into()])
//!     .when(Increment { id: 1, by: 3 })
//!     .then([Incremented { by: 3 }.into()])
//!     .then_state(|counter| assert_eq!(counter.total, 5));
//!
//! given::<Counter>([])
//!     .when(Increment { id: 1, by: 0 })
//!     .then_error(ZeroIncrement);
//! ```
//!
//! Projections get the same treatment: feed events by stream, then check the state.
//!
//! ```
//! # use es_core::prelude::*;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Debug, Serialize, Deserialize)]
//! # #[event(name = "counter.incremented")]
//! # struct Incremented { by: u32 }
//! #[derive(Projection, Default, Debug, PartialEq)]
//! #[projection(name = "totals", events(Incremented))]
//! struct Totals { sum: u64, last_stream: String }
//!
//! impl On<Incremented> for Totals {
//!     fn on(&mut self, e: &Incremented, meta: &EventMeta) {
//!         self.sum += u64::from(e.by);
//!         self.last_stream = meta.stream_id.to_string();
//!     }
//! }
//!
//! es_core::testing::projection::<Totals>()
//!     .given("counter-1", Incremented { by: 2 })
//!     .given("counter-2", Incremented { by: 5 })
//!     .then(Totals { sum: 7, last_stream: "counter-2".into() });
//! ```
//!
//! Events are compared the way they are stored: by wire name, schema version and encoded
//! payload (JSON), so event types need not implement `PartialEq`. A failure panics at the
//! calling line with a line-per-event diff of expected and actual events.

pub mod contract;
pub mod hooked;

use std::fmt::{self, Debug, Write as _};

use serde_json::Value;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::aggregate::Aggregate;
use crate::codec::{Codec, JsonCodec};
use crate::command::CommandSet;
use crate::envelope::{EventId, Metadata, Position, RecordedEvent, StreamId, Version};
use crate::event::{Event, EventSet, encode_event};
use crate::projection::Projection;
use crate::validation::ValidationErrors;

/// Starts a scenario: the aggregate `A` after `events` (in order, from `A::default()`).
///
/// Pass `[]` for an aggregate with no history; write each event as `MyEvent { .. }.into()`.
pub fn given<A: Aggregate>(events: impl IntoIterator<Item = A::Event>) -> Given<A> {
    let mut state = A::default();
    for event in events {
        state.apply_event(&event);
    }
    Given { state }
}

/// An aggregate with a history, waiting for a command.
#[derive(Debug)]
pub struct Given<A> {
    state: A,
}

impl<A: Aggregate> Given<A> {
    /// Validates `command` and, if it is valid, decides it on the state built from the given
    /// events, as [`Repository::execute`](crate::Repository::execute) would.
    pub fn when(self, command: impl Into<A::Command>) -> When<A> {
        let command = command.into();
        let outcome = match command.validate() {
            Ok(()) => self.state.handle_command(&command).map_err(Refusal::Domain),
            Err(errors) => Err(Refusal::Invalid(errors)),
        };
        When {
            state: self.state,
            command,
            outcome,
        }
    }

    /// The state built from the given events.
    pub fn state(&self) -> &A {
        &self.state
    }
}

/// The outcome of a command, to be checked with the `then` methods.
pub struct When<A: Aggregate> {
    state: A,
    command: A::Command,
    outcome: Result<Vec<A::Event>, Refusal<A::Error>>,
}

/// Why a command produced no events: its validation failed, or its aggregate refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal<E> {
    /// The command broke its validation rules; its aggregate never saw it.
    Invalid(ValidationErrors),
    /// The aggregate's [`Handle`](crate::Handle) impl refused the command.
    Domain(E),
}

impl<E: fmt::Display + Debug> fmt::Display for Refusal<E> {
    /// The reason; the alternate form (`{:#}`) reads as a sentence for failure messages:
    /// `the command was refused: no such user (NotFound)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self, f.alternate()) {
            (Self::Invalid(errors), false) => write!(f, "invalid command: {errors}"),
            (Self::Invalid(errors), true) => write!(f, "the command was invalid: {errors}"),
            (Self::Domain(error), false) => fmt::Display::fmt(error, f),
            (Self::Domain(error), true) => {
                write!(f, "the command was refused: {error} ({error:?})")
            }
        }
    }
}

impl<A: Aggregate> When<A> {
    /// Asserts that the command produced exactly `expected`, in order (`[]` for none).
    ///
    /// # Panics
    /// When the command was refused, or produced other events; the message lists expected and
    /// actual events side by side.
    #[track_caller]
    pub fn then(self, expected: impl IntoIterator<Item = A::Event>) -> Self {
        let expected: Vec<A::Event> = expected.into_iter().collect();
        let actual = match &self.outcome {
            Ok(events) => events,
            Err(refusal) => panic!(
                "{}\nexpected events:\n{}but {refusal:#}",
                self.header(),
                listing(&expected)
            ),
        };
        if let Some(diff) = diff(&expected, actual) {
            panic!(
                "{}\nevents differ (- expected, + actual):\n{diff}",
                self.header()
            );
        }
        self
    }

    /// Asserts that the aggregate refused the command with `expected`.
    ///
    /// # Panics
    /// When the command succeeded, was invalid, or failed with another error.
    #[track_caller]
    pub fn then_error(self, expected: A::Error) -> Self
    where
        A::Error: PartialEq,
    {
        match &self.outcome {
            Err(Refusal::Domain(error)) if *error == expected => {}
            Err(Refusal::Domain(error)) => panic!(
                "{}\nexpected the error: {expected:?}\n  actual error:    {error:?}",
                self.header()
            ),
            Err(refusal @ Refusal::Invalid(_)) => panic!(
                "{}\nexpected the error: {expected:?}\nbut {refusal:#}",
                self.header()
            ),
            Ok(events) => panic!(
                "{}\nexpected the error: {expected:?}\nbut the command succeeded with:\n{}",
                self.header(),
                listing(events)
            ),
        }
        self
    }

    /// Asserts that the aggregate refused the command with an error matching `check` (for
    /// errors without `PartialEq`, or to match only a variant:
    /// `|e| matches!(e, MyError::Closed)`).
    ///
    /// # Panics
    /// When the command succeeded or was invalid, or `check` returns false.
    #[track_caller]
    pub fn then_error_matches(self, check: impl FnOnce(&A::Error) -> bool) -> Self {
        match &self.outcome {
            Err(Refusal::Domain(error)) if check(error) => {}
            Err(Refusal::Domain(error)) => {
                panic!("{}\nthe error did not match: {error:?}", self.header())
            }
            Err(refusal @ Refusal::Invalid(_)) => {
                panic!("{}\nexpected an error, but {refusal:#}", self.header())
            }
            Ok(events) => panic!(
                "{}\nexpected an error, but the command succeeded with:\n{}",
                self.header(),
                listing(events)
            ),
        }
        self
    }

    /// Asserts that the command failed validation on exactly `fields`, in the order its
    /// rules reported them (a field breaking two rules is listed twice).
    ///
    /// # Panics
    /// When the command was valid, or other fields failed.
    #[track_caller]
    pub fn then_invalid<'f>(self, fields: impl IntoIterator<Item = &'f str>) -> Self {
        let expected: Vec<&str> = fields.into_iter().collect();
        match &self.outcome {
            Err(Refusal::Invalid(errors)) if errors.fields().eq(expected.iter().copied()) => {}
            Err(Refusal::Invalid(errors)) => panic!(
                "{}\nexpected invalid fields: {expected:?}\n  actual invalid fields: {:?} ({errors})",
                self.header(),
                errors.fields().collect::<Vec<_>>()
            ),
            Err(Refusal::Domain(error)) => panic!(
                "{}\nexpected invalid fields: {expected:?}\nbut the command was valid and the \
                 aggregate refused it: {error:?}",
                self.header()
            ),
            Ok(events) => panic!(
                "{}\nexpected invalid fields: {expected:?}\nbut the command succeeded with:\n{}",
                self.header(),
                listing(events)
            ),
        }
        self
    }

    /// Runs `check` on the state after the produced events are applied (the given state if
    /// the command was refused).
    pub fn then_state(self, check: impl FnOnce(&A)) -> Self {
        let mut state = self.state;
        if let Ok(events) = &self.outcome {
            for event in events {
                state.apply_event(event);
            }
        }
        check(&state);
        Self { state, ..self }
    }

    /// The produced events, or the refusal.
    pub fn outcome(&self) -> &Result<Vec<A::Event>, Refusal<A::Error>> {
        &self.outcome
    }

    fn header(&self) -> String {
        format!("when {:?}", self.command)
    }
}

impl<A: Aggregate> Debug for When<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("When")
            .field("command", &self.command)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

/// One event as the kit shows and compares it: `name vN {json}`.
fn render<E: EventSet>(event: &E) -> String {
    let payload = event
        .encode(&JsonCodec)
        .map_err(|err| err.to_string())
        .and_then(|encoded| {
            JsonCodec
                .decode::<Value>(&encoded.payload)
                .map_err(|err| err.to_string())
        });
    match payload {
        Ok(json) => format!("{} v{} {json}", event.name(), event.version()),
        Err(err) => format!(
            "{} v{} <does not encode: {err}>",
            event.name(),
            event.version()
        ),
    }
}

fn listing<E: EventSet>(events: &[E]) -> String {
    if events.is_empty() {
        return "    (none)\n".to_owned();
    }
    events
        .iter()
        .enumerate()
        .fold(String::new(), |mut out, (i, event)| {
            let _ = writeln!(out, "    #{i} {}", render(event));
            out
        })
}

/// `None` when equal; otherwise one line per position: `  ` same, `- ` expected, `+ ` actual.
fn diff<E: EventSet>(expected: &[E], actual: &[E]) -> Option<String> {
    let expected: Vec<String> = expected.iter().map(render).collect();
    let actual: Vec<String> = actual.iter().map(render).collect();
    if expected == actual {
        return None;
    }
    let mut out = String::new();
    for i in 0..expected.len().max(actual.len()) {
        match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) if e == a => {
                let _ = writeln!(out, "    #{i} {e}");
            }
            (e, a) => {
                if let Some(e) = e {
                    let _ = writeln!(out, "  - #{i} {e}");
                }
                if let Some(a) = a {
                    let _ = writeln!(out, "  + #{i} {a}");
                }
            }
        }
    }
    Some(out)
}

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
