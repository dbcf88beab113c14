//! What an application registers on an [`Inspector`](crate::Inspector), behind trait
//! objects: projection runners, process managers' workflows, event decoders.

use std::future::Future;
use std::pin::Pin;

use es_core::codec::{Codec, JsonCodec};
use es_core::process::{ProcessManager, ProcessStore, Workflow};
use es_core::projection::{Projection, ProjectionError, Target};
use es_core::{EventSet, EventStore, Position, ProjectionRunner, RecordedEvent};

use crate::CliError;

/// A future borrowed from a registration.
pub(crate) type Boxed<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A registered projection runner, by its projection's name.
pub(crate) trait ProjectionEntry {
    /// The projection's name: its checkpoint's.
    fn name(&self) -> &'static str;
    /// The position the runner has processed, in this process.
    fn position(&self) -> Position;
    /// The committed checkpoint (the lowest of its partitions').
    fn checkpoint(&self) -> Boxed<'_, Result<Position, ProjectionError>>;
    /// How many events it parked.
    fn parked(&self) -> Boxed<'_, Result<usize, ProjectionError>>;
    /// Empties the read model and processes the whole log again.
    fn rebuild(&self) -> Boxed<'_, Result<Position, ProjectionError>>;
}

impl<T: Target, S: EventStore, C: Codec> ProjectionEntry for ProjectionRunner<T, S, C> {
    fn name(&self) -> &'static str {
        <T::Projection as Projection>::NAME
    }

    fn position(&self) -> Position {
        ProjectionRunner::position(self)
    }

    fn checkpoint(&self) -> Boxed<'_, Result<Position, ProjectionError>> {
        Box::pin(ProjectionRunner::checkpoint(self))
    }

    fn parked(&self) -> Boxed<'_, Result<usize, ProjectionError>> {
        Box::pin(async move { ProjectionRunner::parked(self).await.map(|all| all.len()) })
    }

    fn rebuild(&self) -> Boxed<'_, Result<Position, ProjectionError>> {
        Box::pin(ProjectionRunner::rebuild(self))
    }
}

/// A registered process manager, by its name.
pub(crate) trait ProcessEntry {
    /// The process manager's name: its checkpoint's and its instances'.
    fn name(&self) -> &'static str;
    /// Asks the parked instance `key` (its key as JSON, or a bare string key) to handle its
    /// waiting inputs again; whether it was parked.
    fn retry<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<bool, CliError>>;
}

/// The workflow of a process manager `P`, for [`ProcessEntry`].
pub(crate) struct ProcessHandle<P, S, C> {
    pub(crate) workflow: Workflow<P, S, C>,
}

impl<P: ProcessManager, S: ProcessStore, C: Codec> ProcessEntry for ProcessHandle<P, S, C> {
    fn name(&self) -> &'static str {
        P::NAME
    }

    fn retry<'a>(&'a self, key: &'a str) -> Boxed<'a, Result<bool, CliError>> {
        Box::pin(async move {
            let parsed = serde_json::from_str::<P::Key>(key).or_else(|_| {
                serde_json::from_value::<P::Key>(serde_json::Value::String(key.to_owned()))
            });
            let Ok(parsed) = parsed else {
                return Err(CliError::Usage(format!(
                    "{key:?} is not a key of process {}: give it as the listing shows it",
                    P::NAME
                )));
            };
            Ok(self.workflow.retry(&parsed).await?)
        })
    }
}

/// Decodes the events of a registered [`EventSet`] for display: `None` for an event whose
/// name is not in the set.
pub(crate) type Decoder = Box<dyn Fn(&RecordedEvent) -> Option<String> + Send + Sync>;

/// The decoder of event set `E`, in JSON: the decoded value's `Debug` text (after upcasting),
/// or why it does not decode.
pub(crate) fn decoder<E: EventSet>() -> Decoder {
    Box::new(|event| {
        if !E::EVENTS.iter().any(|known| known.name == &*event.name) {
            return None;
        }
        Some(match E::decode(&JsonCodec, event) {
            Ok(decoded) => format!("{decoded:?}"),
            Err(error) => format!("<does not decode: {error}>"),
        })
    })
}
