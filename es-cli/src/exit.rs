//! [`Exit`]: the inspector's exit codes.

use std::process::{ExitCode, Termination};

/// How a run of the inspector ended: its process exit code.
///
/// `main` can return it directly (it implements [`Termination`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Exit {
    /// 0: done.
    Ok,
    /// 1: the store or the runtime failed (a backend error, a corrupt value, a projection
    /// that failed during a rebuild, output that could not be written).
    Failed,
    /// 2: the command line was wrong (clap's own code for a usage error), or asked for what
    /// this binary cannot do (such as `rebuild` in the standalone binary, which has no
    /// projections).
    Usage,
    /// 3: what was named does not exist: an unknown stream, projection, process, parked
    /// process instance, or store file.
    NotFound,
}

impl Exit {
    /// The numeric exit code: 0, 1, 2 or 3.
    #[must_use]
    pub const fn code(self) -> u8 {
        match self {
            Self::Ok => 0,
            Self::Failed => 1,
            Self::Usage => 2,
            Self::NotFound => 3,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

impl Termination for Exit {
    fn report(self) -> ExitCode {
        self.into()
    }
}
