//! Between rows and Rust values: checked integer, id and time conversions, the decoding of
//! event rows, and the running of a read statement with its rows decoded.
//!
//! SQLite's tables are `STRICT`, so a value of another type cannot be inserted; a stored value
//! that does not fit its Rust type all the same (a NULL where the column allows one, a
//! negative version, a 15-byte id, a stream id no append accepts, headers that are not a
//! JSON object of strings, a time the platform cannot hold) is [`StoreError::Corrupt`],
//! naming the file, the table, the row and the column.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use es_core::envelope::EventId;
use es_core::projection::ParkedEvent;
use es_core::store::limits;
use es_core::{Metadata, Position, RecordedEvent, StoreError, StreamId, Version};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension as _, Params, Row};
use uuid::Uuid;

use crate::error::store_error;
use crate::queries;

/// Where a stored value was read: the file, a table and the key of the row, the location of a
/// [`StoreError::Corrupt`]. Cheap to make (it borrows): the text is only written when a
/// value turns out corrupt.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Place<'a> {
    path: &'a Path,
    table: &'static str,
    key: Key<'a>,
}

/// The row of a [`Place`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Key<'a> {
    /// The row is not known (its key could not be read).
    Unknown,
    /// A row of `es_events`, by position.
    Position(i64),
    /// The rows of one stream, or its row (of `es_snapshots`).
    Stream(&'a str),
    /// The row of a stream's command id (of `es_commands`).
    Command(&'a str, Uuid),
    /// The row of a projection (of `es_checkpoints`).
    Projection(&'a str),
    /// An instance of a process manager (of `es_process_instances`): process, key.
    Instance(&'a str, &'a str),
    /// A timer of a process manager (of `es_process_timers`): process, key, name.
    Timer(&'a str, &'a str, &'a str),
    /// The rows of a partitioned consumer (of `es_leases`, `es_lease_workers`,
    /// `es_lease_counts`).
    Consumer(&'a str),
    /// A consumer's parked event (of `es_parked_events`): consumer, position.
    Parked(&'a str, i64),
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}, {}", self.path.display(), self.table)?;
        match self.key {
            Key::Unknown => Ok(()),
            Key::Position(position) => write!(f, ", position {position}"),
            Key::Stream(stream) => write!(f, ", stream {stream:?}"),
            Key::Command(stream, command) => write!(f, ", stream {stream:?}, command id {command}"),
            Key::Projection(projection) => write!(f, ", projection {projection:?}"),
            Key::Instance(process, key) => write!(f, ", process {process:?}, key {key:?}"),
            Key::Timer(process, key, name) => {
                write!(f, ", process {process:?}, key {key:?}, timer {name:?}")
            }
            Key::Consumer(consumer) => write!(f, ", consumer {consumer:?}"),
            Key::Parked(consumer, position) => {
                write!(f, ", consumer {consumer:?}, position {position}")
            }
        }
    }
}

impl<'a> Place<'a> {
    pub(crate) fn new(path: &'a Path, table: &'static str, key: Key<'a>) -> Self {
        Self { path, table, key }
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

    /// Column `index` (named `column`) of `row`, as SQLite holds it.
    pub(crate) fn value<'r>(
        &self,
        row: &'r Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<ValueRef<'r>, StoreError> {
        row.get_ref(index)
            .map_err(|error| self.corrupt(column, format!("cannot be read: {error}")))
    }

    fn wrong_type(&self, column: &str, value: ValueRef<'_>, wanted: &str) -> StoreError {
        match value {
            ValueRef::Null => self.corrupt(column, "NULL where a value is required"),
            other => self.corrupt(
                column,
                format!("{} where {wanted} is required", other.data_type()),
            ),
        }
    }

    /// An integer column.
    pub(crate) fn int(&self, row: &Row<'_>, index: usize, column: &str) -> Result<i64, StoreError> {
        match self.value(row, index, column)? {
            ValueRef::Integer(value) => Ok(value),
            other => Err(self.wrong_type(column, other, "an integer")),
        }
    }

    /// A position, version or count: an integer that must not be negative.
    pub(crate) fn unsigned(
        &self,
        row: &Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<u64, StoreError> {
        let value = self.int(row, index, column)?;
        u64::try_from(value).map_err(|_| self.corrupt(column, format!("{value} is negative")))
    }

    /// A text column.
    pub(crate) fn text<'r>(
        &self,
        row: &'r Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<&'r str, StoreError> {
        match self.value(row, index, column)? {
            ValueRef::Text(bytes) => std::str::from_utf8(bytes)
                .map_err(|error| self.corrupt(column, format!("not UTF-8: {error}"))),
            other => Err(self.wrong_type(column, other, "text")),
        }
    }

    /// A blob column.
    pub(crate) fn blob<'r>(
        &self,
        row: &'r Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<&'r [u8], StoreError> {
        match self.value(row, index, column)? {
            ValueRef::Blob(bytes) => Ok(bytes),
            other => Err(self.wrong_type(column, other, "a blob")),
        }
    }

    /// A UUID: a blob of 16 bytes.
    pub(crate) fn uuid(
        &self,
        row: &Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<Uuid, StoreError> {
        let bytes = self.blob(row, index, column)?;
        Uuid::from_slice(bytes).map_err(|_| {
            self.corrupt(
                column,
                format!("{} bytes where a 16-byte id is required", bytes.len()),
            )
        })
    }

    /// A UUID or NULL.
    pub(crate) fn optional_uuid(
        &self,
        row: &Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        match self.value(row, index, column)? {
            ValueRef::Null => Ok(None),
            _ => self.uuid(row, index, column).map(Some),
        }
    }

    /// A schema version: an integer that must fit a `u32`.
    pub(crate) fn schema_version(
        &self,
        row: &Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<u32, StoreError> {
        let value = self.int(row, index, column)?;
        u32::try_from(value).map_err(|_| {
            self.corrupt(
                column,
                format!("{value} is not a schema version (0 to {})", u32::MAX),
            )
        })
    }

    /// A time: microseconds since 1970.
    pub(crate) fn time(
        &self,
        row: &Row<'_>,
        index: usize,
        column: &str,
    ) -> Result<SystemTime, StoreError> {
        let micros = self.int(row, index, column)?;
        from_micros(micros).ok_or_else(|| {
            self.corrupt(
                column,
                format!("{micros} µs since 1970 is beyond this platform's clock"),
            )
        })
    }
}

/// The row `sql` finds with `params`, if any, decoded by `decode`. A driver error is the
/// store error of `operation` on the file at `path`.
pub(crate) fn optional_row<T>(
    conn: &Connection,
    path: &Path,
    operation: &'static str,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| {
            statement
                .query_row(params, |row| Ok(decode(row)))
                .optional()
        })
        .map_err(|error| store_error(path, operation, &error))?
        .transpose()
}

/// The one row `sql` yields with `params` (an aggregate's), decoded by `decode`. A driver
/// error is the store error of `operation` on the file at `path`.
pub(crate) fn one_row<T>(
    conn: &Connection,
    path: &Path,
    operation: &'static str,
    sql: &str,
    params: impl Params,
    decode: impl FnOnce(&Row<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.query_row(params, |row| Ok(decode(row))))
        .map_err(|error| store_error(path, operation, &error))?
}

/// Every row `sql` yields with `params`, in order, each decoded by `decode`. A driver error
/// is the store error of `operation` on the file at `path`.
pub(crate) fn all_rows<T>(
    conn: &Connection,
    path: &Path,
    operation: &'static str,
    sql: &str,
    params: impl Params,
    mut decode: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let fail = |error: rusqlite::Error| store_error(path, operation, &error);
    let mut statement = conn.prepare_cached(sql).map_err(fail)?;
    let mut rows = statement.query(params).map_err(fail)?;
    let mut decoded = Vec::new();
    while let Some(row) = rows.next().map_err(fail)? {
        decoded.push(decode(row)?);
    }
    Ok(decoded)
}

/// The position of the last event (0 for an empty log), read on `conn`: the driver's error,
/// or else the position, corrupt when it is negative (edited by hand).
pub(crate) fn last_position(
    conn: &Connection,
    path: &Path,
) -> rusqlite::Result<Result<u64, StoreError>> {
    let place = Place::new(path, "es_events", Key::Unknown);
    conn.prepare_cached(queries::LAST_POSITION)?
        .query_row([], |row| Ok(place.unsigned(row, 0, "max(position)")))
}

/// A position, version or count (a `u64`, or a `usize` row count for a `LIMIT`) as an SQLite
/// integer, saturating: nothing stored is beyond `i64::MAX`, so a larger bound reads the same
/// as `i64::MAX`.
pub(crate) fn saturating_i64(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

/// Microseconds since the Unix epoch (finer precision is lost), saturating.
pub(crate) fn to_micros(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_micros()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_micros()).map_or(i64::MIN, |us| -us),
    }
}

/// Now, in microseconds since the Unix epoch.
pub(crate) fn now_micros() -> i64 {
    to_micros(SystemTime::now())
}

/// The time `micros` microseconds after (or before) the Unix epoch, if the platform's clock
/// can hold it.
fn from_micros(micros: i64) -> Option<SystemTime> {
    let offset = Duration::from_micros(micros.unsigned_abs());
    if micros >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    }
}

/// Metadata headers as stored: a JSON object, or NULL when there are none.
pub(crate) fn headers_text(headers: &BTreeMap<String, String>) -> Option<String> {
    if headers.is_empty() {
        return None;
    }
    // A map of strings always serializes.
    serde_json::to_string(headers).ok()
}

/// Decodes event rows (the columns of `sql/event_columns.sql`), checked value by value. One
/// decoder serves one read: it shares one `Arc<str>` per event name, as the in-memory store
/// does, and reuses the stream id of the row before when it repeats.
pub(crate) struct Decoder<'a> {
    path: &'a Path,
    names: HashSet<Arc<str>>,
    last_stream: Option<StreamId>,
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(path: &'a Path) -> Self {
        Self {
            path,
            names: HashSet::new(),
            last_stream: None,
        }
    }

    /// `name`, shared; corrupt when it is empty, longer than [`limits::MAX_EVENT_NAME_LEN`] or
    /// holds a control character. This is the rule appends followed before event names were
    /// held to [`check_event_name`](es_core::names::check_event_name), and it stays looser on
    /// purpose: an event stored under it must still read. A name today's appends refuse can
    /// therefore read without error. es-postgres reads names by the same rule.
    fn intern(&mut self, name: &str, place: &Place<'_>) -> Result<Arc<str>, StoreError> {
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

    fn stream_id(&mut self, text: &str, place: &Place<'_>) -> Result<StreamId, StoreError> {
        if let Some(last) = &self.last_stream
            && last.as_str() == text
        {
            return Ok(last.clone());
        }
        let stream_id = StreamId::new(text).map_err(|error| place.corrupt("stream_id", error))?;
        self.last_stream = Some(stream_id.clone());
        Ok(stream_id)
    }

    /// One row of `es_parked_events` (the columns of `sql/parked_events.sql`), parked by
    /// `consumer`.
    pub(crate) fn parked(
        &mut self,
        consumer: &str,
        row: &Row<'_>,
    ) -> Result<ParkedEvent, StoreError> {
        let place = Place::new(self.path, "es_parked_events", Key::Consumer(consumer));
        let position = place.int(row, 0, "position")?;
        let place = place.at(Key::Parked(consumer, position));
        let position = u64::try_from(position)
            .map_err(|_| place.corrupt("position", format!("{position} is negative")))?;
        let stream_id = self.stream_id(place.text(row, 1, "stream_id")?, &place)?;
        let name = self.intern(place.text(row, 2, "name")?, &place)?;
        let error = place.text(row, 3, "error")?.to_owned();
        let failed = match place.int(row, 4, "failed")? {
            0 => false,
            1 => true,
            other => return Err(place.corrupt("failed", format!("{other} is not 0 or 1"))),
        };
        let parked_at = place.time(row, 5, "parked_at")?;
        Ok(ParkedEvent::new(
            Position(position),
            stream_id,
            name,
            error,
            failed,
            parked_at,
        ))
    }

    /// One row of `es_events`.
    pub(crate) fn event(&mut self, row: &Row<'_>) -> Result<RecordedEvent, StoreError> {
        let place = Place::new(self.path, "es_events", Key::Unknown);
        let position = place.int(row, 0, "position")?;
        let place = place.at(Key::Position(position));
        let position = u64::try_from(position)
            .map_err(|_| place.corrupt("position", format!("{position} is negative")))?;
        let stream_id = self.stream_id(place.text(row, 1, "stream_id")?, &place)?;
        let stream_version = place.unsigned(row, 2, "stream_version")?;
        let event_id = place.uuid(row, 3, "event_id")?;
        let name = self.intern(place.text(row, 4, "name")?, &place)?;
        let schema_version = place.schema_version(row, 5, "schema_version")?;
        let payload = Bytes::copy_from_slice(place.blob(row, 6, "payload")?);
        let correlation_id = place.optional_uuid(row, 7, "correlation_id")?;
        let causation_id = place.optional_uuid(row, 8, "causation_id")?;
        let command_id = place.optional_uuid(row, 9, "command_id")?;
        let headers = match place.value(row, 10, "headers")? {
            ValueRef::Null => BTreeMap::new(),
            _ => serde_json::from_str(place.text(row, 10, "headers")?).map_err(|error| {
                place.corrupt(
                    "headers",
                    format!("not a JSON object of string headers: {error}"),
                )
            })?,
        };
        let recorded_at = place.time(row, 11, "recorded_at")?;
        Ok(RecordedEvent {
            stream_id,
            stream_version: Version(stream_version),
            position: Position(position),
            event_id: EventId(event_id),
            recorded_at,
            name,
            schema_version,
            payload,
            metadata: Metadata {
                correlation_id,
                causation_id,
                command_id,
                headers,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_microseconds() {
        for micros in [0, 1, -1, 1_700_000_000_123_456, -86_400_000_000] {
            assert_eq!(from_micros(micros).map(to_micros), Some(micros));
        }
    }

    #[test]
    fn places_name_the_file_table_row_and_column() {
        let path = Path::new("/data/app.db");
        let place = Place::new(path, "es_events", Key::Position(17));
        let StoreError::Corrupt { location, problem } = place.corrupt("recorded_at", "bad") else {
            panic!("corrupt is StoreError::Corrupt");
        };
        assert_eq!(
            location,
            "/data/app.db, es_events, position 17, column recorded_at"
        );
        assert_eq!(problem, "bad");
        assert_eq!(
            place.at(Key::Projection("p")).to_string(),
            "/data/app.db, es_events, projection \"p\""
        );
    }

    #[test]
    fn empty_headers_are_stored_as_null() {
        assert_eq!(headers_text(&BTreeMap::new()), None);
        let mut headers = BTreeMap::new();
        headers.insert("who".to_owned(), "ada".to_owned());
        assert_eq!(headers_text(&headers).as_deref(), Some(r#"{"who":"ada"}"#));
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
        assert_eq!(saturating_i64(usize::MAX), i64::MAX);
    }
}
