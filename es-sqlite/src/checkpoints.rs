//! [`CheckpointStore`] for [`SqliteStore`]: one row per projection in `es_checkpoints`.

use es_core::projection::Advance;
use es_core::{CheckpointStore, Position, StoreError};
use rusqlite::Connection;

use crate::SqliteStore;
use crate::error::store_error;
use crate::queries;
use crate::values::{Key, Place, now_micros, optional_row, saturating_i64};

/// The checkpoint of `projection`, read on `conn`.
fn load_checkpoint_in(
    conn: &Connection,
    path: &std::path::Path,
    projection: &str,
) -> Result<Option<Position>, StoreError> {
    let place = Place::new(path, "es_checkpoints", Key::Projection(projection));
    let found = optional_row(
        conn,
        path,
        "loading a checkpoint",
        queries::LOAD_CHECKPOINT,
        [projection],
        |row| place.unsigned(row, 0, "position"),
    )?;
    Ok(found.map(Position))
}

/// Moves the checkpoint of `projection`'s partition `advance.partition` (see
/// [`Partition::checkpoint_name`](es_core::projection::Partition::checkpoint_name)) from
/// `advance.from` to `advance.to`, in the writer's
/// transaction; from the start of the log, the row may not exist yet and is created. Whether
/// it moved: not when the checkpoint was elsewhere (another runner committed first, or the
/// projection was reset), and then nothing was written.
pub(crate) fn advance_checkpoint(
    conn: &Connection,
    projection: &str,
    advance: Advance,
) -> rusqlite::Result<bool> {
    let (to, from, now) = (
        saturating_i64(advance.to.0),
        saturating_i64(advance.from.0),
        now_micros(),
    );
    let name = advance.partition.checkpoint_name(projection);
    let moved = if from == 0 {
        conn.prepare_cached(queries::TABLES_ADVANCE_FROM_START)?
            .execute((name.as_ref(), to, now))?
    } else {
        conn.prepare_cached(queries::TABLES_ADVANCE)?
            .execute((name.as_ref(), to, now, from))?
    };
    Ok(moved > 0)
}

impl CheckpointStore for SqliteStore {
    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Position>, StoreError> {
        let path = self.inner.path.clone();
        let projection = projection.to_owned();
        self.inner
            .readers
            .run("loading a checkpoint", move |conn| {
                load_checkpoint_in(conn, &path, &projection)
            })
            .await
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        position: Position,
    ) -> Result<(), StoreError> {
        let projection = projection.to_owned();
        self.inner
            .writer
            .run("saving a checkpoint", move |tx| {
                tx.conn()
                    .prepare_cached(queries::SAVE_CHECKPOINT)
                    .and_then(|mut statement| {
                        statement.execute((
                            projection.as_str(),
                            saturating_i64(position.0),
                            now_micros(),
                        ))
                    })
                    .map_err(|error| store_error(tx.path(), "saving a checkpoint", &error))?;
                Ok(())
            })
            .await
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        let projection = projection.to_owned();
        self.inner
            .writer
            .run("deleting a checkpoint", move |tx| {
                tx.conn()
                    .prepare_cached(queries::DELETE_CHECKPOINT)
                    .and_then(|mut statement| statement.execute([projection.as_str()]))
                    .map_err(|error| store_error(tx.path(), "deleting a checkpoint", &error))?;
                Ok(())
            })
            .await
    }
}
