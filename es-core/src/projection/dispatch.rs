//! Hands a batch of stored events to a projection: decode, dispatch, catch panics.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use crate::codec::Codec;
use crate::envelope::RecordedEvent;
use crate::projection::{Projection, ProjectionError};
use crate::trace::{record, span};

/// Hands the events of `batch` to `projection` in order, and stops at the first one it fails
/// on. Returns how many events were projected, and the failure if there was one:
///
/// - [`ProjectionError::Decode`] when a listened-to event does not decode (the projection is
///   unchanged by that event);
/// - [`ProjectionError::Panicked`] when an `On` impl panicked; the panic is caught, and the
///   projection may hold part of that event's changes.
pub(crate) fn project_batch<P: Projection, C: Codec>(
    projection: &mut P,
    codec: &C,
    batch: &[&RecordedEvent],
) -> (usize, Option<ProjectionError>) {
    let span = span!(
        "es.project",
        projection = P::NAME,
        first = batch.first().map_or(0, |event| event.position.0),
        events = batch.len(),
        applied = ::tracing::field::Empty,
    );
    span.in_scope(|| {
        let (applied, failure) = project_each(projection, codec, batch);
        record!(applied = applied);
        (applied, failure)
    })
}

/// [`project_batch`]'s loop.
fn project_each<P: Projection, C: Codec>(
    projection: &mut P,
    codec: &C,
    batch: &[&RecordedEvent],
) -> (usize, Option<ProjectionError>) {
    for (done, event) in batch.iter().enumerate() {
        let failure = match catch_unwind(AssertUnwindSafe(|| projection.project(codec, event))) {
            Ok(Ok(_)) => continue,
            Ok(Err(source)) => ProjectionError::Decode {
                projection: P::NAME,
                source,
            },
            Err(panic) => ProjectionError::Panicked {
                projection: P::NAME,
                stream_id: event.stream_id.clone(),
                name: Arc::clone(&event.name),
                position: event.position,
                message: panic_message(&*panic),
            },
        };
        return (done, Some(failure));
    }
    (batch.len(), None)
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with a non-string payload".to_owned())
}
