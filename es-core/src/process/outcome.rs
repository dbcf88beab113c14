//! [`Outcome`]: what became of a command a process manager sent.

use crate::envelope::{Position, StreamId, Version};
use crate::validation::ValidationErrors;

/// What became of a command a process manager sent, handed to its
/// [`Answer`](crate::process::Answer) impl. `E` is the error of the aggregate that decided.
///
/// The same command id always gets the same outcome: a command sent again (after a crash, or
/// by a second process) is not decided again, and answers as the first time.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome<E> {
    /// The aggregate accepted the command.
    Accepted(Accepted),
    /// The aggregate refused the command with its domain error; nothing was appended.
    Refused(E),
    /// The command broke its own validation rules; nothing was appended.
    Invalid(ValidationErrors),
}

impl<E> Outcome<E> {
    /// Whether the command was accepted.
    #[must_use]
    pub fn is_accepted(&self) -> bool {
        matches!(self, Self::Accepted(_))
    }
}

/// Where an accepted command's events went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accepted {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The stream's version after the command.
    pub stream_version: Version,
    /// The global position of the command's last event; `None` when it produced none.
    pub last_position: Option<Position>,
}

impl Accepted {
    /// The outcome of an accepted command; for routers and test kits.
    #[must_use]
    pub fn new(
        stream_id: StreamId,
        stream_version: Version,
        last_position: Option<Position>,
    ) -> Self {
        Self {
            stream_id,
            stream_version,
            last_position,
        }
    }
}
