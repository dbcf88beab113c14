//! [`CheckpointStore`] on PostgreSQL.

use es_core::store::CheckpointStore;
use es_core::{Position, StoreError};

use crate::PgStore;
use crate::values::{Key, Place, backend, checkpoint_param};

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
