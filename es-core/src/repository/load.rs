//! Loading an aggregate: its latest usable snapshot, then the fold of the events after it,
//! up to the end of its stream, a version or a point in time.

use std::ops::ControlFlow;
use std::time::SystemTime;

use crate::aggregate::Aggregate;
use crate::codec::Codec;
use crate::envelope::{StreamId, Version};
use crate::event::EventSet;
use crate::snapshot::Snapshotting;
use crate::store::{BATCH_SIZE, EventStore};
use crate::trace::{in_span, record, span};

use super::{LoadError, Repository};

/// How much larger each page of a long stream's replay is than the one before.
const PAGE_GROWTH: usize = 8;

/// The largest page of a replay: what a store lends to one visit at most.
const MAX_PAGE: usize = BATCH_SIZE * 128;

/// An aggregate as loaded from its stream.
///
/// Only the repository builds one; read its fields (more may be added, so a pattern needs
/// `..`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Loaded<A> {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The version of the last event folded into `state` ([`Version::EMPTY`] if none).
    pub version: Version,
    /// The state.
    pub state: A,
}

impl<A> Loaded<A> {
    /// Whether the aggregate has at least one event.
    #[must_use]
    pub fn exists(&self) -> bool {
        self.version > Version::EMPTY
    }
}

/// Where a fold stops.
#[derive(Clone, Copy)]
pub(super) enum Until {
    /// At the end of the stream.
    End,
    /// After this version.
    Version(Version),
    /// Before the first event recorded after this time.
    Time(SystemTime),
}

impl<A: Aggregate, S: EventStore, N: Snapshotting<A, C>, C: Codec> Repository<A, S, N, C> {
    /// Loads the aggregate `id`: its latest usable snapshot and the events after it, or its
    /// whole stream. An aggregate with no events loads as `A::default()` at
    /// [`Version::EMPTY`].
    ///
    /// # Errors
    /// [`LoadError::Store`] when the store fails, [`LoadError::Decode`] when a stored event
    /// does not decode, [`LoadError::InvalidStreamId`] when the id makes no valid stream id.
    pub async fn load(&self, id: &A::Id) -> Result<Loaded<A>, LoadError> {
        let stream_id = self.stream_id(id)?;
        self.load_until(stream_id, Until::End).await
    }

    /// Loads the aggregate `id` as it was at `version` of its stream: the fold of its first
    /// `version` events (all of them if the stream is shorter; the returned
    /// [`Loaded::version`] says where it stopped). A snapshot is used only if it is not
    /// past `version`.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_at(&self, id: &A::Id, version: Version) -> Result<Loaded<A>, LoadError> {
        let stream_id = self.stream_id(id)?;
        self.load_until(stream_id, Until::Version(version)).await
    }

    /// Loads the aggregate `id` as it was at `time`: the fold of the events the store
    /// recorded at or before it ([`RecordedEvent::recorded_at`](crate::RecordedEvent)),
    /// stopping at the first one recorded later. Replays from the start of the stream
    /// (snapshots carry no event times).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub async fn load_as_of(&self, id: &A::Id, time: SystemTime) -> Result<Loaded<A>, LoadError> {
        let stream_id = self.stream_id(id)?;
        self.load_until(stream_id, Until::Time(time)).await
    }

    pub(super) async fn load_until(
        &self,
        stream_id: StreamId,
        until: Until,
    ) -> Result<Loaded<A>, LoadError> {
        let span = span!(
            "es.load",
            aggregate = A::NAME,
            stream = %stream_id,
            snapshot = ::tracing::field::Empty,
            version = ::tracing::field::Empty,
        );
        in_span(self.load_in_span(stream_id, until), span).await
    }

    async fn load_in_span(
        &self,
        stream_id: StreamId,
        until: Until,
    ) -> Result<Loaded<A>, LoadError> {
        let at_most = match until {
            Until::End => Some(Version(u64::MAX)),
            Until::Version(version) => Some(version),
            Until::Time(_) => None,
        };
        let start = match at_most {
            Some(at_most) => self.snapshots.load(&self.codec, &stream_id, at_most).await,
            None => None,
        };
        record!(snapshot = start.as_ref().map(|(_, version)| version.0));
        let (mut state, mut version) = start.unwrap_or_else(|| (A::default(), Version::EMPTY));
        self.fold(&stream_id, &mut state, &mut version, until)
            .await?;
        record!(version = version.0);
        Ok(Loaded {
            stream_id,
            version,
            state,
        })
    }

    /// Folds the events after `version` into `state`, up to `until`.
    pub(super) async fn fold(
        &self,
        stream_id: &StreamId,
        state: &mut A,
        version: &mut Version,
        until: Until,
    ) -> Result<(), LoadError> {
        // Most streams fit in the first page; a long one is read in pages that grow, so that
        // replaying it costs a few round trips rather than one per `BATCH_SIZE` events.
        let mut page = BATCH_SIZE;
        loop {
            let wanted = match until {
                Until::Version(last) if last <= *version => return Ok(()),
                Until::Version(last) => {
                    usize::try_from(last.0 - version.0).map_or(page, |n| n.min(page))
                }
                Until::End | Until::Time(_) => page,
            };
            page = page.saturating_mul(PAGE_GROWTH).min(MAX_PAGE);
            let mut failed = None;
            let mut reached = false;
            let visited = self
                .store
                .visit_stream(stream_id, version.next(), wanted, |recorded| {
                    if let Until::Time(time) = until
                        && recorded.recorded_at > time
                    {
                        reached = true;
                        return ControlFlow::Break(());
                    }
                    match A::Event::decode(&self.codec, recorded) {
                        Ok(event) => {
                            state.apply_event(&event);
                            *version = recorded.stream_version;
                            ControlFlow::Continue(())
                        }
                        Err(error) => {
                            failed = Some(error);
                            ControlFlow::Break(())
                        }
                    }
                })
                .await?;
            if let Some(error) = failed {
                return Err(error.into());
            }
            if reached || visited < wanted {
                return Ok(());
            }
        }
    }
}
