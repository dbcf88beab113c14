//! [`EventStore`] on PostgreSQL: appends through the `append_one` function (one event) or
//! the `append` function (any other batch), reads of streams and of the global log.

use std::future::poll_fn;
use std::ops::ControlFlow;
use std::pin::pin;

use bytes::Bytes;
use es_core::store::{BATCH_SIZE, check_batch};
use es_core::{
    Appended, EventStore, ExpectedVersion, NewEvent, Position, Recorded, RecordedEvent, Refusal,
    StoreError, StoredEvent, StreamId, Version,
};
use futures_core::Stream as _;
use uuid::Uuid;

use crate::values::{
    Columns, Key, Place, Shared, backend, decode_event, decode_stored, encode_error, saturating_i64,
};
use crate::{MAX_ANY_RETRIES, PgStore};

impl PgStore {
    /// Runs the append function once (`append_one` for one event, `append` otherwise);
    /// the outer `Err` carries the driver's error for the caller to classify, the inner one
    /// an answer that could not be read ([`StoreError::Corrupt`]).
    async fn append_once(
        &self,
        stream_id: &StreamId,
        expected: i64,
        command_id: Option<Uuid>,
        params: &Params<'_>,
    ) -> Result<Result<Outcome, StoreError>, sqlx::Error> {
        let pool = &self.inner.pool;
        let key = Key::Answer(stream_id.as_str());
        let (answer, place) = match params {
            Params::One { event, metadata } => {
                let answer: Vec<Option<i64>> = sqlx::query_scalar(&self.inner.sql.append_one)
                    .bind(stream_id.as_str())
                    .bind(expected)
                    .bind(command_id)
                    .bind(event.event_id.0)
                    .bind(&*event.name)
                    .bind(i64::from(event.schema_version))
                    .bind(&event.payload[..])
                    .bind(metadata.as_str())
                    .fetch_one(pool)
                    .await?;
                let place = Place::new(&self.inner.schema, "append_one()", key);
                (Answer::from_array(&answer, &place), place)
            }
            Params::Batch(batch) => {
                let row = sqlx::query(&self.inner.sql.append)
                    .bind(stream_id.as_str())
                    .bind(expected)
                    .bind(command_id)
                    .bind(&batch.event_ids[..])
                    .bind(&batch.names[..])
                    .bind(&batch.schema_versions[..])
                    .bind(&batch.payloads[..])
                    .bind(&batch.metadata[..])
                    .fetch_one(pool)
                    .await?;
                let place = Place::new(&self.inner.schema, "append()", key);
                (Answer::from_row(&row, &place), place)
            }
        };
        Ok(answer.and_then(|answer| answer.outcome(&place)))
    }

    /// The error of an append whose command id has an earlier outcome other than an append:
    /// [`StoreError::AlreadyRefused`] with the refusal `find_command` found.
    fn answer_earlier(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
        earlier: Option<Recorded>,
    ) -> StoreError {
        match earlier {
            Some(Recorded::Refused(refusal)) => StoreError::AlreadyRefused {
                stream_id: stream_id.clone(),
                command_id,
                refusal,
            },
            other => Place::new(
                &self.inner.schema,
                "refusals",
                Key::Command(stream_id.as_str(), command_id),
            )
            .corrupt(
                "stream_version",
                format!("the append answered refused, and the command id's outcome is {other:?}"),
            ),
        }
    }

    /// Runs `query`, a read of events, and hands each event to `each` as its row arrives
    /// (decoding overlaps the transfer of the rows after it), until `each` breaks. Returns
    /// how many events `each` was handed.
    async fn each_event(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        columns: Columns<'_>,
        mut each: impl FnMut(RecordedEvent) -> ControlFlow<()> + Send,
    ) -> Result<usize, StoreError> {
        let mut rows = pin!(query.fetch(&self.inner.pool));
        let mut shared = Shared::default();
        let mut count = 0;
        while let Some(row) = poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
            let row = row.map_err(backend)?;
            let event = decode_event(&row, &mut shared, &self.inner.schema, columns)?;
            count += 1;
            if each(event).is_break() {
                break;
            }
        }
        Ok(count)
    }

    /// The events `query` reads, decoded; `max_count` is its limit.
    async fn fetch_events(
        &self,
        query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
        columns: Columns<'_>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut events = Vec::with_capacity(max_count.min(BATCH_SIZE));
        self.each_event(query, columns, |event| {
            events.push(event);
            ControlFlow::Continue(())
        })
        .await?;
        Ok(events)
    }

    /// A page of one stream's events, by `sql` (`read_stream` or `replay_stream`).
    fn stream_query<'q>(
        sql: &'q str,
        stream_id: &'q StreamId,
        from: Version,
        max_count: usize,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query(sql)
            .bind(stream_id.as_str())
            .bind(saturating_i64(from.0))
            .bind(saturating_i64(max_count as u64))
    }
}

/// What one run of the append function decided.
enum Outcome {
    Appended(Appended),
    Conflict(Version),
    /// The command id was refused on the stream, at this version.
    Refused(Version),
}

/// The outcomes of the append functions: `append` names them in its text OUT column,
/// `append_one` numbers them in the first element of its array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Appended,
    Duplicate,
    Conflict,
    Refused,
}

/// What an append function answered, as sent: the outcome, the stream version, the first and
/// the last position (`None` for a conflict), and the names of those four fields in the
/// answer, for errors.
#[derive(Debug, PartialEq, Eq)]
struct Answer {
    kind: Kind,
    version: i64,
    first: Option<i64>,
    last: Option<i64>,
    fields: &'static [&'static str; 4],
}

/// The OUT columns of `append`.
const ROW_FIELDS: &[&str; 4] = &[
    "o_outcome",
    "o_stream_version",
    "o_first_position",
    "o_last_position",
];
/// The elements of `append_one`'s array.
const ARRAY_FIELDS: &[&str; 4] = &[
    "[1] (outcome)",
    "[2] (stream_version)",
    "[3] (first_position)",
    "[4] (last_position)",
];

impl Answer {
    /// `append`'s row: `o_outcome` (`'appended'`, `'duplicate'`, `'conflict'` or `'refused'`),
    /// `o_stream_version`, `o_first_position`, `o_last_position`; `refuse`'s row starts with
    /// the same four.
    fn from_row(row: &sqlx::postgres::PgRow, place: &Place<'_>) -> Result<Self, StoreError> {
        let [outcome, version, first, last] = ROW_FIELDS;
        let kind = match place.get::<&str>(row, 0, outcome)? {
            "appended" => Kind::Appended,
            "duplicate" => Kind::Duplicate,
            "conflict" => Kind::Conflict,
            "refused" => Kind::Refused,
            other => {
                return Err(place.corrupt(outcome, format!("the unknown outcome {other:?}")));
            }
        };
        Ok(Self {
            kind,
            version: place.get(row, 1, version)?,
            first: place.get(row, 2, first)?,
            last: place.get(row, 3, last)?,
            fields: ROW_FIELDS,
        })
    }

    /// `append_one`'s array: `[outcome, stream_version, first_position, last_position]`,
    /// the outcome 1 (appended), 2 (duplicate), 3 (conflict) or 4 (refused).
    fn from_array(answer: &[Option<i64>], place: &Place<'_>) -> Result<Self, StoreError> {
        let &[Some(kind), Some(version), first, last] = answer else {
            return Err(place.corrupt(
                "[1:4]",
                format!("{answer:?}, not [outcome, stream_version, first_position, last_position]"),
            ));
        };
        let kind = match kind {
            1 => Kind::Appended,
            2 => Kind::Duplicate,
            3 => Kind::Conflict,
            4 => Kind::Refused,
            other => {
                return Err(place.corrupt(
                    ARRAY_FIELDS[0],
                    format!(
                        "the unknown outcome {other} (1 appended, 2 duplicate, 3 conflict, \
                         4 refused)"
                    ),
                ));
            }
        };
        Ok(Self {
            kind,
            version,
            first,
            last,
            fields: ARRAY_FIELDS,
        })
    }

    /// The outcome, with its values checked.
    fn outcome(self, place: &Place<'_>) -> Result<Outcome, StoreError> {
        let [_, version, first, last] = self.fields;
        let version = Version(place.unsigned(self.version, version)?);
        let position = |value: Option<i64>, column| match value {
            Some(value) => Ok(Position(place.unsigned(value, column)?)),
            None => Err(place.corrupt(
                column,
                format!("NULL position in an answer of {:?}", self.kind),
            )),
        };
        let appended = || -> Result<Appended, StoreError> {
            Ok(Appended::new(
                version,
                position(self.first, first)?,
                position(self.last, last)?,
            ))
        };
        Ok(match self.kind {
            Kind::Appended => Outcome::Appended(appended()?),
            Kind::Duplicate => Outcome::Appended(appended()?.as_duplicate()),
            Kind::Conflict => Outcome::Conflict(version),
            Kind::Refused => Outcome::Refused(version),
        })
    }
}

/// An append's events as the parameters of the function that appends them.
enum Params<'a> {
    /// A single event, for `append_one`'s scalar parameters (with its metadata as JSON).
    One {
        event: &'a NewEvent,
        metadata: String,
    },
    /// Any other batch, for `append`'s array parameters.
    Batch(Batch<'a>),
}

impl<'a> Params<'a> {
    fn new(events: &'a [NewEvent]) -> Result<Self, serde_json::Error> {
        Ok(match events {
            [event] => Self::One {
                event,
                metadata: serde_json::to_string(&event.metadata)?,
            },
            events => Self::Batch(Batch::new(events)?),
        })
    }
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

/// An expected version as the functions' parameter: -1 for any version.
fn expected_param(expected: ExpectedVersion) -> i64 {
    match expected {
        ExpectedVersion::Any => -1,
        ExpectedVersion::NoStream => 0,
        ExpectedVersion::Exact(version) => saturating_i64(version.0),
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
        let params = Params::new(&events)
            .map_err(|error| backend(encode_error(format!("es-postgres: metadata: {error}"))))?;
        let expected_param = expected_param(expected);
        let conflict = |actual| StoreError::Conflict {
            stream_id: stream_id.clone(),
            expected,
            actual,
        };
        let mut retries = 0;
        loop {
            let outcome = self
                .append_once(stream_id, expected_param, command_id, &params)
                .await;
            // Wake subscribers, here and in other processes: after a new append, and after a
            // failed one (it may have taken positions and held back later appends until it
            // rolled back), or one whose answer could not be read. A conflict or a duplicate
            // took no position.
            let quiet = match &outcome {
                Ok(Ok(Outcome::Appended(appended))) => appended.duplicate,
                Ok(Ok(Outcome::Conflict(_) | Outcome::Refused(_))) => true,
                Ok(Err(_)) | Err(_) => false,
            };
            if !quiet {
                let inner = &self.inner;
                inner
                    .notifier
                    .request(&inner.pool, &inner.sql.notify, &inner.channel);
            }
            match outcome {
                Ok(Ok(Outcome::Appended(appended))) => return Ok(appended),
                Ok(Ok(Outcome::Conflict(actual))) => return Err(conflict(actual)),
                Ok(Ok(Outcome::Refused(_))) => {
                    let command_id = command_id.unwrap_or_default();
                    let earlier = self.find_command(stream_id, command_id).await?;
                    return Err(self.answer_earlier(stream_id, command_id, earlier));
                }
                Ok(Err(corrupt)) => return Err(corrupt),
                Err(error) if is_version_taken(&error) => {
                    // Another append won the race for the next version; answer as if the two
                    // had come one after the other.
                    if let Some(command_id) = command_id
                        && let Some(earlier) = self.find_command(stream_id, command_id).await?
                    {
                        return earlier.into_repeat_answer(stream_id, command_id);
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
        let query = Self::stream_query(&self.inner.sql.read_stream, stream_id, from, max_count);
        self.fetch_events(query, Columns::Stream(stream_id), max_count)
            .await
    }

    async fn visit_stream<F>(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
        mut visit: F,
    ) -> Result<usize, StoreError>
    where
        F: FnMut(StoredEvent<'_>) -> ControlFlow<()> + Send,
    {
        if max_count == 0 {
            return Ok(0);
        }
        // A replay reads the columns of `StoredEvent` alone (see `replay_stream.sql`), each
        // row lent to `visit` as it arrives, nothing copied.
        let query = Self::stream_query(&self.inner.sql.replay_stream, stream_id, from, max_count);
        let mut rows = pin!(query.fetch(&self.inner.pool));
        let place = Place::new(
            &self.inner.schema,
            "events",
            Key::Stream(stream_id.as_str()),
        );
        let mut count = 0;
        while let Some(row) = poll_fn(|cx| rows.as_mut().poll_next(cx)).await {
            let row = row.map_err(backend)?;
            let event = decode_stored(&row, stream_id, &place, count == 0)?;
            count += 1;
            if visit(event).is_break() {
                break;
            }
        }
        Ok(count)
    }

    async fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // Read below the highest bound known; compute a new bound only when that comes back
        // short (see `bound.rs`), then read on from the last row with it.
        let mut events = Vec::with_capacity(max_count.min(BATCH_SIZE));
        let mut bound = self.inner.bound.get();
        let mut fresh = false;
        loop {
            let wanted = max_count - events.len();
            if wanted == 0 {
                return Ok(events);
            }
            if bound.0 > 0 {
                let from = events
                    .last()
                    .map_or(after, |event: &RecordedEvent| event.position);
                let query = sqlx::query(&self.inner.sql.read_all_below)
                    .bind(saturating_i64(from.0))
                    .bind(bound)
                    .bind(saturating_i64(wanted as u64));
                let page = self.fetch_events(query, Columns::Log, wanted).await?;
                events.extend(page);
            }
            if events.len() == max_count || fresh {
                return Ok(events);
            }
            let raised = self.raise_read_bound().await?;
            if raised <= bound {
                return Ok(events);
            }
            bound = raised;
            fresh = true;
        }
    }

    async fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> Result<Option<Recorded>, StoreError> {
        let row = sqlx::query(&self.inner.sql.find_command)
            .bind(stream_id.as_str())
            .bind(command_id)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        let key = Key::Command(stream_id.as_str(), command_id);
        let events = Place::new(&self.inner.schema, "events", key);
        let version: Option<i64> = events.get(&row, 0, "max(stream_version)")?;
        let first: Option<i64> = events.get(&row, 1, "min(position)")?;
        let last: Option<i64> = events.get(&row, 2, "max(position)")?;
        if let (Some(version), Some(first), Some(last)) = (version, first, last) {
            return Ok(Some(Recorded::Appended(
                Appended::new(
                    Version(events.unsigned(version, "max(stream_version)")?),
                    Position(events.unsigned(first, "min(position)")?),
                    Position(events.unsigned(last, "max(position)")?),
                )
                .as_duplicate(),
            )));
        }
        let refusals = Place::new(&self.inner.schema, "refusals", key);
        let version: Option<i64> = refusals.get(&row, 3, "stream_version")?;
        let payload: Option<Vec<u8>> = refusals.get(&row, 4, "payload")?;
        match (version, payload) {
            (Some(version), Some(payload)) => Ok(Some(Recorded::Refused(Refusal::new(
                Version(refusals.unsigned(version, "stream_version")?),
                Bytes::from(payload),
            )))),
            _ => Ok(None),
        }
    }

    async fn refuse(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> Result<Recorded, StoreError> {
        let row = sqlx::query(&self.inner.sql.refuse)
            .bind(stream_id.as_str())
            .bind(expected_param(expected))
            .bind(command_id)
            .bind(&refusal[..])
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        let place = Place::new(
            &self.inner.schema,
            "refuse()",
            Key::Command(stream_id.as_str(), command_id),
        );
        let answer = Answer::from_row(&row, &place)?;
        if answer.kind == Kind::Duplicate {
            // `append` answers it; `refuse` never does.
            return Err(place.corrupt(ROW_FIELDS[0], "the unknown outcome \"duplicate\""));
        }
        match answer.outcome(&place)? {
            Outcome::Appended(appended) => Ok(Recorded::Appended(appended.as_duplicate())),
            Outcome::Refused(version) => {
                let payload: Vec<u8> = place.get(&row, 4, "o_payload")?;
                Ok(Recorded::Refused(Refusal::new(
                    version,
                    Bytes::from(payload),
                )))
            }
            Outcome::Conflict(actual) => Err(StoreError::Conflict {
                stream_id: stream_id.clone(),
                expected,
                actual,
            }),
        }
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<Version, StoreError> {
        let row = sqlx::query(&self.inner.sql.stream_version)
            .bind(stream_id.as_str())
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        let place = Place::new(
            &self.inner.schema,
            "events",
            Key::Stream(stream_id.as_str()),
        );
        let version = place.get(&row, 0, "max(stream_version)")?;
        Ok(Version(place.unsigned(version, "max(stream_version)")?))
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
