//! An inspector for es-core stores, on the command line: the streams and their events, the
//! live tail of the log, statistics, how far each consumer lags, rebuilds of read models with
//! a progress line, the state of process managers, and the catalog of the domain.
//!
//! Two ways to use it:
//!
//! - **Mounted in the application's binary.** What needs the application's types (decoding
//!   payloads, rebuilding a read model, retrying a parked process instance, rendering the
//!   catalog) is registered on an [`Inspector`]; its arguments, [`InspectArgs`], nest in the
//!   application's own clap parser (`myapp inspect streams`).
//! - **The standalone `es-inspect` binary**, for what needs no domain types: `es-inspect
//!   --sqlite app.db streams` (feature `sqlite`) or `--postgres URL` (feature `postgres`).
//!
//! Every subcommand prints an aligned table by default, and one JSON document with `--json`
//! (`tail` prints one JSON object per line). Colour is used only when standard output is a
//! terminal and `NO_COLOR` is not set. Errors go to standard error as one line; the exit code
//! says what happened ([`Exit`]).
//!
//! ```
//! use clap::Parser as _;
//! use es_cli::{Exit, InspectArgs, Inspector};
//! use es_core::prelude::*;
//! use es_memstore::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let store = MemStore::new();
//! let inspector = Inspector::new(store);
//! // In an application: `inspector.run_from_env().await`, or `run` with the arguments its
//! // own parser nested.
//! let args = InspectArgs::try_parse_from(["inspect", "streams", "--json"])?;
//! assert_eq!(inspector.run(args).await, Exit::Ok);
//! let args = InspectArgs::try_parse_from(["inspect", "events", "account-404"])?;
//! assert_eq!(inspector.run(args).await, Exit::NotFound);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod args;
mod commands;
mod error;
mod exit;
mod inspector;
mod output;
mod progress;
mod registry;
mod time;

pub use args::{InspectArgs, InspectCommand};
pub use commands::{
    CatalogArgs, EventsArgs, Period, ProcessesArgs, ProjectionsArgs, RebuildArgs, StatsArgs,
    StreamsArgs, TailArgs,
};
pub use error::CliError;
pub use exit::Exit;
pub use inspector::{Inspector, clap_exit};
