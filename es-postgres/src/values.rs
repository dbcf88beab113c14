//! Between rows and Rust values: driver errors as store errors, checked integer and time
//! conversions, and the decoding of one event row.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use es_core::envelope::EventId;
use es_core::{Metadata, Position, RecordedEvent, StoreError, StreamId, Version};
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use uuid::Uuid;

pub(crate) fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(Box::new(error))
}

pub(crate) fn decode_error(message: String) -> sqlx::Error {
    sqlx::Error::Decode(message.into())
}

pub(crate) fn encode_error(message: String) -> sqlx::Error {
    sqlx::Error::Encode(message.into())
}

pub(crate) fn to_u64(value: i64, column: &str) -> Result<u64, sqlx::Error> {
    u64::try_from(value).map_err(|_| {
        decode_error(format!(
            "es-postgres: negative {column} {value} in the store"
        ))
    })
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

pub(crate) fn from_micros(micros: i64) -> Result<SystemTime, sqlx::Error> {
    let offset = Duration::from_micros(micros.unsigned_abs());
    let time = if micros >= 0 {
        UNIX_EPOCH.checked_add(offset)
    } else {
        UNIX_EPOCH.checked_sub(offset)
    };
    time.ok_or_else(|| decode_error(format!("es-postgres: time {micros} µs is out of range")))
}

/// Shares one `Arc<str>` per distinct event name within a read, as the in-memory store does.
#[derive(Default)]
pub(crate) struct Names(HashSet<Arc<str>>);

impl Names {
    pub(crate) fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(name) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(name);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

/// One row of `events` (the columns of `sql/event_columns.sql`), checked value by value.
pub(crate) fn decode_event(row: &PgRow, names: &mut Names) -> Result<RecordedEvent, sqlx::Error> {
    let position = to_u64(row.try_get(0)?, "position")?;
    let stream_id: &str = row.try_get(1)?;
    let stream_id = StreamId::new(stream_id).map_err(|error| {
        decode_error(format!(
            "es-postgres: the event at position {position} has an invalid stream id: {error}"
        ))
    })?;
    let stream_version = to_u64(row.try_get(2)?, "stream_version")?;
    let event_id: Uuid = row.try_get(3)?;
    let name: &str = row.try_get(4)?;
    let schema_version: i64 = row.try_get(5)?;
    let schema_version = u32::try_from(schema_version).map_err(|_| {
        decode_error(format!(
            "es-postgres: the event at position {position} has schema version {schema_version}, not a u32"
        ))
    })?;
    let payload: Vec<u8> = row.try_get(6)?;
    let metadata: &str = row.try_get(7)?;
    let metadata: Metadata = serde_json::from_str(metadata).map_err(|error| {
        decode_error(format!(
            "es-postgres: the metadata of the event at position {position} does not decode: {error}"
        ))
    })?;
    let recorded_at = from_micros(row.try_get(8)?)?;
    Ok(RecordedEvent {
        stream_id,
        stream_version: Version(stream_version),
        position: Position(position),
        event_id: EventId(event_id),
        recorded_at,
        name: names.intern(name),
        schema_version,
        payload: Bytes::from(payload),
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_microseconds() {
        for micros in [0, 1, -1, 1_700_000_000_123_456, -86_400_000_000] {
            let time = from_micros(micros).map_err(|e| e.to_string());
            assert_eq!(time.map(to_micros), Ok(micros));
        }
    }

    #[test]
    fn out_of_range_values_are_errors_not_panics() {
        assert!(to_u64(-1, "position").is_err());
        assert_eq!(saturating_i64(u64::MAX), i64::MAX);
    }
}
