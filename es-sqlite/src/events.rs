//! [`EventStore`] for [`SqliteStore`]: appends through the writer, reads on the reader
//! threads, live subscriptions woken by the head.

use std::time::SystemTime;

use bytes::Bytes;
use es_core::store::check_batch;
use es_core::{
    Appended, EventStore, ExpectedVersion, NewEvent, Position, Recorded, RecordedEvent, Refusal,
    StoreError, StreamId, Version,
};
use rusqlite::Connection;
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::store_error;
use crate::queries;
use crate::values::{
    Decoder, Key, Place, all_rows, headers_text, one_row, optional_row, saturating_i64, to_micros,
};
use crate::writer::Tx;

/// One append, in the writer's transaction: idempotency, then the expected version, then the
/// rows. Nothing is written unless every check passes.
fn append_in(
    tx: &mut Tx<'_>,
    stream_id: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
    recorded_at: SystemTime,
) -> Result<Appended, StoreError> {
    let (conn, path) = (tx.conn(), tx.path());
    let fail = |error: rusqlite::Error| store_error(path, "appending", &error);
    let command_id = events.first().and_then(|event| event.metadata.command_id);
    if let Some(command_id) = command_id
        && let Some(earlier) = find_command_in(conn, path, stream_id, command_id)?
    {
        return earlier.into_repeat_answer(stream_id, command_id);
    }
    let actual = stream_version_in(conn, path, stream_id)?;
    if !expected.accepts(actual) {
        return Err(StoreError::Conflict {
            stream_id: stream_id.clone(),
            expected,
            actual,
        });
    }
    let count = events.len() as u64;
    let first = tx.take_positions(count)?;
    let recorded_at = to_micros(recorded_at);
    let mut insert = conn.prepare_cached(queries::INSERT_EVENT).map_err(fail)?;
    let mut version = actual.0;
    for (offset, event) in (0..).zip(events.iter()) {
        version += 1;
        let metadata = &event.metadata;
        insert
            .execute((
                saturating_i64(first + offset),
                stream_id.as_str(),
                saturating_i64(version),
                event.event_id.0.as_bytes(),
                &*event.name,
                i64::from(event.schema_version),
                &event.payload[..],
                metadata.correlation_id.as_ref().map(Uuid::as_bytes),
                metadata.causation_id.as_ref().map(Uuid::as_bytes),
                metadata.command_id.as_ref().map(Uuid::as_bytes),
                headers_text(&metadata.headers),
                recorded_at,
            ))
            .map_err(fail)?;
    }
    let last = first + count - 1;
    let appended = Appended::new(Version(version), Position(first), Position(last));
    if let Some(command_id) = command_id {
        conn.prepare_cached(queries::INSERT_COMMAND)
            .and_then(|mut statement| {
                statement.execute((
                    stream_id.as_str(),
                    command_id.as_bytes(),
                    saturating_i64(version),
                    saturating_i64(first),
                    saturating_i64(last),
                ))
            })
            .map_err(fail)?;
    }
    Ok(appended)
}

/// The version of `stream_id` (0 when it has no events).
fn stream_version_in(
    conn: &Connection,
    path: &std::path::Path,
    stream_id: &StreamId,
) -> Result<Version, StoreError> {
    let place = Place::new(path, "es_events", Key::Stream(stream_id.as_str()));
    one_row(
        conn,
        path,
        "reading a stream's version",
        queries::STREAM_VERSION,
        [stream_id.as_str()],
        |row| place.unsigned(row, 0, "stream_version"),
    )
    .map(Version)
}

/// What `command_id` produced on `stream_id`, if anything: the append that carried it (as a
/// duplicate), or its refusal.
fn find_command_in(
    conn: &Connection,
    path: &std::path::Path,
    stream_id: &StreamId,
    command_id: Uuid,
) -> Result<Option<Recorded>, StoreError> {
    let key = Key::Command(stream_id.as_str(), command_id);
    let commands = Place::new(path, "es_commands", key);
    let refusals = Place::new(path, "es_refusals", key);
    optional_row(
        conn,
        path,
        "looking up a command id",
        queries::FIND_COMMAND,
        (stream_id.as_str(), command_id.as_bytes()),
        // The columns of `sql/find_command.sql`: the outcome, then its table's columns.
        |row| match commands.int(row, 0, "outcome")? {
            0 => {
                let version = commands.unsigned(row, 1, "stream_version")?;
                let first = commands.unsigned(row, 2, "first_position")?;
                let last = commands.unsigned(row, 3, "last_position")?;
                let appended = Appended::new(Version(version), Position(first), Position(last));
                Ok(Recorded::Appended(appended.as_duplicate()))
            }
            _ => {
                let version = refusals.unsigned(row, 1, "stream_version")?;
                let payload = Bytes::copy_from_slice(refusals.blob(row, 4, "payload")?);
                Ok(Recorded::Refused(Refusal::new(Version(version), payload)))
            }
        },
    )
}

/// One refusal, in the writer's transaction: the command id's earlier outcome, or the
/// version check, or the record.
fn refuse_in(
    tx: &mut Tx<'_>,
    stream_id: &StreamId,
    expected: ExpectedVersion,
    command_id: Uuid,
    payload: &Bytes,
) -> Result<Recorded, StoreError> {
    let (conn, path) = (tx.conn(), tx.path());
    if let Some(earlier) = find_command_in(conn, path, stream_id, command_id)? {
        return Ok(earlier);
    }
    let actual = stream_version_in(conn, path, stream_id)?;
    if !expected.accepts(actual) {
        return Err(StoreError::Conflict {
            stream_id: stream_id.clone(),
            expected,
            actual,
        });
    }
    conn.prepare_cached(queries::INSERT_REFUSAL)
        .and_then(|mut statement| {
            statement.execute((
                stream_id.as_str(),
                command_id.as_bytes(),
                saturating_i64(actual.0),
                &payload[..],
                crate::values::now_micros(),
            ))
        })
        .map_err(|error| store_error(path, "recording a refusal", &error))?;
    Ok(Recorded::Refused(Refusal::new(actual, payload.clone())))
}

/// The events of a statement's rows.
fn read_events(
    conn: &Connection,
    path: &std::path::Path,
    sql: &str,
    params: impl rusqlite::Params,
    operation: &'static str,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut decoder = Decoder::new(path);
    all_rows(conn, path, operation, sql, params, |row| decoder.event(row))
}

impl EventStore for SqliteStore {
    async fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        check_batch(stream_id, &events)?;
        let stream_id = stream_id.clone();
        let recorded_at = SystemTime::now();
        self.inner
            .writer
            .run("appending", move |tx| {
                append_in(tx, &stream_id, expected, &events, recorded_at)
            })
            .await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if max_count == 0 {
            return Ok(Vec::new());
        }
        let path = self.inner.path.clone();
        let stream_id = stream_id.clone();
        self.inner
            .readers
            .run("reading a stream", move |conn| {
                read_events(
                    conn,
                    &path,
                    &queries::READ_STREAM,
                    (
                        stream_id.as_str(),
                        saturating_i64(from.0),
                        saturating_i64(max_count),
                    ),
                    "reading a stream",
                )
            })
            .await
    }

    async fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if max_count == 0 {
            return Ok(Vec::new());
        }
        let path = self.inner.path.clone();
        self.inner
            .readers
            .run("reading the log", move |conn| {
                read_events(
                    conn,
                    &path,
                    &queries::READ_ALL,
                    (saturating_i64(after.0), saturating_i64(max_count)),
                    "reading the log",
                )
            })
            .await
    }

    async fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> Result<Option<Recorded>, StoreError> {
        let path = self.inner.path.clone();
        let stream_id = stream_id.clone();
        self.inner
            .readers
            .run("looking up a command id", move |conn| {
                find_command_in(conn, &path, &stream_id, command_id)
            })
            .await
    }

    async fn refuse(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> Result<Recorded, StoreError> {
        let stream_id = stream_id.clone();
        self.inner
            .writer
            .run("recording a refusal", move |tx| {
                refuse_in(tx, &stream_id, expected, command_id, &refusal)
            })
            .await
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<Version, StoreError> {
        let path = self.inner.path.clone();
        let stream_id = stream_id.clone();
        self.inner
            .readers
            .run("reading a stream's version", move |conn| {
                stream_version_in(conn, &path, &stream_id)
            })
            .await
    }

    async fn wait_for_events(&self, after: Position) -> Result<(), StoreError> {
        let mut head = self.inner.head.subscribe();
        // The sender lives as long as the store, so waiting cannot fail.
        let _ = head.wait_for(|head| *head > after).await;
        Ok(())
    }
}
