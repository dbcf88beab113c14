//! Envelopes: what is appended to a store and what is read back, with the identifiers and
//! counters that place an event in its stream and in the global log.
//!
//! - [`NewEvent`]: an encoded event on its way in (id, name, schema version, payload, metadata).
//! - [`RecordedEvent`]: a stored event on its way out: the same plus [`StreamId`], stream
//!   [`Version`], global [`Position`] and the time it was recorded.
//!
//! Payloads are [`Bytes`]: cloning an envelope never copies a payload.
//!
//! The stream of an aggregate instance is `"{aggregate name}-{id}"`
//! ([`StreamId::for_aggregate`]); [`RecordedEvent::aggregate_id`] and
//! [`StreamId::aggregate_id`] read the typed id back, or say why they could not
//! ([`AggregateIdError`]).

mod aggregate_id;
mod stored;

pub use aggregate_id::AggregateIdError;
pub use stored::StoredEvent;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::codec::Encoded;
use crate::names::{self, NameError};

/// The identity of a stream: one aggregate instance's history, such as `user-42`.
///
/// A stream id is a non-empty string of at most [`StreamId::MAX_LEN`] bytes without control
/// characters. Cloning is cheap (shared storage).
///
/// ```
/// use es_core::StreamId;
///
/// let id = StreamId::new("user-42").unwrap();
/// assert_eq!(id.as_str(), "user-42");
/// assert!(StreamId::new("").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId(Arc<str>);

impl StreamId {
    /// The longest stream id accepted, in bytes.
    pub const MAX_LEN: usize = 512;

    /// Checks and wraps a stream id.
    ///
    /// # Errors
    /// [`InvalidStreamId`] when the id is empty, longer than [`Self::MAX_LEN`] bytes or
    /// contains a control character.
    pub fn new(id: impl AsRef<str>) -> Result<Self, InvalidStreamId> {
        let id = id.as_ref();
        match Self::problem(id) {
            Some(problem) => Err(InvalidStreamId {
                preview: preview(id),
                problem,
            }),
            None => Ok(Self(Arc::from(id))),
        }
    }

    /// What makes `id` invalid, if anything.
    fn problem(id: &str) -> Option<StreamIdProblem> {
        if id.is_empty() {
            Some(StreamIdProblem::Empty)
        } else if id.len() > Self::MAX_LEN {
            Some(StreamIdProblem::TooLong { len: id.len() })
        } else if has_control_character(id) {
            Some(StreamIdProblem::ControlCharacter)
        } else {
            None
        }
    }

    /// The stream of the aggregate `name` with id `id`: `"{name}-{id}"`.
    ///
    /// The aggregate name must keep the aggregate-name rule
    /// ([`names::check_aggregate_name`]): in particular it holds no `-`, so that the part
    /// before the first `-` of a stream id names its aggregate and the rest is the id, which
    /// may hold `-` itself. [`StreamId::aggregate_id`] reads it back.
    ///
    /// ```
    /// use es_core::StreamId;
    /// use es_core::envelope::StreamIdProblem;
    ///
    /// assert_eq!(StreamId::for_aggregate("user", &"admin-1")?.as_str(), "user-admin-1");
    /// // Were `user-admin` an aggregate name, its `1` would share that stream.
    /// let refused = StreamId::for_aggregate("user-admin", &1).unwrap_err();
    /// assert!(matches!(refused.problem, StreamIdProblem::AggregateName { .. }));
    /// # Ok::<_, es_core::envelope::InvalidStreamId>(())
    /// ```
    ///
    /// # Errors
    /// [`InvalidStreamId`] when the aggregate name is outside the aggregate-name rule
    /// ([`StreamIdProblem::AggregateName`]), or the result is not a valid stream id (an id
    /// whose `Display` output is too long or holds control characters).
    pub fn for_aggregate(name: &str, id: &impl fmt::Display) -> Result<Self, InvalidStreamId> {
        use fmt::Write as _;
        // Written straight into a buffer sized for the common ids (numbers, UUIDs): what
        // `format!` costs beyond this is most of the work for a short id.
        let mut buffer = String::with_capacity(name.len() + 40);
        buffer.push_str(name);
        buffer.push('-');
        // Writing into a `String` fails only if `id`'s `Display` does.
        let written = write!(buffer, "{id}");
        let problem = match (names::check_aggregate_name(name), written) {
            (Err(error), _) => StreamIdProblem::AggregateName {
                name: preview(name),
                error,
            },
            (Ok(()), Err(fmt::Error)) => StreamIdProblem::Unprintable,
            (Ok(()), Ok(())) => return Self::new(buffer),
        };
        Err(InvalidStreamId {
            preview: preview(&buffer),
            problem,
        })
    }

    /// The id as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` (a stream id) holds a control character (`char::is_control`). Printable
/// ASCII, the usual case for ids, is ruled out without decoding characters.
pub(crate) fn has_control_character(text: &str) -> bool {
    let printable_ascii = |byte: &u8| (0x20..0x7f).contains(byte);
    !text.as_bytes().iter().all(printable_ascii) && text.chars().any(char::is_control)
}

/// The first 64 characters of a rejected id, for error messages.
fn preview(id: &str) -> String {
    const KEEP: usize = 64;
    match id.char_indices().nth(KEEP) {
        Some((cut, _)) => format!("{}…", &id[..cut]),
        None => id.to_owned(),
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<&str> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(id: &str) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

impl TryFrom<String> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::new(id)
    }
}

/// A stream id that [`StreamId::new`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream id {preview:?}: {problem}")]
pub struct InvalidStreamId {
    /// The start of the rejected id (at most 64 characters).
    pub preview: String,
    /// What is wrong with it.
    pub problem: StreamIdProblem,
}

/// What is wrong with a rejected stream id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamIdProblem {
    /// The id is empty.
    #[error("it is empty")]
    Empty,
    /// The id is longer than [`StreamId::MAX_LEN`].
    #[error("it is {len} bytes long, the limit is {limit}", limit = StreamId::MAX_LEN)]
    TooLong {
        /// The length of the id in bytes.
        len: usize,
    },
    /// The id contains a control character.
    #[error("it contains a control character")]
    ControlCharacter,
    /// The aggregate id's `Display` implementation returned an error.
    #[error("the aggregate id's `Display` implementation failed")]
    Unprintable,
    /// [`StreamId::for_aggregate`] was given an aggregate name outside the aggregate-name
    /// rule ([`names::check_aggregate_name`]), such as one holding `-`, the separator between
    /// the aggregate name and the id: with it, two aggregates could share a stream.
    #[error("the aggregate name {name:?} is refused: {error}")]
    AggregateName {
        /// The refused aggregate name (at most 64 characters of it).
        name: String,
        /// What is wrong with it.
        error: NameError,
    },
}

/// The version of a stream: the number of events in it. `Version(0)` is an empty stream; the
/// first event of a stream has version 1 and versions are contiguous.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    /// The version of a stream with no events.
    pub const EMPTY: Self = Self(0);

    /// The version after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A position in the global log of a store, across all streams. The first event has position
/// 1; positions strictly increase in append order (a store may leave holes, never reorder).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl Position {
    /// The position before the first event: reading from [`Position::START`] reads everything.
    pub const START: Self = Self(0);

    /// The position after this one.
    #[must_use]
    pub const fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// The unique id of a stored event (a UUID v7, so ids sort by creation time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A new, time-ordered id.
    #[must_use]
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// What travels with an event besides its payload: where it came from and why.
///
/// Every field is optional; stores persist it as is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Groups every event caused, directly or not, by one original request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The id of the message (command or event) that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// The id of the command that produced this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<Uuid>,
    /// Free-form headers, such as who acted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

impl Metadata {
    /// Whether no field is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.correlation_id.is_none()
            && self.causation_id.is_none()
            && self.command_id.is_none()
            && self.headers.is_empty()
    }
}

/// An encoded event on its way into a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The id the event will be stored under.
    pub event_id: EventId,
    /// The wire name ([`Event::NAME`](crate::Event::NAME)).
    pub name: Cow<'static, str>,
    /// The schema version ([`Event::VERSION`](crate::Event::VERSION)).
    pub schema_version: u32,
    /// The encoded payload.
    pub payload: Bytes,
    /// Correlation, causation and headers.
    pub metadata: Metadata,
}

impl NewEvent {
    /// A new event with a fresh id and empty metadata.
    #[must_use]
    pub fn new(encoded: Encoded) -> Self {
        Self {
            event_id: EventId::new(),
            name: Cow::Borrowed(encoded.name),
            schema_version: encoded.version,
            payload: encoded.payload,
            metadata: Metadata::default(),
        }
    }

    /// Replaces the metadata.
    #[must_use]
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }
}

/// A stored event, as read back from a store.
///
/// Stores build these; `name` is shared storage so that reading many events of the same type
/// does not allocate a name each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The stream the event belongs to.
    pub stream_id: StreamId,
    /// The event's version within its stream (1 for the first event).
    pub stream_version: Version,
    /// The event's position in the store's global log.
    pub position: Position,
    /// The event's unique id.
    pub event_id: EventId,
    /// When the store recorded the event.
    pub recorded_at: SystemTime,
    /// The wire name.
    pub name: Arc<str>,
    /// The schema version of the payload.
    pub schema_version: u32,
    /// The encoded payload.
    pub payload: Bytes,
    /// Correlation, causation and headers.
    pub metadata: Metadata,
}

impl RecordedEvent {
    /// The conversation the event belongs to: its correlation id, or its own id when it
    /// carries none (it then starts one). What a command caused by the event continues (see
    /// [`CommandMeta::caused_by`](crate::CommandMeta::caused_by)).
    #[must_use]
    pub fn correlation_id(&self) -> Uuid {
        self.metadata.correlation_id.unwrap_or(self.event_id.0)
    }
}
