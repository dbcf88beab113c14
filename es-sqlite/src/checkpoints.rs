//! [`CheckpointStore`] for [`SqliteStore`]: one row per projection in `es_checkpoints`, and
//! one per parked event in `es_parked_events` (migration 4).

use es_core::projection::{Advance, ParkedEvent};
use es_core::{CheckpointStore, Position, StoreError};
use rusqlite::Connection;

use crate::SqliteStore;
use crate::error::store_error;
use crate::queries;
use crate::values::{
    Decoder, Key, Place, all_rows, now_micros, optional_row, saturating_i64, to_micros,
};

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

/// Keeps `parked` as parked events of `consumer`, replacing the records at the same
/// positions.
fn park_in(conn: &Connection, consumer: &str, parked: &[ParkedEvent]) -> rusqlite::Result<()> {
    let mut park = conn.prepare_cached(queries::PARK_EVENT)?;
    for event in parked {
        park.execute((
            consumer,
            saturating_i64(event.position.0),
            event.stream_id.as_str(),
            event.name.as_ref(),
            event.error.as_str(),
            i64::from(event.failed),
            to_micros(event.parked_at),
        ))?;
    }
    Ok(())
}

/// Forgets the parked events of `consumer` at `positions`; a missing one is ignored.
fn unpark_in(conn: &Connection, consumer: &str, positions: &[Position]) -> rusqlite::Result<()> {
    let mut unpark = conn.prepare_cached(queries::UNPARK_EVENT)?;
    for position in positions {
        unpark.execute((consumer, saturating_i64(position.0)))?;
    }
    Ok(())
}

/// Forgets the parked events of `consumer` and of its partitions (`<consumer>#...`).
pub(crate) fn forget_parked_in(conn: &Connection, consumer: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(queries::FORGET_PARKED_EVENTS)?
        .execute([consumer])
        .map(drop)
}

/// Moves the checkpoint of `projection`'s partition `advance.partition` (see
/// [`Partition::checkpoint_name`](es_core::projection::Partition::checkpoint_name)) from
/// `advance.from` to `advance.to`, in the writer's
/// transaction; from the start of the log, the row may not exist yet and is created. Once it
/// moved, the partition's parked events `advance.parked` are kept and those at
/// `advance.unparked` forgotten, in the same transaction. Whether it moved: not when the
/// checkpoint was elsewhere (another runner committed first, or the projection was reset),
/// and then nothing was written.
pub(crate) fn advance_checkpoint(
    conn: &Connection,
    projection: &str,
    advance: &Advance,
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
    if moved == 0 {
        return Ok(false);
    }
    park_in(conn, &name, &advance.parked)?;
    unpark_in(conn, &name, &advance.unparked)?;
    Ok(true)
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
                let conn = tx.conn();
                conn.prepare_cached(queries::DELETE_CHECKPOINT)
                    .and_then(|mut statement| statement.execute([projection.as_str()]))
                    .and_then(|_| forget_parked_in(conn, &projection))
                    .map_err(|error| store_error(tx.path(), "deleting a checkpoint", &error))
            })
            .await
    }

    async fn park_events(&self, consumer: &str, parked: &[ParkedEvent]) -> Result<(), StoreError> {
        let (consumer, parked) = (consumer.to_owned(), parked.to_vec());
        self.inner
            .writer
            .run("parking events", move |tx| {
                park_in(tx.conn(), &consumer, &parked)
                    .map_err(|error| store_error(tx.path(), "parking events", &error))
            })
            .await
    }

    async fn unpark_events(
        &self,
        consumer: &str,
        positions: &[Position],
    ) -> Result<(), StoreError> {
        let (consumer, positions) = (consumer.to_owned(), positions.to_vec());
        self.inner
            .writer
            .run("unparking events", move |tx| {
                unpark_in(tx.conn(), &consumer, &positions)
                    .map_err(|error| store_error(tx.path(), "unparking events", &error))
            })
            .await
    }

    async fn parked_events(&self, consumer: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let (path, consumer) = (self.inner.path.clone(), consumer.to_owned());
        self.inner
            .readers
            .run("reading parked events", move |conn| {
                let mut decoder = Decoder::new(&path);
                all_rows(
                    conn,
                    &path,
                    "reading parked events",
                    queries::PARKED_EVENTS,
                    [consumer.as_str()],
                    |row| decoder.parked(&consumer, row),
                )
            })
            .await
    }
}
