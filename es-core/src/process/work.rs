//! One unit of a process manager's work: the instances it touches, the inputs they handle,
//! and what it commits. A batch of the log, a timer that fired and a parked instance's retry
//! are each one unit.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Poll;
use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::{Codec as _, JsonCodec};
use crate::envelope::Position;
use crate::process::ids::{command_id, timer_id};
use crate::process::{
    InstanceRow, ParkedRow, ProcessManager, ProcessWork, Reaction, RoutedEvent, Router, SendError,
    TimerChange, TimerRow,
};
use crate::repository::CommandMeta;
use crate::store::StoreError;

/// The most commands an instance may send while handling one input (answers included): a
/// bound on a reaction loop that never ends. Going over it parks the instance.
const MAX_COMMANDS_PER_INPUT: usize = 1_000;

/// An input an instance waits to handle while it is parked, as stored in its parked record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Queued {
    /// The event at this position of the log.
    Event {
        /// Its position.
        position: u64,
    },
    /// A timer that fired.
    Timer {
        /// Its name.
        name: String,
        /// Its id.
        id: Uuid,
        /// When it was due.
        due: SystemTime,
        /// The timer (encoded).
        payload: Vec<u8>,
        /// The correlation id it carries.
        correlation_id: Option<Uuid>,
    },
}

impl Queued {
    pub(crate) fn timer(row: &TimerRow) -> Self {
        Self::Timer {
            name: row.name.clone(),
            id: row.id,
            due: row.due,
            payload: row.payload.to_vec(),
            correlation_id: row.correlation_id,
        }
    }
}

/// An input to handle: an event of the log, or a timer that fired.
pub(crate) enum Input<'a, P: ProcessManager> {
    Event(&'a RoutedEvent<P>),
    Timer(&'a TimerRow),
}

impl<P: ProcessManager> Input<'_, P> {
    /// The id commands and timers are derived from.
    fn id(&self) -> Uuid {
        match self {
            Self::Event(routed) => routed.meta.event_id.0,
            Self::Timer(row) => row.id,
        }
    }

    /// The conversation the input belongs to.
    fn correlation_id(&self) -> Option<Uuid> {
        match self {
            Self::Event(routed) => Some(routed.meta.correlation_id()),
            Self::Timer(row) => row.correlation_id,
        }
    }

    /// The input's time.
    fn time(&self) -> SystemTime {
        match self {
            Self::Event(routed) => routed.meta.recorded_at,
            Self::Timer(row) => row.due,
        }
    }

    fn queued(&self) -> Queued {
        match self {
            Self::Event(routed) => Queued::Event {
                position: routed.meta.position.0,
            },
            Self::Timer(row) => Queued::timer(row),
        }
    }
}

/// An instance as the unit of work sees it.
struct Slot {
    /// The revision it was loaded at (0: absent).
    revision: u64,
    /// Its state after the inputs handled so far (encoded); `None` while it does not exist.
    state: Option<Bytes>,
    finished: bool,
    parked: Option<Parking>,
    /// Whether it must be written.
    dirty: bool,
}

/// A parked instance's record.
struct Parking {
    error: String,
    inputs: Waiting,
    since: SystemTime,
    retry: bool,
}

/// The inputs a parked instance waits with: as stored, until they are read or added to.
enum Waiting {
    Stored(Bytes),
    Decoded(Vec<Queued>),
}

impl Waiting {
    /// Adds `input` last, for the instance `key` of process `P`.
    fn push<P: ProcessManager>(&mut self, key: &str, input: Queued) -> Result<(), StoreError> {
        match self {
            Self::Decoded(inputs) => inputs.push(input),
            Self::Stored(stored) => {
                let mut inputs = decode_waiting::<P>(key, stored)?;
                inputs.push(input);
                *self = Self::Decoded(inputs);
            }
        }
        Ok(())
    }

    /// The inputs, for the instance `key` of process `P`.
    fn into_decoded<P: ProcessManager>(self, key: &str) -> Result<Vec<Queued>, StoreError> {
        match self {
            Self::Decoded(inputs) => Ok(inputs),
            Self::Stored(stored) => decode_waiting::<P>(key, &stored),
        }
    }

    /// The inputs as stored.
    fn encoded(self) -> Bytes {
        match self {
            Self::Stored(stored) => stored,
            Self::Decoded(inputs) => Bytes::from(serde_json::to_vec(&inputs).unwrap_or_default()),
        }
    }
}

/// The unit of work of process `P`.
pub(crate) struct Unit<P: ProcessManager> {
    slots: HashMap<String, Slot>,
    /// The timers set (`Some`) or cancelled (`None`), by `(key, name)`, the last change of each.
    timers: HashMap<(String, String), Option<TimerRow>>,
    /// The instances whose timers were all cancelled (finished).
    cleared: Vec<String>,
    fired: Vec<Uuid>,
    process: std::marker::PhantomData<fn() -> P>,
}

/// How handling an input ended, when it did not go through.
enum Failure {
    /// The store is unavailable: the whole unit stops, and is tried again.
    Unavailable(StoreError),
    /// The instance cannot handle the input: it is parked with this error.
    Park(String),
}

impl<P: ProcessManager> Unit<P> {
    /// A unit over the instances `rows` (loaded by key).
    pub(crate) fn new(rows: Vec<InstanceRow>) -> Self {
        let slots = rows
            .into_iter()
            .map(|row| {
                let state = stored_state(&row).cloned();
                let parked = row.parked.map(|parked| Parking {
                    error: parked.error,
                    inputs: Waiting::Stored(parked.inputs),
                    since: parked.since,
                    retry: parked.retry,
                });
                let slot = Slot {
                    revision: row.revision,
                    state,
                    finished: row.finished,
                    parked,
                    dirty: false,
                };
                (row.key, slot)
            })
            .collect();
        Self {
            slots,
            timers: HashMap::new(),
            cleared: Vec::new(),
            fired: Vec::new(),
            process: std::marker::PhantomData,
        }
    }

    /// Records that the timer `id` fired in this unit.
    pub(crate) fn fire(&mut self, id: Uuid) {
        self.fired.push(id);
    }

    /// Takes the inputs a parked instance waits with, unparking it (for a retry); `None`
    /// when it is not parked.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when its waiting inputs do not decode.
    pub(crate) fn unpark(&mut self, key: &str) -> Result<Option<Vec<Queued>>, StoreError> {
        self.take_parking(key)
            .map(|parking| parking.inputs.into_decoded::<P>(key))
            .transpose()
    }

    /// Drops what a parked instance waits with (without reading it), and unparks it.
    pub(crate) fn dismiss(&mut self, key: &str) -> bool {
        self.take_parking(key).is_some()
    }

    /// Unparks the instance `key`, returning its parked record; `None` when it is not parked.
    fn take_parking(&mut self, key: &str) -> Option<Parking> {
        let slot = self.slots.get_mut(key)?;
        let parking = slot.parked.take()?;
        slot.dirty = true;
        Some(parking)
    }

    /// Asks for a retry of a parked instance.
    pub(crate) fn ask_retry(&mut self, key: &str) -> bool {
        let Some(slot) = self.slots.get_mut(key) else {
            return false;
        };
        match slot.parked.as_mut() {
            Some(parking) => {
                parking.retry = true;
                slot.dirty = true;
                true
            }
            None => false,
        }
    }

    /// Handles `input` for the instance `key`: `start` says whether the input starts an
    /// instance that does not exist. Fails only when the store is unavailable (the unit must
    /// stop); any other failure parks the instance.
    pub(crate) async fn handle(
        &mut self,
        key: &str,
        start: bool,
        input: Input<'_, P>,
        router: &Router,
        now: SystemTime,
    ) -> Result<(), StoreError> {
        let slot = self.slots.entry(key.to_owned()).or_insert(Slot {
            revision: 0,
            state: None,
            finished: false,
            parked: None,
            dirty: false,
        });
        if slot.finished {
            return Ok(());
        }
        if let Some(parking) = slot.parked.as_mut() {
            parking.inputs.push::<P>(key, input.queued())?;
            slot.dirty = true;
            return Ok(());
        }
        let state = match &slot.state {
            Some(state) => match JsonCodec.decode::<P>(state) {
                Ok(state) => state,
                Err(error) => {
                    let error = format!("its stored state does not decode: {error}");
                    park(slot, error, input.queued(), now);
                    return Ok(());
                }
            },
            None if start => P::default(),
            None => return Ok(()),
        };
        match reaction(state, &input, router).await {
            Ok((state, mut out)) => {
                let encoded = match JsonCodec.encode(&state) {
                    Ok(encoded) => Bytes::from(encoded),
                    Err(error) => {
                        let error = format!("its state does not encode: {error}");
                        park(slot, error, input.queued(), now);
                        return Ok(());
                    }
                };
                slot.dirty = true;
                if out.is_finished() {
                    slot.finished = true;
                    slot.state = None;
                    self.timers.retain(|(timer_key, _), _| timer_key != key);
                    self.cleared.push(key.to_owned());
                    return Ok(());
                }
                slot.state = Some(encoded);
                for change in out.take_timers() {
                    self.change_timer(key, &input, change)?;
                }
                Ok(())
            }
            Err(Failure::Unavailable(error)) => Err(error),
            Err(Failure::Park(error)) => {
                park(slot, error, input.queued(), now);
                Ok(())
            }
        }
    }

    fn change_timer(
        &mut self,
        key: &str,
        input: &Input<'_, P>,
        change: TimerChange<P::Timer>,
    ) -> Result<(), StoreError> {
        let name = change.name();
        let timer = match change {
            TimerChange::Cancel { .. } => None,
            TimerChange::Set { at, timer } => {
                let payload = JsonCodec.encode(&timer).map_err(|error| {
                    StoreError::Backend(format!("timer {name} does not encode: {error}").into())
                })?;
                Some(TimerRow::new(
                    key.to_owned(),
                    name.to_owned(),
                    timer_id(P::NAME, input.id(), name),
                    at,
                    Bytes::from(payload),
                    input.correlation_id(),
                ))
            }
        };
        self.timers.insert((key.to_owned(), name.to_owned()), timer);
        Ok(())
    }

    /// What the unit commits.
    pub(crate) fn into_work(self) -> ProcessWork {
        let mut work = ProcessWork::default();
        for (key, slot) in self.slots {
            if !slot.dirty {
                continue;
            }
            let parked = slot.parked.map(|parking| {
                ParkedRow::new(
                    parking.error,
                    parking.inputs.encoded(),
                    parking.since,
                    parking.retry,
                )
            });
            work.instances.push(InstanceRow::new(
                key,
                slot.state.unwrap_or_default(),
                slot.finished,
                slot.revision,
                parked,
            ));
        }
        for ((key, name), timer) in self.timers {
            match timer {
                Some(timer) => work.set_timers.push(timer),
                None => work.cancelled_timers.push((key, name)),
            }
        }
        work.cleared_timers = self.cleared;
        work.fired = self.fired;
        work
    }
}

/// The state of the instance `row`: `None` when it has none, once finished or while parked
/// on its first input (its row then holds an empty state).
pub(crate) fn stored_state(row: &InstanceRow) -> Option<&Bytes> {
    (!row.finished && !row.state.is_empty()).then_some(&row.state)
}

/// The inputs the parked instance `key` of process `P` waits with, decoded from `stored`
/// (its parked record's).
///
/// # Errors
/// [`StoreError::Corrupt`] when they do not decode.
pub(crate) fn decode_waiting<P: ProcessManager>(
    key: &str,
    stored: &[u8],
) -> Result<Vec<Queued>, StoreError> {
    serde_json::from_slice(stored).map_err(|error| StoreError::Corrupt {
        location: format!("process {}, instance {key}", P::NAME),
        problem: format!("its waiting inputs do not decode: {error}"),
    })
}

/// Parks the instance of `slot` with `error`, `input` first among what waits.
fn park(slot: &mut Slot, error: String, input: Queued, now: SystemTime) {
    slot.parked = Some(Parking {
        error,
        inputs: Waiting::Decoded(vec![input]),
        since: now,
        retry: false,
    });
    slot.dirty = true;
}

/// Runs the instance's reaction to `input` and sends its commands (handing their outcomes
/// back), catching panics: the new state and the reaction's rest (timers, finish).
async fn reaction<P: ProcessManager>(
    mut state: P,
    input: &Input<'_, P>,
    router: &Router,
) -> Result<(P, Reaction<P>), Failure> {
    let mut out = Reaction::new(input.time());
    let reacted = match input {
        Input::Event(routed) => catch_unwind(AssertUnwindSafe(|| {
            state.react_event(&routed.event, &routed.meta, &mut out);
        })),
        Input::Timer(row) => {
            let timer = JsonCodec
                .decode::<P::Timer>(&row.payload)
                .map_err(|error| {
                    Failure::Park(format!("timer {} does not decode: {error}", row.name))
                })?;
            catch_unwind(AssertUnwindSafe(|| state.fire_timer(&timer, &mut out)))
        }
    };
    if let Err(panic) = reacted {
        return Err(Failure::Park(panic_text(&*panic)));
    }
    let mut pending: VecDeque<P::Command> = out.take_commands().into();
    let mut sent = 0_u32;
    while let Some(command) = pending.pop_front() {
        if sent as usize >= MAX_COMMANDS_PER_INPUT {
            return Err(Failure::Park(format!(
                "it sent more than {MAX_COMMANDS_PER_INPUT} commands for one input"
            )));
        }
        let mut meta = CommandMeta::new()
            .with_command_id(command_id(P::NAME, input.id(), sent))
            .with_causation_id(input.id());
        if let Some(correlation) = input.correlation_id() {
            meta = meta.with_correlation_id(correlation);
        }
        sent += 1;
        let sending = state.send_command(&command, router, meta, &mut out);
        match catch_future_unwind(sending).await {
            Ok(Ok(())) => {}
            Ok(Err(error @ SendError::Unavailable { .. })) => {
                return Err(Failure::Unavailable(StoreError::Backend(Box::new(error))));
            }
            Ok(Err(error)) => return Err(Failure::Park(error.to_string())),
            Err(panic) => return Err(Failure::Park(panic_text(&*panic))),
        }
        pending.extend(out.take_commands());
    }
    Ok((state, out))
}

/// Polls `future` to completion, turning a panic in a poll into `Err`.
async fn catch_future_unwind<F: Future>(future: F) -> Result<F::Output, Box<dyn Any + Send>> {
    let mut future = Box::pin(future);
    poll_fn(
        move |cx| match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(panic) => Poll::Ready(Err(panic)),
        },
    )
    .await
}

/// A panic's message, for the parked record.
fn panic_text(panic: &(dyn Any + Send)) -> String {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
    format!("it panicked: {message}")
}

/// The position of a queued event, for reading it again.
pub(crate) fn queued_position(queued: &Queued) -> Option<Position> {
    match queued {
        Queued::Event { position } => Some(Position(*position)),
        Queued::Timer { .. } => None,
    }
}

/// A queued timer as a row, to handle it again.
pub(crate) fn queued_timer(key: &str, queued: &Queued) -> Option<TimerRow> {
    match queued {
        Queued::Timer {
            name,
            id,
            due,
            payload,
            correlation_id,
        } => Some(TimerRow::new(
            key.to_owned(),
            name.clone(),
            *id,
            *due,
            Bytes::from(payload.clone()),
            *correlation_id,
        )),
        Queued::Event { .. } => None,
    }
}
