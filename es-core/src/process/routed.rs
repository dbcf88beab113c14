//! [`Routed`]: a batch's events, each decoded and given its instance: what the engine's
//! dispatch step makes of the log for a process manager.

use std::fmt;

use crate::codec::Codec;
use crate::envelope::RecordedEvent;
use crate::error::DecodeError;
use crate::process::{Instance, ProcessManager};
use crate::projection::Projection;

/// One event of a batch, decoded, with the instance it belongs to.
pub struct RoutedEvent<P: ProcessManager> {
    /// The instance.
    pub instance: Instance<P::Key>,
    /// The event.
    pub event: P::Event,
    /// Its envelope.
    pub meta: RecordedEvent,
}

impl<P: ProcessManager> RoutedEvent<P> {
    /// `event`, decoded and given its instance ([`ProcessManager::route`]); `None` when `P`
    /// does not react to it.
    pub(crate) fn route<C: Codec>(
        codec: &C,
        event: &RecordedEvent,
    ) -> Result<Option<Self>, DecodeError> {
        Ok(P::route(codec, event)?.map(|(instance, decoded)| Self {
            instance,
            event: decoded,
            meta: event.clone(),
        }))
    }
}

/// The events of one batch that process manager `P` reacts to, in log order: the
/// [`Projection`] its [`Workflow`](crate::process::Workflow) target hands the runner.
pub struct Routed<P: ProcessManager> {
    /// The events, in log order.
    pub events: Vec<RoutedEvent<P>>,
}

impl<P: ProcessManager> Default for Routed<P> {
    fn default() -> Self {
        Self { events: Vec::new() }
    }
}

impl<P: ProcessManager> Projection for Routed<P> {
    const NAME: &'static str = P::NAME;
    const EVENTS: &'static [crate::EventDescriptor] = P::EVENTS;

    fn project<C: Codec>(&mut self, codec: &C, event: &RecordedEvent) -> Result<bool, DecodeError> {
        let Some(routed) = RoutedEvent::route(codec, event)? else {
            return Ok(false);
        };
        if !matches!(routed.instance, Instance::Ignore) {
            self.events.push(routed);
        }
        Ok(true)
    }
}

impl<P: ProcessManager> fmt::Debug for RoutedEvent<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutedEvent")
            .field("instance", &self.instance)
            .field("event", &self.event)
            .field("position", &self.meta.position)
            .finish()
    }
}

impl<P: ProcessManager> fmt::Debug for Routed<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routed")
            .field("process", &P::NAME)
            .field("events", &self.events)
            .finish()
    }
}
