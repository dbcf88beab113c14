//! Between rows and Rust values: driver errors as store errors, checked integer and time
//! conversions, and the decoding of one event row.
//!
//! A stored value that does not fit its Rust type (a negative position, a stream id that is
//! no longer valid, metadata that is not [`Metadata`], a time PostgreSQL holds but
//! microseconds since 1970 in an `i64` do not) is [`StoreError::Corrupt`], naming its
//! [`Place`] and column; the driver's own failures (connection, pool, protocol) are
//! [`StoreError::Backend`].

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use es_core::envelope::EventId;
use es_core::store::limits;
use es_core::{Metadata, Position, RecordedEvent, StoreError, StoredEvent, StreamId, Version};
use sqlx::error::{BoxDynError, UnexpectedNullError};
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Postgres, Row as _, Type};
use uuid::Uuid;

use crate::schema::SchemaName;

pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

pub(crate) fn encode_error(message: String) -> sqlx::Error {
    sqlx::Error::Encode(message.into())
}

/// Where a stored value was read: a table (or function) of the store's schema and the key of
/// the row, the location of a [`StoreError::Corrupt`]. Cheap to make (it borrows): the text
/// is only written when a value turns out corrupt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    schema: &'a SchemaName,
    /// The table, such as `events`, or the function, such as `append_one()`.
    table: &'static str,
    key: Key<'a>,
}

/// The row of a [`Place`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    /// The row is not known (its key could not be read).
    Unknown,
    /// A row of `events`, by position.
    Position(i64),
    /// The rows of one stream (of `events`), or its row (of `snapshots`).
    Stream(&'a str),
    /// The rows of one stream that carry a command id.
    Command(&'a str, Uuid),
    /// The row of a projection (of `checkpoints`).
    Projection(&'a str),
    /// The answer of an append function to an append to a stream.
    Answer(&'a str),
    /// A parked event of a consumer (of `parked_events`): consumer, position.
    Parked(&'a str, i64),
    /// An instance of a process manager (of `process_instances`): process, key.
    Instance(&'a str, &'a str),
    /// A timer of a process manager (of `process_timers`): process, key, name.
    Timer(&'a str, &'a str, &'a str),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.schema, self.table)?;
        match self.key {
            Key::Unknown => Ok(()),
            Key::Position(position) => write!(f, ", position {position}"),
            Key::Stream(stream) => write!(f, ", stream {stream:?}"),
            Key::Command(stream, command) => write!(f, ", stream {stream:?}, command id {command}"),
            Key::Projection(projection) => write!(f, ", projection {projection:?}"),
            Key::Answer(stream) => write!(f, ", its answer to an append to stream {stream:?}"),
            Key::Parked(consumer, position) => {
                write!(f, ", consumer {consumer:?}, position {position}")
            }
            Key::Instance(process, key) => write!(f, ", process {process:?}, key {key:?}"),
            Key::Timer(process, key, name) => {
                write!(f, ", process {process:?}, key {key:?}, timer {name:?}")
            }
        }
    }
}

impl<'a> Place<'a> {
    pub(crate) fn new(schema: &'a SchemaName, table: &'static str, key: Key<'a>) -> Self {
        Self { schema, table, key }
    }

    /// The same table, another row.
    pub(crate) fn at(self, key: Key<'a>) -> Self {
        Self { key, ..self }
    }

    /// The error for the value of `column` here.
    pub(crate) fn corrupt(&self, column: &str, problem: impl fmt::Display) -> StoreError {
        StoreError::Corrupt {
            location: format!("{self}, column {column}"),
            problem: problem.to_string(),
        }
    }

    /// Column `index` (named `column`) of `row`, read from here: a value that does not decode
    /// as `T` (a NULL, another type) is corrupt; any other failure is the driver's.
    pub(crate) fn get<'r, T>(
        &self,
        row: &'r PgRow,
        index: usize,
        column: &str,
    ) -> Result<T, StoreError>
    where
        T: Decode<'r, Postgres> + Type<Postgres>,
    {
        row.try_get(index)
            .map_err(|error| self.column_error(error, column))
    }

    /// [`get`](Self::get), checking that the column's type is `T`'s only if `check_type`:
    /// the rows of one result share their columns' types (PostgreSQL describes them once
    /// per result), so checking the first row's is enough. A NULL, or bytes that do not
    /// decode, are corrupt either way.
    pub(crate) fn get_checking<'r, T>(
        &self,
        row: &'r PgRow,
        index: usize,
        column: &str,
        check_type: bool,
    ) -> Result<T, StoreError>
    where
        T: Decode<'r, Postgres> + Type<Postgres>,
    {
        if check_type {
            row.try_get(index)
        } else {
            row.try_get_unchecked(index)
        }
        .map_err(|error| self.column_error(error, column))
    }

    /// The error of a column that could not be read.
    fn column_error(&self, error: sqlx::Error, column: &str) -> StoreError {
        match error {
            sqlx::Error::ColumnDecode { source, .. } if source.is::<UnexpectedNullError>() => {
                self.corrupt(column, "NULL where a value is required")
            }
            sqlx::Error::ColumnDecode { source, .. } => self.corrupt(column, source),
            other => backend(other),
        }
    }

    /// A position, version or count: a `bigint` that must not be negative.
    pub(crate) fn unsigned(&self, value: i64, column: &str) -> Result<u64, StoreError> {
        u64::try_from(value).map_err(|_| self.corrupt(column, format!("{value} is negative")))
    }

    /// A schema version: a `bigint` that must fit a `u32`.
    pub(crate) fn schema_version(&self, value: i64, column: &str) -> Result<u32, StoreError> {
        u32::try_from(value).map_err(|_| {
            self.corrupt(
                column,
                format!("{value} is not a schema version (0 to {})", u32::MAX),
            )
        })
    }

    /// A time as microseconds since the Unix epoch, `None` for a time that does not fit them:
    /// a NULL, or a `timestamptz` for which [`Timestamptz::unix_micros`] has none.
    pub(crate) fn time(&self, micros: Option<i64>, column: &str) -> Result<SystemTime, StoreError> {
        let Some(micros) = micros else {
            return Err(self.corrupt(
                column,
                "not a time microseconds since 1970 in an i64 can hold \
                 (infinite, at or after 294247-01-10 04:00:54.775807 UTC, or NULL)",
            ));
        };
        from_micros(micros).ok_or_else(|| {
            self.corrupt(
                column,
                format!("{micros} µs since 1970 is beyond this platform's clock"),
            )
        })
    }
}

/// A `timestamptz` value as PostgreSQL sends it in binary: microseconds since
/// 2000-01-01 00:00 UTC, `i64::MAX` for `infinity` and `i64::MIN` for `-infinity`. Reads
/// select `timestamptz` columns as they are stored, so the server converts nothing; the
/// conversion to Unix time is [`unix_micros`](Self::unix_micros), here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamptz(i64);

/// Microseconds from 1970-01-01 to 2000-01-01, UTC.
const MICROS_1970_TO_2000: i64 = 946_684_800_000_000;

impl Timestamptz {
    /// The time as microseconds since the Unix epoch; `None` when it is infinite, or at or
    /// after `i64::MAX` microseconds, 294247-01-10 04:00:54.775807 UTC (PostgreSQL holds
    /// times up to the year 294276).
    pub(crate) fn unix_micros(self) -> Option<i64> {
        if self.0 == i64::MIN {
            return None;
        }
        self.0
            .checked_add(MICROS_1970_TO_2000)
            .filter(|&micros| micros < i64::MAX)
    }
}

impl Type<Postgres> for Timestamptz {
    fn type_info() -> PgTypeInfo {
        // The OID of the built-in `timestamptz`, the same in every database.
        PgTypeInfo::with_oid(Oid(1184))
    }
}

impl<'r> Decode<'r, Postgres> for Timestamptz {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value.as_bytes()?.try_into().map_err(|_| {
                    format!(
                        "{} bytes where a timestamptz has 8",
                        value.as_bytes().map_or(0, <[u8]>::len)
                    )
                })?;
                Ok(Self(i64::from_be_bytes(bytes)))
            }
            // Prepared statements, which every read is, answer in binary.
            PgValueFormat::Text => Err("a timestamptz sent as text, not binary".into()),
        }
    }
}

/// A position, version or count as a `bigint` parameter, saturating: nothing stored is
/// beyond `i64::MAX`, so a larger bound reads the same as `i64::MAX`.
pub(crate) fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A checkpoint position as a `bigint` parameter.
pub(crate) fn checkpoint_param(position: Position) -> Result<i64, sqlx::Error> {
    i64::try_from(position.0).map_err(|_| {
        encode_error(format!(
            "es-postgres: checkpoint {position} is beyond i64::MAX"
        ))
    })
}

/// Microseconds since the Unix epoch, as PostgreSQL keeps time (finer precision is lost).
pub(crate) fn to_micros(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |us| -us),
    }
}

/// Microseconds since the Unix epoch, rounded up: a due time stored this way is never earlier
/// than the time it was given.
pub(crate) fn to_micros_up(time: SystemTime) -> i64 {
    let micros = to_micros(time);
    let exact = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.subsec_nanos() % 1_000 == 0,
        Err(before) => before.duration().subsec_nanos() % 1_000 == 0,
    };
    if exact || micros < 0 {
        micros
    } else {
        micros.saturating_add(1)
    }
}

/// The time `micros` microseconds after (or before) the Unix epoch, if the platform's clock
/// can hold it.
pub(crate) fn from_micros(micros: i64) -> Option<SystemTime> {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    }
}

/// What the rows of one read share, decoded once: one `Arc<str>` per distinct event name
/// (as the in-memory store does, each name checked once), the stream id of the previous
/// row (a stream read is one stream; the global log holds runs of one stream, an append's
/// events), and the metadata of the previous row (an append's events usually carry the
/// same).
///
/// It also knows whether the columns' types were checked: on the first row of a read,
/// which all the others share.
#[derive(Default)]
pub(crate) struct Shared {
    checked: bool,
    names: HashSet<Arc<str>>,
    stream_id: Option<StreamId>,
    metadata: Option<(String, Metadata)>,
}

impl Shared {
    /// `name`, shared; corrupt (at `place`) when no append ever took it: empty, longer than
    /// [`limits::MAX_EVENT_NAME_LEN`] or holding a control character. That is looser, on
    /// purpose, than the rule appends keep now
    /// ([`check_event_name`](es_core::names::check_event_name), through
    /// [`check_batch`](es_core::store::check_batch)): events appended under the earlier rule,
    /// these three checks alone, must still read.
    pub(crate) fn intern(&mut self, name: &str, place: &Place<'_>) -> Result<Arc<str>, StoreError> {
        if let Some(shared) = self.names.get(name) {
            return Ok(Arc::clone(shared));
        }
        if name.is_empty()
            || name.len() > limits::MAX_EVENT_NAME_LEN
            || name.chars().any(char::is_control)
        {
            return Err(place.corrupt(
                "name",
                format!(
                    "{name:?} is not an event name (1 to {} bytes, no control characters)",
                    limits::MAX_EVENT_NAME_LEN
                ),
            ));
        }
        let shared: Arc<str> = Arc::from(name);
        self.names.insert(Arc::clone(&shared));
        Ok(shared)
    }

    /// `id` as a [`StreamId`], the previous row's when it is the same; corrupt (at `place`)
    /// when no append accepts it.
    pub(crate) fn stream_id(
        &mut self,
        id: &str,
        place: &Place<'_>,
    ) -> Result<StreamId, StoreError> {
        if let Some(previous) = &self.stream_id
            && previous.as_str() == id
        {
            return Ok(previous.clone());
        }
        let stream_id = StreamId::new(id).map_err(|error| place.corrupt("stream_id", error))?;
        self.stream_id = Some(stream_id.clone());
        Ok(stream_id)
    }

    /// `json` as [`Metadata`], the previous row's when the text is the same; corrupt (at
    /// `place`) when it is not metadata.
    fn metadata(&mut self, json: &str, place: &Place<'_>) -> Result<Metadata, StoreError> {
        if json == "{}" {
            return Ok(Metadata::default());
        }
        if let Some((text, metadata)) = &self.metadata
            && text == json
        {
            return Ok(metadata.clone());
        }
        let metadata: Metadata = serde_json::from_str(json).map_err(|error| {
            place.corrupt("metadata", format!("not the metadata of an event: {error}"))
        })?;
        self.metadata = Some((json.to_owned(), metadata.clone()));
        Ok(metadata)
    }
}

/// Which columns an event read selects after those of `sql/event_columns.sql`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Columns<'a> {
    /// A read of the log: the event id, the metadata, then the stream id.
    Log,
    /// A read of this stream: the event id and the metadata (the stream id is known).
    Stream(&'a StreamId),
}

/// The columns of `sql/event_columns.sql` of `row`, which every event read selects first:
/// what a replay reads, borrowed from the row. The event name is not checked here: a name no
/// event type has fails its decoding, naming the event.
pub(crate) fn decode_stored<'r>(
    row: &'r PgRow,
    stream_id: &'r StreamId,
    place: &Place<'_>,
    check: bool,
) -> Result<StoredEvent<'r>, StoreError> {
    let (place, position) = row_position(row, *place, check)?;
    stored_columns(row, stream_id, position, &place, check)
}

/// Column 0 of an event row, its position, and `place` narrowed to that row.
fn row_position<'a>(
    row: &PgRow,
    place: Place<'a>,
    check: bool,
) -> Result<(Place<'a>, u64), StoreError> {
    let position: i64 = place.get_checking(row, 0, "position", check)?;
    let place = place.at(Key::Position(position));
    let position = place.unsigned(position, "position")?;
    Ok((place, position))
}

/// Columns 1 to 5 of `sql/event_columns.sql` of the row at `place` and `position`, borrowed.
fn stored_columns<'r>(
    row: &'r PgRow,
    stream_id: &'r StreamId,
    position: u64,
    place: &Place<'_>,
    check: bool,
) -> Result<StoredEvent<'r>, StoreError> {
    let stream_version = place.get_checking(row, 1, "stream_version", check)?;
    let stream_version = place.unsigned(stream_version, "stream_version")?;
    let name: &str = place.get_checking(row, 2, "name", check)?;
    let schema_version = place.get_checking(row, 3, "schema_version", check)?;
    let schema_version = place.schema_version(schema_version, "schema_version")?;
    let payload: &[u8] = place.get_checking(row, 4, "payload", check)?;
    let recorded_at: Option<Timestamptz> = place.get_checking(row, 5, "recorded_at", check)?;
    let recorded_at = place.time(
        recorded_at.and_then(Timestamptz::unix_micros),
        "recorded_at",
    )?;
    Ok(StoredEvent::new(
        stream_id,
        Version(stream_version),
        Position(position),
        name,
        schema_version,
        payload,
        recorded_at,
    ))
}

/// One row of `events` (the columns of `sql/event_columns.sql`, then those `columns` says),
/// checked value by value. `shared` must be the read's: the columns' types are checked on the
/// first row it sees, which the others share.
pub(crate) fn decode_event(
    row: &PgRow,
    shared: &mut Shared,
    schema: &SchemaName,
    columns: Columns<'_>,
) -> Result<RecordedEvent, StoreError> {
    let check = !shared.checked;
    let (place, position) = row_position(row, Place::new(schema, "events", Key::Unknown), check)?;
    let stream_id = match columns {
        Columns::Log => {
            let stream_id = place.get_checking(row, 8, "stream_id", check)?;
            shared.stream_id(stream_id, &place)?
        }
        Columns::Stream(stream_id) => stream_id.clone(),
    };
    let stored = stored_columns(row, &stream_id, position, &place, check)?;
    let name = shared.intern(stored.name, &place)?;
    let event_id: Uuid = place.get_checking(row, 6, "event_id", check)?;
    let metadata = shared.metadata(place.get_checking(row, 7, "metadata", check)?, &place)?;
    shared.checked = true;
    Ok(RecordedEvent {
        stream_version: stored.stream_version,
        position: stored.position,
        event_id: EventId(event_id),
        recorded_at: stored.recorded_at,
        name,
        schema_version: stored.schema_version,
        payload: Bytes::copy_from_slice(stored.payload),
        metadata,
        stream_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_microseconds() {
        for micros in [
            0,
            1,
            -1,
            1_700_000_000_123_456,
            -86_400_000_000,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(from_micros(micros).map(to_micros), Some(micros));
        }
    }

    #[test]
    fn stored_times_are_unix_microseconds_below_i64_max() {
        let stored = |micros| Timestamptz(micros).unix_micros();
        assert_eq!(stored(0), Some(MICROS_1970_TO_2000));
        assert_eq!(stored(-MICROS_1970_TO_2000), Some(0));
        assert_eq!(stored(-MICROS_1970_TO_2000 - 1), Some(-1));
        // 294247-01-10 04:00:54.775806 UTC is the last time that reads.
        assert_eq!(
            stored(i64::MAX - MICROS_1970_TO_2000 - 1),
            Some(i64::MAX - 1)
        );
        assert_eq!(stored(i64::MAX - MICROS_1970_TO_2000), None);
        assert_eq!(stored(i64::MAX - 1), None);
        // The infinities.
        assert_eq!(stored(i64::MAX), None);
        assert_eq!(stored(i64::MIN), None);
    }

    #[test]
    fn out_of_range_values_are_corrupt_and_name_their_place() {
        let schema = SchemaName::default();
        let place = Place::new(&schema, "events", Key::Position(17));
        let Err(StoreError::Corrupt { location, problem }) = place.unsigned(-1, "stream_version")
        else {
            panic!("a negative version is corrupt");
        };
        assert_eq!(location, "es.events, position 17, column stream_version");
        assert_eq!(problem, "-1 is negative");
        assert!(place.schema_version(1 << 32, "schema_version").is_err());
        assert!(place.time(None, "recorded_at").is_err());
        assert_eq!(place.unsigned(0, "position").ok(), Some(0));
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
    }

    #[test]
    fn places_name_their_row() {
        let schema = SchemaName::default();
        let place = Place::new(&schema, "checkpoints", Key::Projection("p"));
        assert_eq!(place.to_string(), "es.checkpoints, projection \"p\"");
        assert_eq!(
            place.at(Key::Stream("a-1")).to_string(),
            "es.checkpoints, stream \"a-1\""
        );
        assert_eq!(place.at(Key::Unknown).to_string(), "es.checkpoints");
    }

    #[test]
    fn stream_ids_and_metadata_repeated_from_the_previous_row_read_alike() {
        let schema = SchemaName::default();
        let place = Place::new(&schema, "events", Key::Position(5));
        let mut shared = Shared::default();
        let command = Uuid::now_v7();
        let json = format!(r#"{{"command_id":"{command}"}}"#);
        for _ in 0..2 {
            let metadata = shared.metadata(&json, &place).map_err(|e| e.to_string());
            assert_eq!(metadata.map(|m| m.command_id), Ok(Some(command)));
            assert_eq!(
                shared.metadata("{}", &place).ok(),
                Some(Metadata::default())
            );
            let id = shared
                .stream_id("note-1", &place)
                .map_err(|e| e.to_string());
            assert_eq!(id.as_ref().map(StreamId::as_str), Ok("note-1"));
        }
        assert_eq!(
            shared
                .stream_id("note-2", &place)
                .ok()
                .map(|id| id.to_string()),
            Some("note-2".to_owned())
        );
        for bad in ["[1, 2]", r#"{"command_id":"not a uuid"}"#] {
            assert!(matches!(
                shared.metadata(bad, &place),
                Err(StoreError::Corrupt { .. })
            ));
        }
        assert!(matches!(
            shared.stream_id("", &place),
            Err(StoreError::Corrupt { .. })
        ));
    }

    #[test]
    fn event_names_that_no_append_ever_took_are_corrupt() {
        let schema = SchemaName::default();
        let place = Place::new(&schema, "events", Key::Position(3));
        let mut names = Shared::default();
        let first = names
            .intern("user.created", &place)
            .map_err(|e| e.to_string());
        let again = names
            .intern("user.created", &place)
            .map_err(|e| e.to_string());
        assert_eq!(first, again);
        for bad in ["", "tab\there", &"x".repeat(limits::MAX_EVENT_NAME_LEN + 1)] {
            assert!(
                matches!(names.intern(bad, &place), Err(StoreError::Corrupt { .. })),
                "{bad:?}"
            );
        }
        // Appended under the earlier rule, before `es_core::names`: still read.
        for earlier in ["user created", "Größe.geändert", "#1"] {
            assert!(
                es_core::names::check_event_name(earlier).is_err(),
                "{earlier:?}"
            );
            assert!(names.intern(earlier, &place).is_ok(), "{earlier:?}");
        }
    }
}
