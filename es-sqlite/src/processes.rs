//! [`ProcessStore`] for [`SqliteStore`]: process managers' instances and timers in
//! `es_process_instances` and `es_process_timers` (migration 2), written by the writer in the
//! transaction that moves the process's checkpoint.

use std::path::Path;
use std::time::SystemTime;

use bytes::Bytes;
use es_core::StoreError;
use es_core::process::{InstanceRow, ParkedRow, ProcessStore, ProcessWork, TimerRow};
use es_core::projection::Committed;
use rusqlite::{Connection, OptionalExtension as _, Row};

use crate::SqliteStore;
use crate::checkpoints::advance_checkpoint;
use crate::error::store_error;
use crate::queries;
use crate::values::{Key, Place, all_rows, now_micros, one_row, saturating_i64, to_micros};

/// An instance from a row of `process_load.sql` or `process_parked.sql`.
fn instance(path: &Path, process: &str, row: &Row<'_>) -> Result<InstanceRow, StoreError> {
    let table = Place::new(path, "es_process_instances", Key::Unknown);
    let key = table.text(row, 0, "key")?.to_owned();
    let place = table.at(Key::Instance(process, &key));
    let state = Bytes::copy_from_slice(place.blob(row, 1, "state")?);
    let finished = place.int(row, 2, "finished")? != 0;
    let revision = place.unsigned(row, 3, "revision")?;
    let parked = match place.value(row, 4, "parked_error")? {
        rusqlite::types::ValueRef::Null => None,
        _ => Some(ParkedRow::new(
            place.text(row, 4, "parked_error")?.to_owned(),
            Bytes::copy_from_slice(place.blob(row, 5, "parked_inputs")?),
            place.time(row, 6, "parked_since")?,
            place.int(row, 7, "parked_retry")? != 0,
        )),
    };
    Ok(InstanceRow::new(key, state, finished, revision, parked))
}

/// A timer from a row of `process_due.sql`.
fn timer(path: &Path, process: &str, row: &Row<'_>) -> Result<TimerRow, StoreError> {
    let table = Place::new(path, "es_process_timers", Key::Unknown);
    let key = table.text(row, 0, "key")?.to_owned();
    let name = table.text(row, 1, "name")?.to_owned();
    let place = table.at(Key::Timer(process, &key, &name));
    let id = place.uuid(row, 2, "id")?;
    let due = place.time(row, 3, "due")?;
    let payload = Bytes::copy_from_slice(place.blob(row, 4, "payload")?);
    let correlation_id = place.optional_uuid(row, 5, "correlation_id")?;
    Ok(TimerRow::new(key, name, id, due, payload, correlation_id))
}

/// Rows of a process's instances from `sql` with `params`.
fn instances(
    conn: &Connection,
    path: &Path,
    process: &str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<InstanceRow>, StoreError> {
    all_rows(
        conn,
        path,
        "reading process instances",
        sql,
        params,
        |row| instance(path, process, row),
    )
}

/// Whether the fired timers of `work` still exist and its instances are at the revisions
/// they were read at, before anything is written. The writer runs one job at a time, so
/// nothing changes between the checks and the writes.
fn expects(conn: &Connection, process: &str, work: &ProcessWork) -> Result<bool, rusqlite::Error> {
    let mut exists = conn.prepare_cached(queries::PROCESS_TIMER_EXISTS)?;
    for id in &work.fired {
        let count: i64 = exists.query_row((process, id.as_bytes()), |row| row.get(0))?;
        if count != 1 {
            return Ok(false);
        }
    }
    let mut revision = conn.prepare_cached(queries::PROCESS_REVISION)?;
    for row in &work.instances {
        let stored: Option<i64> = revision
            .query_row((process, row.key.as_str()), |r| r.get(0))
            .optional()?;
        if stored.unwrap_or(0) != saturating_i64(row.revision) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Writes `work` (its expectations hold, and the checkpoint has moved).
fn write(conn: &Connection, process: &str, work: &ProcessWork) -> Result<(), rusqlite::Error> {
    let now = now_micros();
    let mut fire = conn.prepare_cached(queries::PROCESS_FIRE)?;
    for id in &work.fired {
        fire.execute((process, id.as_bytes()))?;
    }
    for row in &work.instances {
        let parked = row.parked.as_ref();
        let sql = if row.revision == 0 {
            queries::PROCESS_INSERT
        } else {
            queries::PROCESS_UPDATE
        };
        conn.prepare_cached(sql)?.execute((
            process,
            row.key.as_str(),
            &row.state[..],
            i64::from(row.finished),
            parked.map(|p| p.error.as_str()),
            parked.map(|p| &p.inputs[..]),
            parked.map(|p| to_micros(p.since)),
            i64::from(parked.is_some_and(|p| p.retry)),
            now,
        ))?;
    }
    let mut clear = conn.prepare_cached(queries::PROCESS_CLEAR_TIMERS)?;
    for key in &work.cleared_timers {
        clear.execute((process, key.as_str()))?;
    }
    let mut cancel = conn.prepare_cached(queries::PROCESS_CANCEL_TIMER)?;
    for (key, name) in &work.cancelled_timers {
        cancel.execute((process, key.as_str(), name.as_str()))?;
    }
    let mut set = conn.prepare_cached(queries::PROCESS_SET_TIMER)?;
    for timer in &work.set_timers {
        set.execute((
            process,
            timer.key.as_str(),
            timer.name.as_str(),
            timer.id.as_bytes(),
            to_micros_up(timer.due),
            &timer.payload[..],
            timer.correlation_id.as_ref().map(uuid::Uuid::as_bytes),
        ))?;
    }
    Ok(())
}

/// Microseconds since 1970, rounded up: a due time stored so is never earlier than given.
fn to_micros_up(time: SystemTime) -> i64 {
    let micros = to_micros(time);
    let exact = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(true, |after| after.subsec_nanos() % 1_000 == 0);
    if exact {
        micros
    } else {
        micros.saturating_add(1)
    }
}

/// Process managers' instances and timers in the store's file, written by the writer with
/// the process's checkpoint.
impl ProcessStore for SqliteStore {
    async fn load_instances(
        &self,
        process: &str,
        keys: &[String],
    ) -> Result<Vec<InstanceRow>, StoreError> {
        let (path, process, keys) = (self.inner.path.clone(), process.to_owned(), keys.to_vec());
        self.inner
            .readers
            .run("reading process instances", move |conn| {
                let mut found = Vec::new();
                for key in &keys {
                    found.extend(instances(
                        conn,
                        &path,
                        &process,
                        queries::PROCESS_LOAD,
                        (process.as_str(), key.as_str()),
                    )?);
                }
                Ok(found)
            })
            .await
    }

    async fn commit_process(
        &self,
        process: &str,
        work: ProcessWork,
    ) -> Result<Committed, StoreError> {
        const OPERATION: &str = "committing a process manager's work";
        let process = process.to_owned();
        self.inner
            .writer
            .run(OPERATION, move |tx| {
                let (conn, path) = (tx.conn(), tx.path());
                let fail = |error: rusqlite::Error| store_error(path, OPERATION, &error);
                if !expects(conn, &process, &work).map_err(fail)? {
                    return Ok(Committed::Moved);
                }
                // The first write: when it moves nothing, nothing is written.
                if let Some(advance) = &work.advance
                    && !advance_checkpoint(conn, &process, advance).map_err(fail)?
                {
                    return Ok(Committed::Moved);
                }
                write(conn, &process, &work).map_err(fail)?;
                Ok(Committed::Done)
            })
            .await
    }

    async fn due_timers(
        &self,
        process: &str,
        now: SystemTime,
        count: usize,
    ) -> Result<Vec<TimerRow>, StoreError> {
        let (path, process) = (self.inner.path.clone(), process.to_owned());
        self.inner
            .readers
            .run("reading due timers", move |conn| {
                all_rows(
                    conn,
                    &path,
                    "reading due timers",
                    queries::PROCESS_DUE,
                    (process.as_str(), to_micros(now), saturating_i64(count)),
                    |row| timer(&path, &process, row),
                )
            })
            .await
    }

    async fn next_timer(&self, process: &str) -> Result<Option<SystemTime>, StoreError> {
        let (path, process) = (self.inner.path.clone(), process.to_owned());
        self.inner
            .readers
            .run("reading the next timer", move |conn| {
                let place = Place::new(&path, "es_process_timers", Key::Unknown);
                one_row(
                    conn,
                    &path,
                    "reading the next timer",
                    queries::PROCESS_NEXT_TIMER,
                    [process.as_str()],
                    |row| match place.value(row, 0, "min(due)")? {
                        rusqlite::types::ValueRef::Null => Ok(None),
                        _ => place.time(row, 0, "min(due)").map(Some),
                    },
                )
            })
            .await
    }

    async fn parked_instances(&self, process: &str) -> Result<Vec<InstanceRow>, StoreError> {
        let (path, process) = (self.inner.path.clone(), process.to_owned());
        self.inner
            .readers
            .run("reading parked instances", move |conn| {
                instances(
                    conn,
                    &path,
                    &process,
                    queries::PROCESS_PARKED,
                    [process.as_str()],
                )
            })
            .await
    }

    async fn reset_process(&self, process: &str) -> Result<(), StoreError> {
        const OPERATION: &str = "resetting a process manager";
        let process = process.to_owned();
        self.inner
            .writer
            .run(OPERATION, move |tx| {
                let (conn, path) = (tx.conn(), tx.path());
                for sql in [
                    queries::PROCESS_RESET_INSTANCES,
                    queries::PROCESS_RESET_TIMERS,
                    queries::DELETE_CHECKPOINT,
                ] {
                    conn.prepare_cached(sql)
                        .and_then(|mut statement| statement.execute([process.as_str()]))
                        .map_err(|error| store_error(path, OPERATION, &error))?;
                }
                Ok(())
            })
            .await
    }
}
