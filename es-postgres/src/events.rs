//! [`EventStore`] on PostgreSQL: appends through the `append` function, reads of streams
//! and of the global log.

use es_core::store::check_batch;
use es_core::{
    Appended, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError, StreamId,
    Version,
};
use sqlx::Row as _;
use uuid::Uuid;

use crate::values::{
    Names, backend, decode_error, decode_event, encode_error, saturating_i64, to_u64,
};
use crate::{MAX_ANY_RETRIES, PgStore};

impl PgStore {
    /// Runs the append function once; `Err` carries the driver's error for the caller to
    /// classify.
    async fn append_once(
        &self,
        stream_id: &StreamId,
        expected: i64,
        command_id: Option<Uuid>,
        batch: &Batch<'_>,
    ) -> Result<Outcome, sqlx::Error> {
        let row = sqlx::query(&self.inner.sql.append)
            .bind(stream_id.as_str())
            .bind(expected)
            .bind(command_id)
            .bind(&batch.event_ids[..])
            .bind(&batch.names[..])
            .bind(&batch.schema_versions[..])
            .bind(&batch.payloads[..])
            .bind(&batch.metadata[..])
            .fetch_one(&self.inner.pool)
            .await?;
        let outcome: String = row.try_get(0)?;
        let version = to_u64(row.try_get::<i64, _>(1)?, "o_stream_version")?;
        let positions = || -> Result<(Position, Position), sqlx::Error> {
            let first = row.try_get::<Option<i64>, _>(2)?;
            let last = row.try_get::<Option<i64>, _>(3)?;
            match (first, last) {
                (Some(first), Some(last)) => Ok((
                    Position(to_u64(first, "o_first_position")?),
                    Position(to_u64(last, "o_last_position")?),
                )),
                _ => Err(decode_error(format!(
                    "the append function returned {outcome:?} without positions"
                ))),
            }
        };
        match outcome.as_str() {
            "appended" => {
                let (first, last) = positions()?;
                Ok(Outcome::Appended(Appended::new(
                    Version(version),
                    first,
                    last,
                )))
            }
            "duplicate" => {
                let (first, last) = positions()?;
                Ok(Outcome::Appended(
                    Appended::new(Version(version), first, last).as_duplicate(),
                ))
            }
            "conflict" => Ok(Outcome::Conflict(Version(version))),
            other => Err(decode_error(format!(
                "the append function returned the unknown outcome {other:?}"
            ))),
        }
    }

    /// Events of `stream_id` from `from`, decoded.
    async fn fetch_events(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let rows = query.fetch_all(&self.inner.pool).await.map_err(backend)?;
        let mut names = Names::default();
        rows.iter()
            .map(|row| decode_event(row, &mut names).map_err(backend))
            .collect()
    }
}

/// What one run of the append function decided.
enum Outcome {
    Appended(Appended),
    Conflict(Version),
}

/// An append's events as the append function's array parameters.
struct Batch<'a> {
    event_ids: Vec<Uuid>,
    names: Vec<&'a str>,
    schema_versions: Vec<i64>,
    payloads: Vec<&'a [u8]>,
    metadata: Vec<String>,
}

impl<'a> Batch<'a> {
    fn new(events: &'a [NewEvent]) -> Result<Self, serde_json::Error> {
        let mut batch = Self {
            event_ids: Vec::with_capacity(events.len()),
            names: Vec::with_capacity(events.len()),
            schema_versions: Vec::with_capacity(events.len()),
            payloads: Vec::with_capacity(events.len()),
            metadata: Vec::with_capacity(events.len()),
        };
        for event in events {
            batch.event_ids.push(event.event_id.0);
            batch.names.push(&event.name);
            batch.schema_versions.push(i64::from(event.schema_version));
            batch.payloads.push(&event.payload);
            batch.metadata.push(serde_json::to_string(&event.metadata)?);
        }
        Ok(batch)
    }
}

/// Whether `error` is the unique violation of `(stream_id, stream_version)`: a concurrent
/// append took the version first.
fn is_version_taken(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505")
                && db.constraint() == Some("events_stream_version_key")
        }
        _ => false,
    }
}

impl EventStore for PgStore {
    async fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        check_batch(stream_id, &events)?;
        let command_id = events.first().and_then(|event| event.metadata.command_id);
        let batch = Batch::new(&events)
            .map_err(|error| backend(encode_error(format!("es-postgres: metadata: {error}"))))?;
        let expected_param = match expected {
            ExpectedVersion::Any => -1,
            ExpectedVersion::NoStream => 0,
            ExpectedVersion::Exact(version) => saturating_i64(version.0),
        };
        let conflict = |actual| StoreError::Conflict {
            stream_id: stream_id.clone(),
            expected,
            actual,
        };
        let mut retries = 0;
        loop {
            let outcome = self
                .append_once(stream_id, expected_param, command_id, &batch)
                .await;
            // Wake subscribers, here and in other processes: after a new append, and after a
            // failed one (it may have taken positions and held back later appends until it
            // rolled back). A conflict or a duplicate took no position.
            let quiet = match &outcome {
                Ok(Outcome::Appended(appended)) => appended.duplicate,
                Ok(Outcome::Conflict(_)) => true,
                Err(_) => false,
            };
            if !quiet {
                let inner = &self.inner;
                inner
                    .notifier
                    .request(&inner.pool, &inner.sql.notify, &inner.channel);
            }
            match outcome {
                Ok(Outcome::Appended(appended)) => return Ok(appended),
                Ok(Outcome::Conflict(actual)) => return Err(conflict(actual)),
                Err(error) if is_version_taken(&error) => {
                    // Another append won the race for the next version; answer as if the two
                    // had come one after the other.
                    if let Some(command_id) = command_id
                        && let Some(earlier) = self.find_command(stream_id, command_id).await?
                    {
                        return Ok(earlier);
                    }
                    if expected == ExpectedVersion::Any && retries < MAX_ANY_RETRIES {
                        retries += 1;
                        continue;
                    }
                    return Err(conflict(self.stream_version(stream_id).await?));
                }
                Err(error) => return Err(backend(error)),
            }
        }
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
        let query = sqlx::query(&self.inner.sql.read_stream)
            .bind(stream_id.as_str())
            .bind(saturating_i64(from.0))
            .bind(saturating_i64(max_count as u64));
        self.fetch_events(query).await
    }

    async fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        if max_count == 0 {
            return Ok(Vec::new());
        }
        let query = sqlx::query(&self.inner.sql.read_all)
            .bind(saturating_i64(after.0))
            .bind(saturating_i64(max_count as u64));
        self.fetch_events(query).await
    }

    async fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> Result<Option<Appended>, StoreError> {
        let row = sqlx::query(&self.inner.sql.find_command)
            .bind(stream_id.as_str())
            .bind(command_id)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        let decode = || -> Result<Option<Appended>, sqlx::Error> {
            let version: Option<i64> = row.try_get(0)?;
            let first: Option<i64> = row.try_get(1)?;
            let last: Option<i64> = row.try_get(2)?;
            let (Some(version), Some(first), Some(last)) = (version, first, last) else {
                return Ok(None);
            };
            Ok(Some(
                Appended::new(
                    Version(to_u64(version, "stream_version")?),
                    Position(to_u64(first, "position")?),
                    Position(to_u64(last, "position")?),
                )
                .as_duplicate(),
            ))
        };
        decode().map_err(backend)
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<Version, StoreError> {
        let version: i64 = sqlx::query_scalar(&self.inner.sql.stream_version)
            .bind(stream_id.as_str())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(Version(to_u64(version, "stream_version").map_err(backend)?))
    }

    async fn wait_for_events(&self, after: Position) -> Result<(), StoreError> {
        let inner = &self.inner;
        // Subscribe before checking, so a notification after the check is not missed.
        let mut wakeup = inner
            .wakeups
            .subscribe(&inner.pool.connect_options(), &inner.channel);
        loop {
            let any: bool = sqlx::query_scalar(&inner.sql.any_after)
                .bind(saturating_i64(after.0))
                .fetch_one(&inner.pool)
                .await
                .map_err(backend)?;
            if any {
                return Ok(());
            }
            match wakeup.as_mut() {
                Some(receiver) => {
                    match tokio::time::timeout(inner.poll_interval, receiver.changed()).await {
                        // Notified (or reconnected): the caller reads again.
                        Ok(Ok(())) => return Ok(()),
                        // The listener is gone: poll from now on.
                        Ok(Err(_closed)) => wakeup = None,
                        // The poll interval passed: check again.
                        Err(_elapsed) => {}
                    }
                }
                None => tokio::time::sleep(inner.poll_interval).await,
            }
        }
    }
}
