//! [`SnapshotStore`] for [`SqliteStore`]: one row per stream in `es_snapshots`, replaced only
//! by a snapshot at the same or a higher version.

use bytes::Bytes;
use es_core::snapshot::Snapshot;
use es_core::{SnapshotStore, StoreError, StreamId, Version};

use crate::SqliteStore;
use crate::error::store_error;
use crate::queries;
use crate::values::{Key, Place, optional_row, saturating_i64, to_micros};

impl SnapshotStore for SqliteStore {
    async fn load_snapshot(&self, stream_id: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let path = self.inner.path.clone();
        let stream_id = stream_id.clone();
        self.inner
            .readers
            .run("loading a snapshot", move |conn| {
                let place = Place::new(&path, "es_snapshots", Key::Stream(stream_id.as_str()));
                optional_row(
                    conn,
                    &path,
                    "loading a snapshot",
                    queries::LOAD_SNAPSHOT,
                    [stream_id.as_str()],
                    |row| {
                        let mut snapshot = Snapshot::new(
                            stream_id.clone(),
                            Version(place.unsigned(row, 0, "version")?),
                            place.schema_version(row, 1, "schema_version")?,
                            Bytes::copy_from_slice(place.blob(row, 2, "payload")?),
                        );
                        snapshot.taken_at = place.time(row, 3, "taken_at")?;
                        Ok(snapshot)
                    },
                )
            })
            .await
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        self.inner
            .writer
            .run("saving a snapshot", move |tx| {
                tx.conn()
                    .prepare_cached(queries::SAVE_SNAPSHOT)
                    .and_then(|mut statement| {
                        statement.execute((
                            snapshot.stream_id.as_str(),
                            saturating_i64(snapshot.version.0),
                            i64::from(snapshot.schema_version),
                            &snapshot.payload[..],
                            to_micros(snapshot.taken_at),
                        ))
                    })
                    .map_err(|error| store_error(tx.path(), "saving a snapshot", &error))?;
                Ok(())
            })
            .await
    }
}
