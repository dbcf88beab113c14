//! [`CheckpointStore`] on PostgreSQL, and the checkpoint move of the consumers that commit
//! their work with it (table projections, process managers).

use es_core::projection::{Advance, Committed};
use es_core::store::CheckpointStore;
use es_core::{Position, StoreError};
use sqlx::Executor as _;
use sqlx::postgres::PgConnection;

use crate::PgStore;
use crate::values::{Key, Place, backend, checkpoint_param};

impl PgStore {
    /// Moves the checkpoint of `consumer`'s partition `advance.partition` (see
    /// [`Partition::checkpoint_name`](es_core::projection::Partition::checkpoint_name)) from
    /// `advance.from` to `advance.to` in the open transaction `conn`, which then holds its
    /// row until it ends: [`Committed::Moved`] when the checkpoint was no longer at
    /// `advance.from` (another runner moved it first; the caller rolls back).
    pub(crate) async fn advance_checkpoint(
        &self,
        conn: &mut PgConnection,
        consumer: &str,
        advance: Advance,
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
        Ok(if conn.execute(moved).await?.rows_affected() == 0 {
            Committed::Moved
        } else {
            Committed::Done
        })
    }
}

/// Checkpoints in the `checkpoints` table, one row per projection.
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
}
