//! Derive macros of [es-core](https://docs.rs/es-core): `Event`, `Command`, `Aggregate`,
//! `Projection` and `ProcessManager`.
//!
//! Use them through es-core (`use es_core::prelude::*;`), which re-exports them under its
//! default `derive` feature. Each derive parses its input into a small intermediate
//! representation (`ast`), checks it and collects every error with its span (`valid`), then
//! generates code (`expand`); on errors it emits them together with stand-in items
//! (`fallback`) so the rest of the crate still type-checks.
#![deny(missing_docs)]
// `pedantic` with a short list of documented exceptions.
#![warn(clippy::pedantic)]
#![allow(
    // Generated-code builders read best as one function per generated item.
    clippy::too_many_lines,
    // Error messages are built with `format!` into `String`s on purpose.
    clippy::needless_pass_by_value
)]

mod ast;
mod attr;
mod ctxt;
mod expand;
mod fallback;
mod symbol;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

use crate::ctxt::Ctxt;

/// Derives [`Event`](https://docs.rs/es-core/latest/es_core/event/trait.Event.html): a
/// fact with a stable wire name and a schema version.
///
/// ```
/// use es_core::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Debug, Serialize, Deserialize)]
/// #[event(name = "user.email_changed", version = 2)]
/// pub struct EmailChanged {
///     pub email: String,
/// }
///
/// assert_eq!(EmailChanged::NAME, "user.email_changed");
/// assert_eq!(EmailChanged::VERSION, 2);
/// ```
///
/// # `#[event(..)]` keys
///
/// | Key | Required | Meaning |
/// |---|---|---|
/// | `name = "..."` | yes | The wire name stored with each event. ASCII letters, digits and `.` `_` `-` `/` `:`, starting with a letter or digit, at most 255 bytes: the rule of [`es_core::names`](https://docs.rs/es-core/latest/es_core/names/index.html), checked at compile time, which every store also enforces. Never change it once events are stored; rename the Rust type instead, freely. |
/// | `version = N` | no, default `1` | The schema version of the payload, from 1. |
/// | `upcast_from = Type` | no | The type of the previous schema version: an `Event` with the same name and a lower version. Stored payloads of older versions decode through it (and, recursively, its own `upcast_from`), then convert with `impl From<Type> for Self`. Stored data is never rewritten. |
/// | `crate = "path"` | no, default `"::es_core"` | Where es-core is, when it is re-exported under another path. |
///
/// The type must be a non-generic struct implementing `Debug`, `Serialize` and
/// `Deserialize`.
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::new();
    let ir = ast::Event::from_syn(&cx, &input);
    let checked = ir.as_ref().and_then(|ir| valid::event(&cx, ir));
    match (cx.check(), checked) {
        (Ok(()), Some(checked)) => expand::event::expand(&checked, &input),
        (Ok(()), None) => fallback::internal(&input, "Event"),
        (Err(err), _) => fallback::event(&err, ir.as_ref()),
    }
    .into()
}

/// Derives [`Command`](https://docs.rs/es-core/latest/es_core/command/trait.Command.html):
/// an intention addressed to one aggregate, whose id is the field marked `#[id]`.
///
/// ```
/// use es_core::prelude::*;
///
/// #[derive(Command, Debug)]
/// pub struct RenameUser {
///     #[id]
///     pub user_id: u64,
///     pub name: String,
/// }
///
/// let cmd = RenameUser { user_id: 3, name: "Grace".into() };
/// assert_eq!(*cmd.aggregate_id(), 3);
/// ```
///
/// # Attributes
///
/// - `#[id]` on exactly one field (named or tuple): the target aggregate's id. Its type must
///   be the `id` type of the aggregate listing this command.
/// - `#[command(validate = path)]`: a function `fn(&Self) -> Result<(), ValidationErrors>`
///   checking the command's own rules before its aggregate decides (see
///   [`es_core::validation`](https://docs.rs/es-core/latest/es_core/validation/index.html)).
/// - `#[command(garde)]`: also check the rules of the type's `garde::Validate` derive (needs
///   es-core's `garde` feature). With `validate` too, garde's errors come first.
/// - `#[command(crate = "path")]`: where es-core is, when re-exported (default `"::es_core"`).
///
/// ```
/// use es_core::prelude::*;
///
/// #[derive(Command, Debug)]
/// #[command(validate = check_name)]
/// pub struct RenameUser {
///     #[id]
///     pub user_id: u64,
///     pub name: String,
/// }
///
/// fn check_name(cmd: &RenameUser) -> Result<(), ValidationErrors> {
///     let mut errors = ValidationErrors::new();
///     if cmd.name.is_empty() {
///         errors.add("name", "must not be empty");
///     }
///     errors.into_result()
/// }
///
/// let errors = RenameUser { user_id: 3, name: String::new() }.validate().unwrap_err();
/// assert_eq!(errors.to_string(), "name: must not be empty");
/// ```
///
/// The type must be a non-generic struct implementing `Debug`.
#[proc_macro_derive(Command, attributes(command, id))]
pub fn derive_command(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::new();
    let ir = ast::Command::from_syn(&cx, &input);
    let checked = ir.as_ref().and_then(|ir| valid::command(&cx, ir));
    match (cx.check(), checked) {
        (Ok(()), Some(checked)) => expand::command::expand(&checked, &input),
        (Ok(()), None) => fallback::internal(&input, "Command"),
        (Err(err), _) => fallback::command(&err, ir.as_ref()),
    }
    .into()
}

/// Derives [`Aggregate`](https://docs.rs/es-core/latest/es_core/aggregate/trait.Aggregate.html)
/// and generates the aggregate's event and command enums.
///
/// ```
/// use es_core::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Debug, Serialize, Deserialize)]
/// #[event(name = "lamp.switched")]
/// pub struct Switched { pub on: bool }
///
/// #[derive(Command, Debug)]
/// pub struct Switch { #[id] pub lamp: u32, pub on: bool }
///
/// #[derive(Debug, thiserror::Error)]
/// #[error("the lamp is already in that state")]
/// pub struct NoChange;
///
/// #[derive(Aggregate, Default, Debug)]
/// #[aggregate(name = "lamp", id = u32, error = NoChange,
///             events(Switched), commands(Switch))]
/// pub struct Lamp { on: bool }
///
/// impl Apply<Switched> for Lamp {
///     fn apply(&mut self, event: &Switched) { self.on = event.on; }
/// }
///
/// impl Handle<Switch> for Lamp {
///     fn handle(&self, cmd: &Switch) -> Result<Vec<LampEvent>, NoChange> {
///         if cmd.on == self.on { return Err(NoChange); }
///         Ok(vec![Switched { on: cmd.on }.into()])
///     }
/// }
///
/// // Generated: `LampEvent::Switched(Switched)`, `LampCommand::Switch(Switch)`, the `From`
/// // conversions, and `Aggregate for Lamp` dispatching to the impls above.
/// let mut lamp = Lamp::default();
/// let events = lamp.handle_command(&Switch { lamp: 1, on: true }.into()).unwrap();
/// assert_eq!(events[0].name(), "lamp.switched");
/// lamp.apply_event(&events[0]);
/// assert!(lamp.on);
/// ```
///
/// # `#[aggregate(..)]` keys
///
/// | Key | Required | Meaning |
/// |---|---|---|
/// | `name = "..."` | yes | The aggregate's stable name; its streams are `"{name}-{id}"`. Same characters as event names except `-`, which separates the name from the id in a stream id (so `user` and `user-admin` cannot share streams). |
/// | `id = Type` | yes | The id type; every command's `#[id]` field has this type. |
/// | `error = Type` | yes | The domain error of its `Handle` impls (a `std::error::Error`). |
/// | `events(A, B, ..)` | yes | The event types (each deriving `Event`, with distinct wire names). One `Apply<E>` impl each. |
/// | `commands(A, B, ..)` | yes | The command types (each deriving `Command`). One `Handle<C>` impl each. |
/// | `event_enum = Name` | no, default `{Aggregate}Event` | The generated event enum's name. |
/// | `command_enum = Name` | no, default `{Aggregate}Command` | The generated command enum's name. |
/// | `event_derive(..)` | no | Extra derives for the event enum, such as `Clone, PartialEq` (it always derives `Debug`). |
/// | `command_derive(..)` | no | Extra derives for the command enum. |
/// | `snapshot_every = N` | no, default: the repository's | Snapshot every `N` events (`0`: never), overriding `Repository::with_snapshot_every`. |
/// | `snapshot_version = N` | no, default `1` | The schema version of the snapshotted state; bump it when the state's serialized shape changes, and older snapshots are ignored. |
/// | `crate = "path"` | no, default `"::es_core"` | Where es-core is, when re-exported. |
///
/// Variants are named after the last path segment of each listed type. The enums get the
/// aggregate's visibility and docs listing every variant with the impl it needs. The type
/// must be a non-generic struct implementing `Default` and `Debug`.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::new();
    let ir = ast::Aggregate::from_syn(&cx, &input);
    let checked = ir.as_ref().and_then(|ir| valid::aggregate(&cx, ir));
    match (cx.check(), checked) {
        (Ok(()), Some(checked)) => expand::aggregate::expand(&checked, &input),
        (Ok(()), None) => fallback::internal(&input, "Aggregate"),
        (Err(err), _) => fallback::aggregate(&err, ir.as_ref()),
    }
    .into()
}

/// Derives [`Projection`](https://docs.rs/es-core/latest/es_core/projection/trait.Projection.html):
/// a read model fed from the global log, one `On<E>` impl per listed event.
///
/// ```
/// use std::collections::BTreeMap;
///
/// use es_core::EventDescriptor;
/// use es_core::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Debug, Serialize, Deserialize)]
/// #[event(name = "order.placed")]
/// pub struct OrderPlaced { pub customer: String, pub total: u64 }
///
/// #[derive(Event, Debug, Serialize, Deserialize)]
/// #[event(name = "customer.renamed")]
/// pub struct CustomerRenamed { pub old: String, pub new: String }
///
/// /// Revenue per customer, across two aggregates' events.
/// #[derive(Projection, Default, Debug)]
/// #[projection(name = "revenue", events(OrderPlaced, CustomerRenamed))]
/// pub struct Revenue { by_customer: BTreeMap<String, u64> }
///
/// impl On<OrderPlaced> for Revenue {
///     fn on(&mut self, event: &OrderPlaced, _: &EventMeta) {
///         *self.by_customer.entry(event.customer.clone()).or_default() += event.total;
///     }
/// }
///
/// impl On<CustomerRenamed> for Revenue {
///     fn on(&mut self, event: &CustomerRenamed, _: &EventMeta) {
///         if let Some(total) = self.by_customer.remove(&event.old) {
///             self.by_customer.insert(event.new.clone(), total);
///         }
///     }
/// }
///
/// // The wire name and schema version of each listed event, in order.
/// let names: Vec<_> = Revenue::EVENTS.iter().map(|event| event.name).collect();
/// assert_eq!(names, ["order.placed", "customer.renamed"]);
/// assert_eq!(Revenue::EVENTS[0], EventDescriptor::of::<OrderPlaced>());
/// ```
///
/// # `#[projection(..)]` keys
///
/// | Key | Required | Meaning |
/// |---|---|---|
/// | `name = "..."` | yes | The projection's stable name: its checkpoint is saved under it. Same characters as event names. |
/// | `events(A, B, ..)` | yes | The event types it reads, from any aggregates (each deriving `Event`, with distinct wire names). One `On<E>` impl each. Other events are skipped without being decoded. |
/// | `crate = "path"` | no, default `"::es_core"` | Where es-core is, when re-exported. |
///
/// The type must be a non-generic struct that is `Send` and `Sync` (the `Projection` trait's
/// bounds). `ProjectionRunner::rebuild` also needs `Default`.
#[proc_macro_derive(Projection, attributes(projection))]
pub fn derive_projection(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::new();
    let ir = ast::Projection::from_syn(&cx, &input);
    let checked = ir.as_ref().and_then(|ir| valid::projection(&cx, ir));
    match (cx.check(), checked) {
        (Ok(()), Some(checked)) => expand::projection::expand(&checked, &input),
        (Ok(()), None) => fallback::internal(&input, "Projection"),
        (Err(err), _) => fallback::projection(&err, ir.as_ref()),
    }
    .into()
}

/// Derives [`ProcessManager`](https://docs.rs/es-core/latest/es_core/process/trait.ProcessManager.html):
/// a workflow across aggregates, and generates its event, command and timer enums.
///
/// The struct is the state of one instance (stored as its serde form). It reacts to each
/// listed event with a `React<E>` impl, which also says which instance the event belongs to
/// (`key`); to the outcome of each listed command it sends with an `Answer<C>` impl, which
/// names the aggregate that executes the command; and to each listed timer with an
/// `OnTimer<T>` impl. A [`Workflow`](https://docs.rs/es-core/latest/es_core/process/struct.Workflow.html)
/// runs it.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use es_core::prelude::*;
/// use es_core::process::{TimerOf, TimerSet};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Event, Debug, Serialize, Deserialize)]
/// #[event(name = "order.placed")]
/// pub struct OrderPlaced { pub order: u64 }
///
/// #[derive(Event, Debug, Serialize, Deserialize)]
/// #[event(name = "order.paid")]
/// pub struct OrderPaid { pub order: u64 }
///
/// #[derive(Command, Debug, Clone)]
/// pub struct Ship { #[id] pub order: u64 }
///
/// #[derive(Command, Debug, Clone)]
/// pub struct Cancel { #[id] pub order: u64 }
///
/// // The aggregate that executes the commands. Its error is a serde type: refusals are
/// // remembered under their command ids.
/// #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
/// #[error("the order is closed")]
/// pub struct Closed;
///
/// #[derive(Aggregate, Default, Debug)]
/// #[aggregate(name = "order", id = u64, error = Closed,
///             events(OrderPlaced, OrderPaid), commands(Ship, Cancel))]
/// pub struct Order { closed: bool }
/// # impl Apply<OrderPlaced> for Order { fn apply(&mut self, _: &OrderPlaced) {} }
/// # impl Apply<OrderPaid> for Order { fn apply(&mut self, _: &OrderPaid) {} }
/// # impl Handle<Ship> for Order {
/// #     fn handle(&self, _: &Ship) -> Result<Vec<OrderEvent>, Closed> { Ok(vec![]) }
/// # }
/// # impl Handle<Cancel> for Order {
/// #     fn handle(&self, _: &Cancel) -> Result<Vec<OrderEvent>, Closed> { Ok(vec![]) }
/// # }
///
/// /// Fires when an order stays unpaid for an hour.
/// #[derive(Debug, Clone, Serialize, Deserialize)]
/// pub struct PaymentDue;
///
/// #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
/// #[process(name = "fulfilment", key = u64,
///           events(OrderPlaced, OrderPaid), commands(Ship, Cancel), timers(PaymentDue))]
/// pub struct Fulfilment { order: u64 }
///
/// impl React<OrderPlaced> for Fulfilment {
///     fn key(event: &OrderPlaced, _: &EventMeta) -> Instance<u64> {
///         Instance::start(event.order)
///     }
///     fn react(&mut self, event: &OrderPlaced, _: &EventMeta, out: &mut Reaction<Self>) {
///         self.order = event.order;
///         out.timer_after(Duration::from_secs(3600), PaymentDue);
///     }
/// }
///
/// impl React<OrderPaid> for Fulfilment {
///     fn key(event: &OrderPaid, _: &EventMeta) -> Instance<u64> {
///         Instance::existing(event.order)
///     }
///     fn react(&mut self, _: &OrderPaid, _: &EventMeta, out: &mut Reaction<Self>) {
///         out.cancel_timer::<PaymentDue>().send(Ship { order: self.order });
///     }
/// }
///
/// impl OnTimer<PaymentDue> for Fulfilment {
///     fn on_timer(&mut self, _: &PaymentDue, out: &mut Reaction<Self>) {
///         out.send(Cancel { order: self.order });
///     }
/// }
///
/// impl Answer<Ship> for Fulfilment {
///     type Aggregate = Order;
///     fn answer(&mut self, _: &Ship, _: &Outcome<Closed>, out: &mut Reaction<Self>) {
///         out.finish();
///     }
/// }
///
/// impl Answer<Cancel> for Fulfilment {
///     type Aggregate = Order;
///     fn answer(&mut self, _: &Cancel, _: &Outcome<Closed>, out: &mut Reaction<Self>) {
///         out.finish();
///     }
/// }
///
/// // Generated: `FulfilmentEvent`, `FulfilmentCommand` and `FulfilmentTimer`, their `From`
/// // conversions, the timers' names, and `ProcessManager for Fulfilment` dispatching to the
/// // impls above.
/// let names: Vec<_> = Fulfilment::EVENTS.iter().map(|event| event.name).collect();
/// assert_eq!(names, ["order.placed", "order.paid"]);
/// assert_eq!(FulfilmentTimer::from(PaymentDue).name(), "PaymentDue");
/// assert_eq!(<PaymentDue as TimerOf<Fulfilment>>::NAME, "PaymentDue");
///
/// let mut fulfilment = Fulfilment { order: 7 };
/// let mut out = Reaction::new(SystemTime::UNIX_EPOCH);
/// // The dispatching `ProcessManager::fire_timer`, as the runtime calls it.
/// fulfilment.fire_timer(&PaymentDue.into(), &mut out);
/// assert!(matches!(out.commands(), [FulfilmentCommand::Cancel(Cancel { order: 7 })]));
/// ```
///
/// # `#[process(..)]` keys
///
/// | Key | Required | Meaning |
/// |---|---|---|
/// | `name = "..."` | yes | The process's stable name: its checkpoint, its stored instances and the ids of the commands it sends are named after it. Same rule as projection names. |
/// | `key = Type` | yes | What identifies an instance, such as an order id (`Serialize`, `Deserialize`, `Clone`, `Eq`, `Hash`, `Debug`). |
/// | `events(A, B, ..)` | yes | The event types it reacts to, from any aggregates (each deriving `Event`, with distinct wire names). One `React<E>` impl each. Other events are skipped without being decoded. |
/// | `commands(A, B, ..)` | no | The command types it sends (each deriving `Command`, and `Clone`). One `Answer<C>` impl each, naming the aggregate that executes it. Without it, the process sends nothing. |
/// | `timers(A, B, ..)` | no | Its timer types (each `Serialize`, `Deserialize`, `Debug` and `Clone`), named after their types. One `OnTimer<T>` impl each. Without it, the process has no timers. |
/// | `event_enum = Name` | no, default `{Process}Event` | The generated event enum's name. |
/// | `command_enum = Name` | no, default `{Process}Command` | The generated command enum's name. |
/// | `timer_enum = Name` | no, default `{Process}Timer` | The generated timer enum's name (with `timers(..)` only). |
/// | `crate = "path"` | no, default `"::es_core"` | Where es-core is, when re-exported. |
///
/// Variants are named after the last path segment of each listed type. The enums get the
/// process manager's visibility and docs listing every variant with the impl it needs; the
/// timer enum is stored as its serde form, externally tagged by the variant's name, so a
/// timer type keeps its name once instances are stored. The type must be a non-generic
/// struct implementing `Default`, `Serialize` and `Deserialize`, `Send` and `Sync`.
#[proc_macro_derive(ProcessManager, attributes(process))]
pub fn derive_process_manager(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    let cx = Ctxt::new();
    let ir = ast::Process::from_syn(&cx, &input);
    let checked = ir.as_ref().and_then(|ir| valid::process(&cx, ir));
    match (cx.check(), checked) {
        (Ok(()), Some(checked)) => expand::process::expand(&checked, &input),
        (Ok(()), None) => fallback::internal(&input, "ProcessManager"),
        (Err(err), _) => fallback::process(&err, ir.as_ref()),
    }
    .into()
}
