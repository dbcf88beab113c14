//! Event sourcing and CQRS for Rust, driven by derive macros.
//!
//! Model a domain as plain structs: **events** (facts), **commands** (intentions) and
//! **aggregates** (consistency boundaries that decide which events a command produces).
//! The derives generate the wiring: each aggregate's event and command enums, `apply` and
//! command dispatch, encoding by stable event name and schema version, and the docs of all
//! of it. The runtime loads aggregates by replaying their stream and executes commands with
//! optimistic concurrency against any [`EventStore`].
//!
//! # A tour
//!
//! ```
//! use es_core::prelude::*;
//! use es_memstore::MemStore;
//! use serde::{Deserialize, Serialize};
//!
//! // Events: facts, with a stable wire name (version defaults to 1).
//! #[derive(Event, Debug, Serialize, Deserialize)]
//! #[event(name = "account.opened")]
//! pub struct Opened { pub owner: String }
//!
//! #[derive(Event, Debug, Serialize, Deserialize)]
//! #[event(name = "account.deposited")]
//! pub struct Deposited { pub amount: u64 }
//!
//! // Commands: intentions, addressed to one aggregate by their `#[id]` field.
//! #[derive(Command, Debug)]
//! pub struct Open { #[id] pub account: u64, pub owner: String }
//!
//! #[derive(Command, Debug)]
//! pub struct Deposit { #[id] pub account: u64, pub amount: u64 }
//!
//! #[derive(Debug, PartialEq, thiserror::Error)]
//! pub enum AccountError {
//!     #[error("the account is already open")]
//!     AlreadyOpen,
//!     #[error("the account is not open")]
//!     NotOpen,
//! }
//!
//! // The aggregate: its state, and the lists that generate `AccountEvent` and `AccountCommand`.
//! #[derive(Aggregate, Default, Debug)]
//! #[aggregate(name = "account", id = u64, error = AccountError,
//!             events(Opened, Deposited), commands(Open, Deposit))]
//! pub struct Account { open: bool, balance: u64 }
//!
//! impl Apply<Opened> for Account {
//!     fn apply(&mut self, _: &Opened) { self.open = true; }
//! }
//! impl Apply<Deposited> for Account {
//!     fn apply(&mut self, e: &Deposited) { self.balance += e.amount; }
//! }
//! impl Handle<Open> for Account {
//!     fn handle(&self, cmd: &Open) -> Result<Vec<AccountEvent>, AccountError> {
//!         if self.open { return Err(AccountError::AlreadyOpen); }
//!         Ok(vec![Opened { owner: cmd.owner.clone() }.into()])
//!     }
//! }
//! impl Handle<Deposit> for Account {
//!     fn handle(&self, cmd: &Deposit) -> Result<Vec<AccountEvent>, AccountError> {
//!         if !self.open { return Err(AccountError::NotOpen); }
//!         Ok(vec![Deposited { amount: cmd.amount }.into()])
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemStore::new();
//! let accounts = Repository::<Account, _>::new(store.clone());
//!
//! accounts.execute(Open { account: 1, owner: "Ada".into() }).await?;
//! accounts.execute(Deposit { account: 1, amount: 30 }).await?;
//! let refused = accounts.execute(Deposit { account: 2, amount: 5 }).await;
//! assert!(matches!(refused, Err(ExecuteError::Domain(AccountError::NotOpen))));
//!
//! let account = accounts.load(&1).await?;
//! assert_eq!((account.state.balance, account.version), (30, Version(2)));
//!
//! // The store holds bytes: the wire name, schema version and JSON payload.
//! let log = store.read_all(Position::START, 10).await?;
//! assert_eq!(&*log[1].name, "account.deposited");
//! assert_eq!(&log[1].payload[..], br#"{"amount":30}"#);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Learn more
//!
//! - The guide, the repository's `es-guide` crate (`cargo doc -p es-guide --open`): from the
//!   first aggregate to production, modelling, evolving events, workflows and stores included.
//! - [`process`]: process managers, workflows across aggregates with timers.
//! - [`projection`]: read models fed from the global log, and the [`ProjectionRunner`].
//! - `testing` (feature `testing`): the given/when/then test kit for aggregates and
//!   projections.
//! - [`catalog`]: a picture of the domain from its types, as Mermaid, DOT, JSON or one HTML
//!   page.
//!
//! # Layers
//!
//! - Domain (pure, synchronous): [`Event`], [`Command`], [`Aggregate`], [`Apply`], [`Handle`],
//!   and the rules of their [`names`].
//! - Envelopes and encoding: [`envelope`] ([`NewEvent`], [`RecordedEvent`]) and [`codec`].
//! - Stores: the [`EventStore`] trait and its contract, in [`store`].
//! - Runtime: [`Repository`], in [`repository`]; [`Subscription`] and [`ProjectionRunner`], in
//!   [`subscription`] and [`projection`].
//!
//! # Features
//!
//! - `derive` (default): re-exports the derive macros of `es-macros`.
//! - `testing`: the given/when/then test kit, `es_core::testing` (enable it in your
//!   dev-dependencies).
//! - `garde`: command validation with [garde](https://docs.rs/garde), through
//!   `#[command(garde)]`; see [`validation`].
//! - `tracing`: spans for [tracing](https://docs.rs/tracing), below.
//! - `axum`: HTTP responses for the runtime's errors, with a JSON body naming the failing
//!   fields; see `http`.
//!
//! # Tracing
//!
//! With the `tracing` feature, the runtime opens a `DEBUG` span under the target `es` for
//! each step; without it, the instrumentation compiles to nothing (no span, no field
//! evaluated, no dependency on `tracing`). Fields marked *later* are recorded when known,
//! and stay empty when the step ends before (a refused command records no version).
//!
//! | span | opened by | fields |
//! |---|---|---|
//! | `es.execute` | [`Repository::execute`], [`execute_with`](Repository::execute_with) | `aggregate`, `command` (its name), `command_id`; later `stream`, and after the append `version`, `position` (the last event's) and `attempts` |
//! | `es.load` | [`Repository::load`], `load_at`, `load_as_of`, and a command that misses the cache | `aggregate`, `stream`; later `snapshot` (the version of the snapshot used, if any) and `version` |
//! | `es.append` | each append of a command, inside its `es.execute` | `stream`, `expected` (the version appended after), `events` |
//! | `es.project` | each batch a projection runner applies | `projection`, `first` (the batch's first position), `events`; later `applied` |
//!
//! One event, at the `WARN` level under the target `es`: each store failure that
//! [`ProjectionRunner::run`] retries, with the fields `projection`, `failures` (in a row),
//! `retry_in` and `error`.
//!
//! A subscriber such as `tracing-subscriber`'s `fmt` layer with `RUST_LOG=es=debug` shows
//! them; an OpenTelemetry layer turns them into traces.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets the derives' `::es_core::` paths resolve inside this crate too (its unit tests and
// doc tests use them).
#[allow(unused_extern_crates)]
extern crate self as es_core;

pub mod aggregate;
pub mod catalog;
pub mod codec;
pub mod command;
pub mod envelope;
pub mod error;
pub mod event;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;
pub mod names;
pub mod process;
pub mod projection;
pub mod repository;
pub mod retry;
pub mod snapshot;
pub mod store;
pub mod subscription;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod trace;
mod util;
pub mod validation;

pub use aggregate::{Aggregate, Apply, Handle};
pub use codec::{Codec, JsonCodec};
pub use command::{AggregateId, Command, CommandSet};
pub use envelope::{
    EventId, Metadata, NewEvent, Position, RecordedEvent, StoredEvent, StreamId, Version,
};
pub use error::{DecodeError, PayloadError};
pub use event::{Event, EventDescriptor, EventSet};
pub use projection::{InMemory, On, Projection, ProjectionError, ProjectionRunner};
pub use repository::{CommandMeta, ExecuteError, Executed, LoadError, Loaded, Repository};
pub use retry::RetryPolicy;
pub use snapshot::{NoSnapshots, SnapshotStore};
pub use store::{
    Appended, BATCH_SIZE, CheckpointStore, EventStore, ExpectedVersion, NoCheckpoints, Recorded,
    Refusal, StoreError,
};
pub use subscription::Subscription;
pub use validation::{FieldError, ValidationErrors};

/// The id type of commands, correlations and events ([`EventId`] wraps one), re-exported so
/// that a program names it without depending on `uuid` itself.
pub use uuid::Uuid;

#[cfg(feature = "derive")]
#[cfg_attr(docsrs, doc(cfg(feature = "derive")))]
pub use es_macros::{Aggregate, Command, Event, ProcessManager, Projection};

/// The types and traits most programs need: `use es_core::prelude::*;`.
pub mod prelude {
    pub use crate::aggregate::{Aggregate, Apply, Handle};
    pub use crate::command::{Command, CommandSet};
    pub use crate::envelope::{NewEvent, Position, RecordedEvent, StreamId, Version};
    pub use crate::event::{Event, EventSet};
    pub use crate::process::{Answer, Instance, OnTimer, Outcome, ProcessManager, React, Reaction};
    pub use crate::projection::{
        EventMeta, InMemory, On, Projection, ProjectionError, ProjectionRunner,
    };
    pub use crate::repository::{
        CommandMeta, ExecuteError, Executed, LoadError, Loaded, Repository,
    };
    pub use crate::retry::RetryPolicy;
    pub use crate::snapshot::SnapshotStore;
    pub use crate::store::{CheckpointStore, EventStore, ExpectedVersion, StoreError};
    pub use crate::validation::{FieldError, ValidationErrors};
    pub use uuid::Uuid;

    #[cfg(feature = "derive")]
    pub use es_macros::{Aggregate, Command, Event, ProcessManager, Projection};
}

/// Items the derives' generated code refers to. Not public API: no stability promise.
#[doc(hidden)]
pub mod __private;
