//! [`CheckpointStore`] on PostgreSQL, with the parked events of its consumers (table
//! `parked_events`, migration 7), and the checkpoint move of the consumers that commit their
//! work with it (table projections, process managers).

use es_core::projection::{Advance, Committed, ParkedEvent};
use es_core::store::CheckpointStore;
use es_core::{Position, StoreError};
use sqlx::Executor as _;
use sqlx::Postgres;
use sqlx::postgres::{PgArguments, PgConnection, PgRow};
use sqlx::query::Query;

use crate::PgStore;
use crate::values::{Key, Place, Shared, Timestamptz, backend, checkpoint_param, to_micros};

impl PgStore {
    /// Moves the checkpoint of `consumer`'s partition `advance.partition` (see
    /// [`Partition::checkpoint_name`](es_core::projection::Partition::checkpoint_name)) from
    /// `advance.from` to `advance.to` in the open transaction `conn`, which then holds its
    /// row until it ends: [`Committed::Moved`] when the checkpoint was no longer at
    /// `advance.from` (another runner moved it first; the caller rolls back). Once it moved,
    /// keeps `advance.parked` and forgets `advance.unparked` under the same checkpoint name,
    /// in the same transaction.
    pub(crate) async fn advance_checkpoint(
        &self,
        conn: &mut PgConnection,
        consumer: &str,
        advance: &Advance,
    ) -> Result<Committed, sqlx::Error> {
        let (from, to) = (
            checkpoint_param(advance.from)?,
            checkpoint_param(advance.to)?,
        );
        let sql = &self.inner.sql;
        let name = advance.partition.checkpoint_name(consumer);
        let moved = if from == 0 {
            sqlx::query(&sql.checkpoint_advance_from_start)
                .bind(name.as_ref())
                .bind(to)
        } else {
            sqlx::query(&sql.checkpoint_advance)
                .bind(name.as_ref())
                .bind(to)
                .bind(from)
        };
        if conn.execute(moved).await?.rows_affected() == 0 {
            return Ok(Committed::Moved);
        }
        if !advance.parked.is_empty() {
            conn.execute(self.park_query(&name, &advance.parked)?)
                .await?;
        }
        if !advance.unparked.is_empty() {
            conn.execute(self.unpark_query(&name, &advance.unparked)?)
                .await?;
        }
        Ok(Committed::Done)
    }

    /// The statement that keeps `parked` as parked events of `consumer`, replacing the
    /// records of those parked before.
    fn park_query<'q>(
        &'q self,
        consumer: &'q str,
        parked: &[ParkedEvent],
    ) -> Result<Query<'q, Postgres, PgArguments>, sqlx::Error> {
        let mut positions = Vec::with_capacity(parked.len());
        let mut stream_ids = Vec::with_capacity(parked.len());
        let mut names = Vec::with_capacity(parked.len());
        let mut errors = Vec::with_capacity(parked.len());
        let mut failed = Vec::with_capacity(parked.len());
        let mut parked_at = Vec::with_capacity(parked.len());
        for event in parked {
            positions.push(checkpoint_param(event.position)?);
            stream_ids.push(event.stream_id.as_str().to_owned());
            names.push(event.name.to_string());
            errors.push(event.error.clone());
            failed.push(event.failed);
            parked_at.push(to_micros(event.parked_at));
        }
        Ok(sqlx::query(&self.inner.sql.park_events)
            .bind(consumer)
            .bind(positions)
            .bind(stream_ids)
            .bind(names)
            .bind(errors)
            .bind(failed)
            .bind(parked_at))
    }

    /// The statement that forgets the parked events of `consumer` at `positions`.
    fn unpark_query<'q>(
        &'q self,
        consumer: &'q str,
        positions: &[Position],
    ) -> Result<Query<'q, Postgres, PgArguments>, sqlx::Error> {
        let positions = positions
            .iter()
            .map(|position| checkpoint_param(*position))
            .collect::<Result<Vec<i64>, _>>()?;
        Ok(sqlx::query(&self.inner.sql.unpark_events)
            .bind(consumer)
            .bind(positions))
    }

    /// One row of `parked_events` of `consumer` (the columns of `sql/parked_events.sql`),
    /// checked value by value.
    fn parked_event(
        &self,
        consumer: &str,
        row: &PgRow,
        shared: &mut Shared,
    ) -> Result<ParkedEvent, StoreError> {
        let table = Place::new(self.schema(), "parked_events", Key::Unknown);
        let position: i64 = table.get(row, 0, "position")?;
        let place = table.at(Key::Parked(consumer, position));
        let position = place.unsigned(position, "position")?;
        let stream_id = shared.stream_id(place.get(row, 1, "stream_id")?, &place)?;
        let name = shared.intern(place.get(row, 2, "name")?, &place)?;
        let error: String = place.get(row, 3, "error")?;
        let failed: bool = place.get(row, 4, "failed")?;
        let parked_at: Option<Timestamptz> = place.get(row, 5, "parked_at")?;
        let parked_at = place.time(parked_at.and_then(Timestamptz::unix_micros), "parked_at")?;
        Ok(ParkedEvent::new(
            Position(position),
            stream_id,
            name,
            error,
            failed,
            parked_at,
        ))
    }
}

/// Checkpoints in the `checkpoints` table, one row per projection; parked events in the
/// `parked_events` table, by consumer and position.
impl CheckpointStore for PgStore {
    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Position>, StoreError> {
        let row = sqlx::query(&self.inner.sql.load_checkpoint)
            .bind(projection)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let place = Place::new(
            &self.inner.schema,
            "checkpoints",
            Key::Projection(projection),
        );
        let position = place.get(&row, 0, "position")?;
        Ok(Some(Position(place.unsigned(position, "position")?)))
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        position: Position,
    ) -> Result<(), StoreError> {
        let position = checkpoint_param(position).map_err(backend)?;
        sqlx::query(&self.inner.sql.save_checkpoint)
            .bind(projection)
            .bind(position)
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        sqlx::query(&self.inner.sql.delete_checkpoint)
            .bind(projection)
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn park_events(&self, consumer: &str, parked: &[ParkedEvent]) -> Result<(), StoreError> {
        if parked.is_empty() {
            return Ok(());
        }
        self.park_query(consumer, parked)
            .map_err(backend)?
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn unpark_events(
        &self,
        consumer: &str,
        positions: &[Position],
    ) -> Result<(), StoreError> {
        if positions.is_empty() {
            return Ok(());
        }
        self.unpark_query(consumer, positions)
            .map_err(backend)?
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn parked_events(&self, consumer: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let rows = sqlx::query(&self.inner.sql.parked_events)
            .bind(consumer)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend)?;
        let mut shared = Shared::default();
        rows.iter()
            .map(|row| self.parked_event(consumer, row, &mut shared))
            .collect()
    }
}
