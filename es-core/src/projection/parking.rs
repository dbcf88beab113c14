//! Parked events: an event a read model fails on, set aside with its error so that the
//! others go on, until it is retried or dismissed.

use std::sync::Arc;
use std::time::SystemTime;

use crate::envelope::{Position, StreamId};

/// How a [`ProjectionRunner`](crate::ProjectionRunner) treats an event its projection fails
/// on (one that does not decode, or whose [`On`](crate::On) impl panics); see
/// [`with_parking`](crate::ProjectionRunner::with_parking).
///
/// Without parking (the default) the runner stops at such an event, with its checkpoint just
/// before it: nothing after it is processed until the code is fixed. With parking, the event
/// is *parked*: stored with its error, the consumer and its position, in the commit that moves
/// the checkpoint past it, and the runner goes on. Other streams are never held up. Later
/// events of the parked event's stream wait behind it, parked as well
/// ([`Parking::holding_streams`], the default, which keeps each stream's order), or are
/// processed as if it were not there ([`Parking::skipping`]).
///
/// A failing event is parked at once, not retried first: an `On` impl is pure and a payload
/// does not change, so the same event fails the same way until the code changes. (Failures of
/// the store are not the event's; the runner retries those.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parking {
    hold_streams: bool,
}

impl Parking {
    /// Park failing events; later events of their streams wait behind them.
    #[must_use]
    pub const fn holding_streams() -> Self {
        Self { hold_streams: true }
    }

    /// Park failing events; later events of their streams are processed as if they were not
    /// there (the stream's order is not kept for the read model).
    #[must_use]
    pub const fn skipping() -> Self {
        Self {
            hold_streams: false,
        }
    }

    /// Whether later events of a parked event's stream wait behind it.
    #[must_use]
    pub const fn holds_streams(self) -> bool {
        self.hold_streams
    }
}

impl Default for Parking {
    /// [`Parking::holding_streams`].
    fn default() -> Self {
        Self::holding_streams()
    }
}

/// An event set aside by a consumer: where it is, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParkedEvent {
    /// The event's global position.
    pub position: Position,
    /// The event's stream.
    pub stream_id: StreamId,
    /// The event's wire name.
    pub name: Arc<str>,
    /// Why it is parked: the failure's message, or, for an event waiting behind an earlier
    /// parked event of its stream, which.
    pub error: String,
    /// Whether it failed itself (false: it waits behind an earlier event of its stream).
    pub failed: bool,
    /// When it was parked.
    pub parked_at: SystemTime,
}

impl ParkedEvent {
    /// A parked event; for store implementations reading one back.
    #[must_use]
    pub fn new(
        position: Position,
        stream_id: StreamId,
        name: Arc<str>,
        error: String,
        failed: bool,
        parked_at: SystemTime,
    ) -> Self {
        Self {
            position,
            stream_id,
            name,
            error,
            failed,
            parked_at,
        }
    }
}
