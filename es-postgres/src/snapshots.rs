//! [`SnapshotStore`] on PostgreSQL.

use bytes::Bytes;
use es_core::snapshot::{Snapshot, SnapshotStore};
use es_core::{StoreError, StreamId, Version};

use crate::PgStore;
use crate::values::{Key, Place, Timestamptz, backend, encode_error, to_micros};

/// Snapshots in the `snapshots` table: one row per stream, the newest kept.
impl SnapshotStore for PgStore {
    async fn load_snapshot(&self, stream_id: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(&self.inner.sql.load_snapshot)
            .bind(stream_id.as_str())
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let place = Place::new(
            &self.inner.schema,
            "snapshots",
            Key::Stream(stream_id.as_str()),
        );
        let version = place.unsigned(place.get(&row, 0, "version")?, "version")?;
        let schema_version =
            place.schema_version(place.get(&row, 1, "schema_version")?, "schema_version")?;
        let payload: Vec<u8> = place.get(&row, 2, "payload")?;
        let taken_at: Option<Timestamptz> = place.get(&row, 3, "taken_at")?;
        let taken_at = place.time(taken_at.and_then(Timestamptz::unix_micros), "taken_at")?;
        let mut snapshot = Snapshot::new(
            stream_id.clone(),
            Version(version),
            schema_version,
            Bytes::from(payload),
        );
        snapshot.taken_at = taken_at;
        Ok(Some(snapshot))
    }

    async fn save_snapshot(&self, snapshot: Snapshot) -> Result<(), StoreError> {
        let version = i64::try_from(snapshot.version.0).map_err(|_| {
            backend(encode_error(format!(
                "es-postgres: snapshot version {} is beyond i64::MAX",
                snapshot.version
            )))
        })?;
        sqlx::query(&self.inner.sql.save_snapshot)
            .bind(snapshot.stream_id.as_str())
            .bind(version)
            .bind(i64::from(snapshot.schema_version))
            .bind(&snapshot.payload[..])
            .bind(to_micros(snapshot.taken_at))
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
