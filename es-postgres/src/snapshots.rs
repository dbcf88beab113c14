//! [`SnapshotStore`] on PostgreSQL.

use bytes::Bytes;
use es_core::snapshot::{Snapshot, SnapshotStore};
use es_core::{StoreError, StreamId, Version};
use sqlx::Row as _;

use crate::PgStore;
use crate::values::{backend, decode_error, encode_error, from_micros, to_micros, to_u64};

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
        let decode = || -> Result<Snapshot, sqlx::Error> {
            let version = to_u64(row.try_get(0)?, "version")?;
            let schema_version: i64 = row.try_get(1)?;
            let schema_version = u32::try_from(schema_version).map_err(|_| {
                decode_error(format!(
                    "es-postgres: the snapshot of {stream_id} has schema version {schema_version}, not a u32"
                ))
            })?;
            let payload: Vec<u8> = row.try_get(2)?;
            let taken_at = from_micros(row.try_get(3)?)?;
            let mut snapshot = Snapshot::new(
                stream_id.clone(),
                Version(version),
                schema_version,
                Bytes::from(payload),
            );
            snapshot.taken_at = taken_at;
            Ok(snapshot)
        };
        decode().map(Some).map_err(backend)
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
