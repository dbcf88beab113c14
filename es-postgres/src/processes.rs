//! [`ProcessStore`] on PostgreSQL: process managers' instances and timers in the tables
//! `process_instances` and `process_timers` (migration 5), written in the transaction that
//! moves the process's checkpoint.

use std::time::SystemTime;

use bytes::Bytes;
use es_core::StoreError;
use es_core::process::{InstanceRow, ParkedRow, ProcessStore, ProcessWork, TimerRow};
use es_core::projection::Committed;
use sqlx::Executor as _;
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::query::Query;
use uuid::Uuid;

use crate::PgStore;
use crate::detached::detached;
use crate::values::{Key, Place, backend, from_micros, saturating_i64, to_micros, to_micros_up};

impl PgStore {
    /// One row of `process_instances` (the columns of `sql/instance_columns.sql`), checked
    /// value by value.
    fn instance(&self, process: &str, row: &PgRow) -> Result<InstanceRow, StoreError> {
        let table = Place::new(self.schema(), "process_instances", Key::Unknown);
        let key: String = table.get(row, 0, "key")?;
        let place = table.at(Key::Instance(process, &key));
        let state: Vec<u8> = place.get(row, 1, "state")?;
        let finished: bool = place.get(row, 2, "finished")?;
        let revision: i64 = place.get(row, 3, "revision")?;
        let revision = place.unsigned(revision, "revision")?;
        let error: Option<String> = place.get(row, 4, "parked_error")?;
        let inputs: Option<Vec<u8>> = place.get(row, 5, "parked_inputs")?;
        let since: Option<i64> = place.get(row, 6, "parked_since")?;
        let retry: bool = place.get(row, 7, "parked_retry")?;
        let parked = match (error, inputs, since) {
            (Some(error), Some(inputs), Some(since)) => Some(ParkedRow::new(
                error,
                Bytes::from(inputs),
                place.time(Some(since), "parked_since")?,
                retry,
            )),
            (None, None, None) => None,
            _ => {
                return Err(place.corrupt(
                    "parked_error",
                    "a parked record with some of its columns NULL",
                ));
            }
        };
        Ok(InstanceRow::new(
            key,
            Bytes::from(state),
            finished,
            revision,
            parked,
        ))
    }

    fn timer(&self, process: &str, row: &PgRow) -> Result<TimerRow, StoreError> {
        let table = Place::new(self.schema(), "process_timers", Key::Unknown);
        let key: String = table.get(row, 0, "key")?;
        let name: String = table.get(row, 1, "name")?;
        let place = table.at(Key::Timer(process, &key, &name));
        let id: Uuid = place.get(row, 2, "id")?;
        let due: i64 = place.get(row, 3, "due")?;
        let due = place.time(Some(due), "due")?;
        let payload: Vec<u8> = place.get(row, 4, "payload")?;
        let correlation_id: Option<Uuid> = place.get(row, 5, "correlation_id")?;
        Ok(TimerRow::new(
            key,
            name,
            id,
            due,
            Bytes::from(payload),
            correlation_id,
        ))
    }

    /// Writes `work` in the open transaction `conn`; `Moved` (and the caller rolls back) when
    /// an expectation does not hold.
    async fn write_process(
        &self,
        conn: &mut PgConnection,
        process: &str,
        work: ProcessWork,
    ) -> Result<Committed, sqlx::Error> {
        let sql = &self.inner.sql;
        if let Some(advance) = &work.advance
            && self.advance_checkpoint(conn, process, advance).await? == Committed::Moved
        {
            return Ok(Committed::Moved);
        }
        if !work.fired.is_empty() {
            let fire = sqlx::query(&sql.process_fire)
                .bind(process)
                .bind(&work.fired);
            if conn.execute(fire).await?.rows_affected() != work.fired.len() as u64 {
                return Ok(Committed::Moved);
            }
        }
        let (new, old): (Vec<&InstanceRow>, Vec<&InstanceRow>) =
            work.instances.iter().partition(|row| row.revision == 0);
        if !new.is_empty() {
            let insert = Columns::of(&new).bind(sqlx::query(&sql.process_insert).bind(process));
            if conn.execute(insert).await?.rows_affected() != new.len() as u64 {
                return Ok(Committed::Moved);
            }
        }
        if !old.is_empty() {
            let revisions: Vec<i64> = old.iter().map(|row| saturating_i64(row.revision)).collect();
            let update = Columns::of(&old)
                .bind(sqlx::query(&sql.process_update).bind(process))
                .bind(revisions);
            if conn.execute(update).await?.rows_affected() != old.len() as u64 {
                return Ok(Committed::Moved);
            }
        }
        if !work.cleared_timers.is_empty() {
            let clear = sqlx::query(&sql.process_clear_timers)
                .bind(process)
                .bind(&work.cleared_timers);
            conn.execute(clear).await?;
        }
        if !work.cancelled_timers.is_empty() {
            let (keys, names): (Vec<&str>, Vec<&str>) = work
                .cancelled_timers
                .iter()
                .map(|(key, name)| (key.as_str(), name.as_str()))
                .unzip();
            let cancel = sqlx::query(&sql.process_cancel_timers)
                .bind(process)
                .bind(keys)
                .bind(names);
            conn.execute(cancel).await?;
        }
        if !work.set_timers.is_empty() {
            let timers = &work.set_timers;
            let set = sqlx::query(&sql.process_set_timers)
                .bind(process)
                .bind(timers.iter().map(|t| t.key.as_str()).collect::<Vec<_>>())
                .bind(timers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>())
                .bind(timers.iter().map(|t| t.id).collect::<Vec<_>>())
                .bind(
                    timers
                        .iter()
                        .map(|t| to_micros_up(t.due))
                        .collect::<Vec<_>>(),
                )
                .bind(timers.iter().map(|t| &t.payload[..]).collect::<Vec<_>>())
                .bind(timers.iter().map(|t| t.correlation_id).collect::<Vec<_>>());
            conn.execute(set).await?;
        }
        Ok(Committed::Done)
    }
}

/// A statement with its parameters.
type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// Instance rows as the array parameters of `process_insert.sql` and `process_update.sql`.
struct Columns<'a> {
    keys: Vec<&'a str>,
    states: Vec<&'a [u8]>,
    finished: Vec<bool>,
    errors: Vec<Option<&'a str>>,
    inputs: Vec<Option<&'a [u8]>>,
    since: Vec<Option<i64>>,
    retry: Vec<bool>,
}

impl<'a> Columns<'a> {
    fn of(rows: &[&'a InstanceRow]) -> Self {
        let parked = |row: &'a InstanceRow| row.parked.as_ref();
        Self {
            keys: rows.iter().map(|row| row.key.as_str()).collect(),
            states: rows.iter().map(|row| &row.state[..]).collect(),
            finished: rows.iter().map(|row| row.finished).collect(),
            errors: rows
                .iter()
                .map(|row| parked(row).map(|p| p.error.as_str()))
                .collect(),
            inputs: rows
                .iter()
                .map(|row| parked(row).map(|p| &p.inputs[..]))
                .collect(),
            since: rows
                .iter()
                .map(|row| parked(row).map(|p| to_micros(p.since)))
                .collect(),
            retry: rows
                .iter()
                .map(|row| parked(row).is_some_and(|p| p.retry))
                .collect(),
        }
    }

    /// `query`, `process_insert.sql` or `process_update.sql` with the process bound as `$1`,
    /// with these columns bound as `$2` to `$8`.
    fn bind<'q>(self, query: PgQuery<'q>) -> PgQuery<'q>
    where
        'a: 'q,
    {
        query
            .bind(self.keys)
            .bind(self.states)
            .bind(self.finished)
            .bind(self.errors)
            .bind(self.inputs)
            .bind(self.since)
            .bind(self.retry)
    }
}

/// Process managers' instances and timers in `process_instances` and `process_timers`,
/// committed with the process's row of `checkpoints` in one transaction.
impl ProcessStore for PgStore {
    async fn load_instances(
        &self,
        process: &str,
        keys: &[String],
    ) -> Result<Vec<InstanceRow>, StoreError> {
        let rows = sqlx::query(&self.inner.sql.process_load)
            .bind(process)
            .bind(keys)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| self.instance(process, row)).collect()
    }

    async fn commit_process(
        &self,
        process: &str,
        work: ProcessWork,
    ) -> Result<Committed, StoreError> {
        let (store, process) = (self.clone(), process.to_owned());
        detached(async move {
            // Executor's boxed futures: see `PgStore::migrate`.
            let mut tx = store.inner.pool.begin().await.map_err(backend)?;
            let committed = store
                .write_process(&mut tx, &process, work)
                .await
                .map_err(backend)?;
            if committed == Committed::Done {
                tx.commit().await.map_err(backend)?;
            }
            // Otherwise dropping the transaction rolls it back.
            Ok(committed)
        })
        .await
    }

    async fn due_timers(
        &self,
        process: &str,
        now: SystemTime,
        limit: usize,
    ) -> Result<Vec<TimerRow>, StoreError> {
        let rows = sqlx::query(&self.inner.sql.process_due)
            .bind(process)
            .bind(to_micros(now))
            .bind(saturating_i64(limit as u64))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| self.timer(process, row)).collect()
    }

    async fn next_timer(&self, process: &str) -> Result<Option<SystemTime>, StoreError> {
        let due: Option<i64> = sqlx::query_scalar(&self.inner.sql.process_next_timer)
            .bind(process)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(due.and_then(from_micros))
    }

    async fn parked_instances(&self, process: &str) -> Result<Vec<InstanceRow>, StoreError> {
        let rows = sqlx::query(&self.inner.sql.process_parked)
            .bind(process)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(|row| self.instance(process, row)).collect()
    }

    async fn reset_process(&self, process: &str) -> Result<(), StoreError> {
        let (store, process) = (self.clone(), process.to_owned());
        detached(async move {
            let sql = &store.inner.sql;
            let mut tx = store.inner.pool.begin().await.map_err(backend)?;
            let conn: &mut PgConnection = &mut tx;
            for statement in [
                &sql.process_reset_instances,
                &sql.process_reset_timers,
                &sql.delete_checkpoint,
            ] {
                conn.execute(sqlx::query(statement).bind(&process))
                    .await
                    .map_err(backend)?;
            }
            tx.commit().await.map_err(backend)
        })
        .await
    }
}
