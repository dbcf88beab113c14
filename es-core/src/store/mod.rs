//! The store traits: where events live.
//!
//! [`EventStore`] is the one trait every store implements (es-memstore's `MemStore` first).
//! Its methods are `async` but need no particular executor. The semantics below are the
//! contract; every store must keep them:
//!
//! - **Atomic append**: all events of one [`append`](EventStore::append) call are stored, or
//!   none are.
//! - **Optimistic concurrency**: an append whose [`ExpectedVersion`] does not hold fails with
//!   [`StoreError::Conflict`] naming the stream, the expected and the actual version, and
//!   writes nothing.
//! - **Order**: stream versions are contiguous from 1; global positions strictly increase in
//!   commit order; reading never skips or repeats an event.
//! - **Permanence**: nothing appended is ever lost or changed; reads are repeatable.
//! - **Idempotency**: an append whose first event carries a command id
//!   ([`Metadata::command_id`](crate::Metadata::command_id)) that an earlier append to the same
//!   stream carried writes nothing and returns that earlier [`Appended`], marked
//!   [`duplicate`](Appended::duplicate). This is checked before the expected version, so a
//!   retried request gets its first outcome rather than a conflict.
//! - **Remembered refusals**: a command id can also be recorded as refused
//!   ([`refuse`](EventStore::refuse)), at the stream version its refusal was decided at. A
//!   command id has one outcome per stream, whichever was recorded first: an append carrying
//!   a refused command id writes nothing and fails with [`StoreError::AlreadyRefused`], a
//!   refusal of an appended one records nothing and returns the append, and
//!   [`find_command`](EventStore::find_command) returns the outcome. So the same command id
//!   always gets the same answer, also when two workers execute it at once.
//! - **No skipped positions**: once [`read_all`](EventStore::read_all) has returned an event
//!   at position `p`, no event with a position below `p` can appear later. This is what lets
//!   a [`Subscription`] follow the log by position alone,
//!   with no gap and no duplicate.
//!
//! - **Visibility**: once [`append`](EventStore::append) has returned, [`read_stream`](EventStore::read_stream)
//!   and [`stream_version`](EventStore::stream_version) reflect it. [`read_all`](EventStore::read_all)
//!   reflects it once every append that took an earlier position has finished: at once for
//!   a single writer, and possibly a moment later under concurrent appends in a store whose
//!   appends overlap (es-postgres holds a position back until the appends before it have
//!   committed or rolled back, so that none is skipped).
//! - **Errors**: a failing backend is [`StoreError::Backend`] (a retry may succeed); a stored
//!   value that the store cannot read back (damaged, or edited by hand) is
//!   [`StoreError::Corrupt`], naming where it is; never a panic.
//!
//! The contract suite in `es_core::testing::contract` (feature `testing`) checks these rules
//! against any store.
//!
//! [`CheckpointStore`] records how far each projection has processed the log; [`Inspect`]
//! lists what a store holds, for operators.

use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::ops::ControlFlow;

use crate::envelope::{
    InvalidStreamId, NewEvent, Position, RecordedEvent, StoredEvent, StreamId, Version,
};
use crate::names::{NameError, NameProblem, check_event_name};
use crate::subscription::Subscription;
use bytes::Bytes;
use uuid::Uuid;

mod inspect;
mod recorded;

pub use inspect::{CheckpointInfo, Inspect, StreamInfo};
pub use recorded::{Appended, Recorded, Refusal};

/// How many events a reader asks a store for per round trip, unless told otherwise: the
/// [`Repository`](crate::Repository) replaying a stream, a [`Subscription`] and a
/// [`ProjectionRunner`](crate::ProjectionRunner) following the log. A runner also processes
/// and checkpoints this many events at a time.
pub const BATCH_SIZE: usize = 512;

/// What the writer believes the stream's version to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// Append whatever the stream's version is.
    Any,
    /// The stream must not exist (have no events).
    NoStream,
    /// The stream must be at exactly this version. `Exact(Version(0))` is the same as
    /// [`NoStream`](Self::NoStream).
    Exact(Version),
}

impl ExpectedVersion {
    /// The expectation of a writer that last saw the stream at `version`.
    #[must_use]
    pub const fn at(version: Version) -> Self {
        if version.0 == 0 {
            Self::NoStream
        } else {
            Self::Exact(version)
        }
    }

    /// Whether a stream currently at `actual` meets this expectation.
    #[must_use]
    pub const fn accepts(self, actual: Version) -> bool {
        match self {
            Self::Any => true,
            Self::NoStream => actual.0 == 0,
            Self::Exact(expected) => expected.0 == actual.0,
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("any version"),
            Self::NoStream => f.write_str("no stream"),
            Self::Exact(version) => write!(f, "version {version}"),
        }
    }
}

/// The limits every store enforces on what it is given (through [`check_batch`]).
///
/// Exceeding one is a [`StoreError::LimitExceeded`] and writes nothing, never a silent
/// truncation. A store may document tighter limits of its own backend.
pub mod limits {
    /// The largest payload accepted, in bytes (16 MiB).
    pub const MAX_PAYLOAD_LEN: usize = 16 * 1024 * 1024;
    /// The most events accepted in one append.
    pub const MAX_BATCH_LEN: usize = 10_000;
    /// The most payload bytes accepted in one append, all its events together (64 MiB):
    /// what one command may write. It keeps an append within what every backend takes in one
    /// request (PostgreSQL refuses a parameter over 1 GiB) and bounds the memory an append
    /// holds.
    pub const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;
    /// The longest event name accepted, in bytes: the limit of the event-name rule,
    /// [`names::MAX_LEN`](crate::names::MAX_LEN).
    pub const MAX_EVENT_NAME_LEN: usize = crate::names::MAX_LEN;
}

/// Which limit an append exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The payload size of one event, in bytes.
    PayloadLen,
    /// The number of events in one append.
    BatchLen,
    /// The payload bytes of all the events of one append.
    BatchBytes,
    /// The length of an event name, in bytes.
    EventNameLen,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::PayloadLen => "payload size",
            Self::BatchLen => "events per append",
            Self::BatchBytes => "payload bytes per append",
            Self::EventNameLen => "event name length",
        })
    }
}

/// An error from an [`EventStore`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream was not at the expected version; nothing was written.
    #[error("version conflict on stream {stream_id}: expected {expected}, found version {actual}")]
    Conflict {
        /// The stream appended to.
        stream_id: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The stream's version when the append was refused.
        actual: Version,
    },
    /// An append carried no events.
    #[error("append to stream {stream_id} carried no events")]
    EmptyAppend {
        /// The stream appended to.
        stream_id: StreamId,
    },
    /// An append exceeded one of the store's limits; nothing was written.
    #[error("append to stream {stream_id} exceeds the {limit} limit: {actual} > {max}")]
    LimitExceeded {
        /// The stream appended to.
        stream_id: StreamId,
        /// Which limit.
        limit: Limit,
        /// The store's limit.
        max: usize,
        /// The value given.
        actual: usize,
    },
    /// An event name outside the event-name rule
    /// ([`names::check_event_name`](crate::names::check_event_name)), which the
    /// [`Event`](macro@crate::Event) derive enforces at compile time; nothing was written. (A
    /// name that is only too long is a [`LimitExceeded`](Self::LimitExceeded) of
    /// [`Limit::EventNameLen`].)
    #[error("append to stream {stream_id}: invalid event name {name:?}: {problem}")]
    InvalidEventName {
        /// The stream appended to.
        stream_id: StreamId,
        /// The rejected name.
        name: String,
        /// What is wrong with it.
        problem: NameError,
    },
    /// A stream id was not valid.
    #[error(transparent)]
    InvalidStreamId(#[from] InvalidStreamId),
    /// The store's backend failed (I/O, network, database); whether anything was written is
    /// stated by the store's documentation for its backend errors.
    #[error("store backend error: {0}")]
    Backend(Box<dyn StdError + Send + Sync + 'static>),
    /// Stored data the store cannot read back: a value that no append or save of this store
    /// writes (edited by hand, damaged, or written by an incompatible version). Retrying does
    /// not help; the store stays usable for everything that does not read that value.
    #[error("corrupt stored data at {location}: {problem}")]
    Corrupt {
        /// Where: the table or file, the row and the column, such as
        /// `es.events, position 17, column recorded_at`.
        location: String,
        /// What is wrong with the value.
        problem: String,
    },
    /// An append carried a command id that was refused on the stream before
    /// ([`EventStore::refuse`]): nothing was written. The refusal is the command's answer.
    #[error("command {command_id} was refused on stream {stream_id} before; nothing was appended")]
    AlreadyRefused {
        /// The stream appended to.
        stream_id: StreamId,
        /// The command id.
        command_id: Uuid,
        /// The earlier refusal.
        refusal: Refusal,
    },
}

/// A store of event streams with a global, ordered log.
///
/// Implementations are cheap handles: clones share the same store. See the
/// [module documentation](self) for the contract every implementation keeps.
pub trait EventStore: Clone + Send + Sync + 'static {
    /// Appends `events` to `stream_id` atomically if the stream is at `expected`.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the expectation does not hold,
    /// [`StoreError::EmptyAppend`] for an empty batch, [`StoreError::LimitExceeded`] or
    /// [`StoreError::InvalidEventName`] for input the store refuses, [`StoreError::Backend`]
    /// when the backend fails. In every error case nothing was appended.
    fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> impl Future<Output = Result<Appended, StoreError>> + Send;

    /// Reads up to `max_count` events of `stream_id`, in version order, starting at version
    /// `from` (inclusive; `Version(1)` or `Version(0)` read from the beginning). A stream with
    /// no events reads as empty.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn read_stream(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// Visits up to `max_count` events of `stream_id` from version `from`, in version order,
    /// as [`read_stream`](Self::read_stream) reads them, but lends each event to `visit`
    /// instead of returning copies. `visit` returns [`ControlFlow::Break`] to stop early.
    /// Returns how many events were visited (the one that broke included).
    ///
    /// This is the read the [`Repository`](crate::Repository) replays aggregates with. It lends
    /// each event as a [`StoredEvent`]: what a fold reads, without the event id and the
    /// metadata, so a store need not fetch them (es-postgres does not, which spares the server
    /// two columns per event and the client a copy of each payload). Read with `read_stream`
    /// what needs them. The provided implementation calls [`read_stream`](Self::read_stream);
    /// a store that holds events in memory overrides it to skip the copies. `visit` runs while
    /// the store may hold a lock or a connection: it must be quick and must not call the
    /// store.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn visit_stream<F>(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
        mut visit: F,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send
    where
        F: FnMut(StoredEvent<'_>) -> ControlFlow<()> + Send,
    {
        async move {
            let events = self.read_stream(stream_id, from, max_count).await?;
            Ok(visit_each(&events, &mut visit))
        }
    }

    /// Reads up to `max_count` events of the global log, in position order, whose position is
    /// after `after` ([`Position::START`] reads from the beginning).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// What `command_id` produced on `stream_id`, if anything: the append that carried it
    /// (reported as a [`duplicate`](Appended::duplicate)), or its recorded refusal.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> impl Future<Output = Result<Option<Recorded>, StoreError>> + Send;

    /// Records that `command_id` was refused on `stream_id`, decided on the stream at
    /// `expected`, with `refusal` (the encoded domain error), so that the same command id
    /// gets the same answer later.
    ///
    /// If the command id already has an outcome on the stream, nothing is recorded and that
    /// outcome is returned: the earlier append ([`Recorded::Appended`], a duplicate) or the
    /// earlier refusal. Otherwise the refusal is recorded if the stream is at `expected` (its
    /// version is unchanged by it) and returned.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the stream is not at `expected` (nothing is recorded:
    /// the command should be decided again), [`StoreError::Backend`] when the backend fails.
    fn refuse(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> impl Future<Output = Result<Recorded, StoreError>> + Send;

    /// The current version of `stream_id` ([`Version::EMPTY`] when it has no events).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn stream_version(
        &self,
        stream_id: &StreamId,
    ) -> impl Future<Output = Result<Version, StoreError>> + Send;

    /// Completes when the global log may hold an event after `after`: at once if it already
    /// does, otherwise when one is appended. It may complete spuriously (the caller reads
    /// and waits again); it must not miss an append.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails.
    fn wait_for_events(
        &self,
        after: Position,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Follows the global log from after `after`: stored events first, then live ones as
    /// they are appended, each exactly once, in position order.
    fn subscribe(&self, after: Position) -> Subscription<Self> {
        Subscription::new(self.clone(), after)
    }
}

/// Where each projection has got to in the global log.
///
/// A checkpoint is the position of the last event a projection processed; a restarted
/// projection resumes after it. Stores usually implement this next to [`EventStore`], so that
/// one handle serves both.
pub trait CheckpointStore: Clone + Send + Sync + 'static {
    /// The saved checkpoint of `projection`, if any.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// value cannot be read back.
    fn load_checkpoint(
        &self,
        projection: &str,
    ) -> impl Future<Output = Result<Option<Position>, StoreError>> + Send;

    /// Saves the checkpoint of `projection`, replacing the previous one.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails; the previous checkpoint then stays.
    fn save_checkpoint(
        &self,
        projection: &str,
        position: Position,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Removes the checkpoint of `projection` and those of its partitions (named
    /// `<projection>#...`, see [`Partition::checkpoint_name`](crate::projection::Partition::checkpoint_name)),
    /// and their parked events, as before a rebuild.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails.
    fn delete_checkpoint(
        &self,
        projection: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Keeps `parked` as parked events of `consumer` (a checkpoint name: a projection's, or
    /// one of its partitions'); an event parked again replaces its record. For read models
    /// whose checkpoint is saved apart from their state (in memory): a table target parks in
    /// the transaction that moves its checkpoint. The default keeps nothing: the parked
    /// events of an [`InMemory`](crate::InMemory) read model then live in its memory only,
    /// as its state does.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails.
    fn park_events(
        &self,
        consumer: &str,
        parked: &[crate::projection::ParkedEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (consumer, parked);
        async { Ok(()) }
    }

    /// Forgets the parked events of `consumer` at `positions` (applied by a retry, or
    /// dismissed). The default keeps nothing, so forgets nothing.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails.
    fn unpark_events(
        &self,
        consumer: &str,
        positions: &[Position],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (consumer, positions);
        async { Ok(()) }
    }

    /// The parked events of `consumer`, in position order. The default keeps none.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the backend fails, [`StoreError::Corrupt`] when a stored
    /// record does not read back.
    fn parked_events(
        &self,
        consumer: &str,
    ) -> impl Future<Output = Result<Vec<crate::projection::ParkedEvent>, StoreError>> + Send {
        let _ = consumer;
        async { Ok(Vec::new()) }
    }
}

/// A [`CheckpointStore`] that remembers nothing (checkpoints or parked events): a projection
/// using it starts from the beginning of the log every time. The right choice for read models kept only in memory,
/// which are rebuilt by replay when the process starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCheckpoints;

impl CheckpointStore for NoCheckpoints {
    async fn load_checkpoint(&self, _: &str) -> Result<Option<Position>, StoreError> {
        Ok(None)
    }

    async fn save_checkpoint(&self, _: &str, _: Position) -> Result<(), StoreError> {
        Ok(())
    }

    async fn delete_checkpoint(&self, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Lends each of `events` to `visit` until it breaks; returns how many it saw. The one loop
/// behind every [`EventStore::visit_stream`] implementation.
pub fn visit_each<'a>(
    events: impl IntoIterator<Item = &'a RecordedEvent>,
    visit: &mut impl FnMut(StoredEvent<'_>) -> ControlFlow<()>,
) -> usize {
    let mut visited = 0;
    for event in events {
        visited += 1;
        if visit(event.as_stored()).is_break() {
            break;
        }
    }
    visited
}

/// The checks every store runs on an append before it locks or writes anything: the batch
/// is not empty, within the [`limits`], and every event name keeps the event-name rule
/// ([`names::check_event_name`](crate::names::check_event_name)), the rule the
/// [`Event`](macro@crate::Event) derive checks at compile time. The limits are checked in the order of [`Limit`]'s variants as they apply:
/// the number of events first, then each event's payload and name, then the bytes of all
/// payloads together.
///
/// # Errors
/// [`StoreError::EmptyAppend`], [`StoreError::LimitExceeded`] or
/// [`StoreError::InvalidEventName`], naming the stream.
pub fn check_batch(stream_id: &StreamId, events: &[NewEvent]) -> Result<(), StoreError> {
    let exceeded = |limit, max, actual| StoreError::LimitExceeded {
        stream_id: stream_id.clone(),
        limit,
        max,
        actual,
    };
    if events.is_empty() {
        return Err(StoreError::EmptyAppend {
            stream_id: stream_id.clone(),
        });
    }
    if events.len() > limits::MAX_BATCH_LEN {
        return Err(exceeded(
            Limit::BatchLen,
            limits::MAX_BATCH_LEN,
            events.len(),
        ));
    }
    let mut bytes: usize = 0;
    for event in events {
        if event.payload.len() > limits::MAX_PAYLOAD_LEN {
            return Err(exceeded(
                Limit::PayloadLen,
                limits::MAX_PAYLOAD_LEN,
                event.payload.len(),
            ));
        }
        match check_event_name(&event.name) {
            Ok(()) => {}
            Err(NameError {
                problem: NameProblem::TooLong { len },
                ..
            }) => {
                return Err(exceeded(
                    Limit::EventNameLen,
                    limits::MAX_EVENT_NAME_LEN,
                    len,
                ));
            }
            Err(problem) => {
                return Err(StoreError::InvalidEventName {
                    stream_id: stream_id.clone(),
                    name: event.name.to_string(),
                    problem,
                });
            }
        }
        bytes = bytes.saturating_add(event.payload.len());
    }
    if bytes > limits::MAX_BATCH_BYTES {
        return Err(exceeded(Limit::BatchBytes, limits::MAX_BATCH_BYTES, bytes));
    }
    Ok(())
}
