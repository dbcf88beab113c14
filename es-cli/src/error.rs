//! [`CliError`]: why a subcommand failed.

use es_core::StoreError;
use es_core::projection::ProjectionError;

use crate::Exit;

/// Why a subcommand failed; [`exit`](Self::exit) gives its exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A projection runner failed (during a rebuild, or reading its checkpoint).
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    /// What was named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The arguments asked for something this inspector cannot do.
    #[error("{0}")]
    Usage(String),
    /// Standard output could not be written.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// The exit code this error ends the run with.
    #[must_use]
    pub fn exit(&self) -> Exit {
        match self {
            Self::NotFound(_) => Exit::NotFound,
            Self::Usage(_) => Exit::Usage,
            // A reader that went away (`es-inspect ... | head`) is not a failure.
            Self::Output(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Exit::Ok,
            Self::Store(_) | Self::Projection(_) | Self::Output(_) => Exit::Failed,
        }
    }
}
