//! The aggregate kit: [`given`] events, [`when`](Given::when) a command, then events or an
//! error.

use std::fmt::{self, Debug, Write as _};

use serde_json::Value;

use crate::aggregate::Aggregate;
use crate::codec::{Codec, JsonCodec};
use crate::command::CommandSet;
use crate::event::EventSet;
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

/// `None` when equal; otherwise the diff of their renderings (see [`super::diff`]).
fn diff<E: EventSet>(expected: &[E], actual: &[E]) -> Option<String> {
    let expected: Vec<String> = expected.iter().map(render).collect();
    let actual: Vec<String> = actual.iter().map(render).collect();
    super::diff(&expected, &actual)
}
