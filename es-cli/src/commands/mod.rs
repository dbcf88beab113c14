//! The subcommands, one per file: each its clap arguments and its `run`.

pub(crate) mod catalog;
pub(crate) mod events;
pub(crate) mod processes;
pub(crate) mod projections;
pub(crate) mod rebuild;
pub(crate) mod stats;
pub(crate) mod streams;
pub(crate) mod tail;

pub use catalog::CatalogArgs;
pub use events::EventsArgs;
pub use processes::ProcessesArgs;
pub use projections::ProjectionsArgs;
pub use rebuild::RebuildArgs;
pub use stats::{Period, StatsArgs};
pub use streams::StreamsArgs;
pub use tail::TailArgs;

use es_core::StreamId;

use crate::CliError;

/// `text` as a stream id, or a usage error naming it.
pub(crate) fn stream_id(text: &str) -> Result<StreamId, CliError> {
    StreamId::new(text).map_err(|error| CliError::Usage(error.to_string()))
}
