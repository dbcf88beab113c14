//! The process manager kit: an instance given events, then when an event, a timer firing or
//! a command's outcome, the commands it sends, the timers it sets and its state.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::aggregate::Aggregate;
use crate::codec::JsonCodec;
use crate::command::Command;
use crate::envelope::{EventId, Metadata, Position, RecordedEvent, StreamId, Version};
use crate::event::{Event, encode_event};
use crate::process::{Answer, Instance, Outcome, ProcessManager, Reaction, TimerChange, TimerOf};
use crate::testing::diff;

/// The time of the scenario's first input; each later event is recorded a second later.
const START: Duration = Duration::from_secs(1_700_000_000);

/// Starts a process manager scenario: one instance, from `P::default()`.
///
/// ```
/// # use std::time::Duration;
/// # use es_core::prelude::*;
/// # use es_core::process::{Answer, Instance, OnTimer, Outcome, React, Reaction};
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Event, Debug, Clone, Serialize, Deserialize)]
/// # #[event(name = "order.placed")]
/// # struct Placed { order: u64 }
/// # #[derive(Command, Debug, Clone)]
/// # struct Reserve { #[id] order: u64 }
/// # #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
/// # #[error("out of stock")]
/// # struct OutOfStock;
/// # #[derive(Aggregate, Default, Debug)]
/// # #[aggregate(name = "stock", id = u64, error = OutOfStock, events(Placed), commands(Reserve))]
/// # struct Stock;
/// # impl Apply<Placed> for Stock { fn apply(&mut self, _: &Placed) {} }
/// # impl Handle<Reserve> for Stock {
/// #     fn handle(&self, _: &Reserve) -> Result<Vec<StockEvent>, OutOfStock> { Err(OutOfStock) }
/// # }
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Expired;
///
/// #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
/// #[process(name = "fulfilment", key = u64, events(Placed), commands(Reserve), timers(Expired))]
/// struct Fulfilment { order: u64, reserved: bool }
///
/// impl React<Placed> for Fulfilment {
///     fn key(e: &Placed, _: &EventMeta) -> Instance<u64> { Instance::start(e.order) }
///     fn react(&mut self, e: &Placed, _: &EventMeta, out: &mut Reaction<Self>) {
///         self.order = e.order;
///         out.send(Reserve { order: e.order });
///         out.timer_after(Duration::from_secs(60), Expired);
///     }
/// }
/// impl Answer<Reserve> for Fulfilment {
///     type Aggregate = Stock;
///     fn answer(&mut self, _: &Reserve, outcome: &Outcome<OutOfStock>, out: &mut Reaction<Self>) {
///         self.reserved = outcome.is_accepted();
///         out.cancel_timer::<Expired>();
///     }
/// }
/// impl OnTimer<Expired> for Fulfilment {
///     fn on_timer(&mut self, _: &Expired, out: &mut Reaction<Self>) { out.finish(); }
/// }
///
/// use es_core::testing::process;
///
/// process::<Fulfilment>()
///     .when("order-7", Placed { order: 7 })
///     .then_starts(7)
///     .then_sends([Reserve { order: 7 }])
///     .then_sets_timer(Expired, Duration::from_secs(60));
///
/// process::<Fulfilment>()
///     .given("order-7", Placed { order: 7 })
///     .when_answered(Reserve { order: 7 }, Outcome::Refused(OutOfStock))
///     .then_sends::<Reserve>([])
///     .then_cancels_timer::<Expired>()
///     .then_state(|f| assert!(!f.reserved));
///
/// process::<Fulfilment>().when_timer(Expired).then_finished();
/// ```
pub fn process<P: ProcessManager>() -> ProcessScenario<P> {
    ProcessScenario {
        state: P::default(),
        versions: HashMap::new(),
        position: Position::START,
    }
}

/// An instance of a process manager given its history, waiting for an input.
#[derive(Debug)]
pub struct ProcessScenario<P> {
    state: P,
    versions: HashMap<StreamId, Version>,
    position: Position,
}

/// What an instance did with an input, ready to be checked.
#[derive(Debug)]
pub struct ProcessThen<P: ProcessManager> {
    state: P,
    reaction: Reaction<P>,
    instance: Option<Instance<P::Key>>,
}

impl<P: ProcessManager> ProcessScenario<P> {
    /// Starts from `state` instead of `P::default()`.
    #[must_use]
    pub fn with_state(mut self, state: P) -> Self {
        self.state = state;
        self
    }

    /// The time of the next input.
    fn now(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + START + Duration::from_secs(self.position.0)
    }

    /// `event` stored in `stream`, as the runner would hand it over: the next version and
    /// position, recorded a second after the previous input.
    fn record<E: Event>(&mut self, stream: &str, event: &E) -> RecordedEvent {
        let stream_id = StreamId::new(stream).unwrap_or_else(|err| panic!("{err}"));
        let recorded_at = self.now();
        let version = self.versions.entry(stream_id.clone()).or_default();
        *version = version.next();
        self.position = self.position.next();
        let encoded = encode_event(&JsonCodec, event)
            .unwrap_or_else(|err| panic!("event {} does not encode: {err}", E::NAME));
        RecordedEvent {
            stream_id,
            stream_version: *version,
            position: self.position,
            event_id: EventId::new(),
            recorded_at,
            name: Arc::from(E::NAME),
            schema_version: E::VERSION,
            payload: encoded.payload,
            metadata: Metadata::default(),
        }
    }

    /// Routes and hands `event` (stored in `stream`) to the instance; returns the instance
    /// it went to and the reaction.
    fn react<E: Event>(&mut self, stream: &str, event: &E) -> (Instance<P::Key>, Reaction<P>) {
        let recorded = self.record(stream, event);
        let routed = P::route(&JsonCodec, &recorded)
            .unwrap_or_else(|err| panic!("process {}: {err}", P::NAME));
        let Some((instance, decoded)) = routed else {
            panic!(
                "process {} does not react to {}: it is not in its events(..)",
                P::NAME,
                E::NAME
            );
        };
        let mut out = Reaction::new(recorded.recorded_at);
        if !matches!(instance, Instance::Ignore) {
            self.state.react_event(&decoded, &recorded, &mut out);
        }
        (instance, out)
    }

    /// Hands `event`, stored in `stream`, to the instance, as history: what it sends and
    /// sets is not checked.
    ///
    /// # Panics
    /// When `stream` is not a valid stream id, the event does not encode or decode, or the
    /// process does not react to it.
    #[track_caller]
    #[must_use]
    pub fn given<E: Event>(mut self, stream: &str, event: E) -> Self {
        self.react(stream, &event);
        self
    }

    /// Hands `event`, stored in `stream`, to the instance (unless its key ignores it).
    ///
    /// # Panics
    /// As [`given`](Self::given).
    #[track_caller]
    pub fn when<E: Event>(mut self, stream: &str, event: E) -> ProcessThen<P> {
        let (instance, reaction) = self.react(stream, &event);
        ProcessThen {
            state: self.state,
            reaction,
            instance: Some(instance),
        }
    }

    /// Fires `timer` for the instance.
    #[must_use]
    pub fn when_timer(mut self, timer: impl Into<P::Timer>) -> ProcessThen<P> {
        let mut reaction = Reaction::new(self.now());
        self.state.fire_timer(&timer.into(), &mut reaction);
        ProcessThen {
            state: self.state,
            reaction,
            instance: None,
        }
    }

    /// Hands the instance `outcome` as the answer to `command`.
    #[must_use]
    pub fn when_answered<C: Command>(
        mut self,
        command: C,
        outcome: Outcome<<<P as Answer<C>>::Aggregate as Aggregate>::Error>,
    ) -> ProcessThen<P>
    where
        P: Answer<C>,
    {
        let mut reaction = Reaction::new(self.now());
        self.state.answer(&command, &outcome, &mut reaction);
        ProcessThen {
            state: self.state,
            reaction,
            instance: None,
        }
    }
}

impl<P: ProcessManager> ProcessThen<P> {
    /// Asserts that the instance sent exactly `expected`, in order (compared by their
    /// `Debug` form).
    ///
    /// # Panics
    /// When it did not; the message is a line-per-command diff.
    #[track_caller]
    pub fn then_sends<C: Into<P::Command>>(self, expected: impl IntoIterator<Item = C>) -> Self {
        let expected: Vec<String> = expected
            .into_iter()
            .map(|command| format!("{:?}", command.into()))
            .collect();
        let actual: Vec<String> = self
            .reaction
            .commands()
            .iter()
            .map(|command| format!("{command:?}"))
            .collect();
        if let Some(diff) = diff(&expected, &actual) {
            panic!("process {}: the commands sent differ:\n{diff}", P::NAME);
        }
        self
    }

    /// Asserts that the instance set `timer` to fire `after` the input.
    ///
    /// # Panics
    /// When it did not; the message lists the timers it set and cancelled.
    #[track_caller]
    pub fn then_sets_timer(self, timer: impl Into<P::Timer>, after: Duration) -> Self {
        let at = self.reaction.now() + after;
        let expected = format!(
            "{:?}",
            TimerChange::Set {
                at,
                timer: timer.into()
            }
        );
        let set = self
            .reaction
            .timers()
            .iter()
            .any(|change| format!("{change:?}") == expected);
        assert!(
            set,
            "process {}: expected the timer change {expected}, got {:?}",
            P::NAME,
            self.reaction.timers()
        );
        self
    }

    /// Asserts that the instance cancelled its timer `T`.
    ///
    /// # Panics
    /// When it did not.
    #[track_caller]
    pub fn then_cancels_timer<T: TimerOf<P>>(self) -> Self {
        let cancelled = self
            .reaction
            .timers()
            .iter()
            .any(|change| matches!(change, TimerChange::Cancel { name } if *name == T::NAME));
        assert!(
            cancelled,
            "process {}: expected timer {} cancelled, got {:?}",
            P::NAME,
            T::NAME,
            self.reaction.timers()
        );
        self
    }

    /// Asserts that the instance finished.
    ///
    /// # Panics
    /// When it did not.
    #[track_caller]
    pub fn then_finished(self) -> Self {
        assert!(
            self.reaction.is_finished(),
            "process {}: expected the instance to finish; its reaction: {:?}",
            P::NAME,
            self.reaction
        );
        self
    }

    /// Asserts that the event started (or went to) the instance of `key`.
    ///
    /// # Panics
    /// When the input was not an event, or it went elsewhere.
    #[track_caller]
    pub fn then_starts(self, key: P::Key) -> Self {
        self.then_instance(Instance::Start(key))
    }

    /// Asserts that the event's instance is `expected` (started, existing, or ignored).
    ///
    /// # Panics
    /// When the input was not an event, or its instance differs.
    #[track_caller]
    pub fn then_instance(self, expected: Instance<P::Key>) -> Self {
        assert_eq!(
            self.instance,
            Some(expected),
            "process {}: the event's instance",
            P::NAME
        );
        self
    }

    /// Runs `check` on the instance's state after the input.
    pub fn then_state(self, check: impl FnOnce(&P)) -> Self {
        check(&self.state);
        self
    }

    /// The reaction, for checks of its own.
    #[must_use]
    pub fn reaction(&self) -> &Reaction<P> {
        &self.reaction
    }
}
