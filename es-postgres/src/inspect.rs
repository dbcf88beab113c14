//! [`Inspect`] for [`PgStore`]: the streams, the head and the checkpoints, read from the
//! pool's connections in autocommit statements.

use es_core::store::{CheckpointInfo, Inspect, StreamInfo};
use es_core::{Position, StoreError, StreamId, Version};

use crate::PgStore;
use crate::values::{Key, Place, Timestamptz, backend, saturating_i64};

/// Listings for operators' tools.
///
/// - [`streams`](Inspect::streams) is one statement per page (`sql/inspect_streams.sql`).
///   There is no table of streams; the page comes from `events`. When the database's default
///   collation is libc's `C` or `POSIX` (as `initdb --locale=C` makes it), `stream_id`'s
///   `UNIQUE (stream_id, stream_version)` index is in byte order and the statement walks it:
///   two index seeks per stream listed, whatever the number of streams or events. In any
///   other collation (`en_US.UTF-8`, ICU) that index is in another order, so each page
///   scans the whole table to group its stream ids in byte order: time in the number of
///   events, per page. An index on `(stream_id COLLATE "C", stream_version)` would make that
///   case fast too, at the cost of one more index entry per appended event; the schema does
///   not create one.
/// - [`head`](Inspect::head) is two statements, as [`read_all`](es_core::EventStore::read_all)
///   is: the read bound of "Global order" in the crate docs first, then, with a later
///   snapshot, the last position below it, walking the primary key backwards. So the head
///   never counts an event that `read_all` would still hold back behind an append in flight.
/// - [`checkpoints`](Inspect::checkpoints) reads every row of `checkpoints`, sorted in the
///   `C` collation.
impl Inspect for PgStore {
    async fn streams(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // No stream id is empty, so '' comes before the first.
        let rows = sqlx::query(&self.inner.sql.inspect_streams)
            .bind(after.map_or("", StreamId::as_str))
            .bind(saturating_i64(limit as u64))
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend)?;
        let mut page = Vec::with_capacity(rows.len());
        for row in &rows {
            let place = Place::new(&self.inner.schema, "events", Key::Unknown);
            let id: &str = place.get(row, 0, "stream_id")?;
            let place = place.at(Key::Stream(id));
            let stream_id = StreamId::new(id).map_err(|error| place.corrupt("stream_id", error))?;
            let version = place.unsigned(place.get(row, 1, "stream_version")?, "stream_version")?;
            let position = place.unsigned(place.get(row, 2, "position")?, "position")?;
            let recorded_at: Option<Timestamptz> = place.get(row, 3, "recorded_at")?;
            let recorded_at = place.time(
                recorded_at.and_then(Timestamptz::unix_micros),
                "recorded_at",
            )?;
            page.push(StreamInfo::new(
                stream_id,
                Version(version),
                Position(position),
                recorded_at,
            ));
        }
        // The statement picks the page; byte order is Rust's order of stream ids.
        page.sort_unstable_by(|x, y| x.id.cmp(&y.id));
        Ok(page)
    }

    async fn head(&self) -> Result<Position, StoreError> {
        let pool = &self.inner.pool;
        let bound = self.raise_read_bound().await?;
        let head: i64 = sqlx::query_scalar(&self.inner.sql.inspect_head)
            .bind(bound)
            .fetch_one(pool)
            .await
            .map_err(backend)?;
        Place::new(&self.inner.schema, "events", Key::Unknown)
            .unsigned(head, "position")
            .map(Position)
    }

    async fn checkpoints(&self) -> Result<Vec<CheckpointInfo>, StoreError> {
        let rows = sqlx::query(&self.inner.sql.inspect_checkpoints)
            .fetch_all(&self.inner.pool)
            .await
            .map_err(backend)?;
        let mut all = Vec::with_capacity(rows.len());
        for row in &rows {
            let place = Place::new(&self.inner.schema, "checkpoints", Key::Unknown);
            let name: &str = place.get(row, 0, "projection")?;
            let place = place.at(Key::Projection(name));
            let position = place.unsigned(place.get(row, 1, "position")?, "position")?;
            all.push(CheckpointInfo::new(name, Position(position)));
        }
        Ok(all)
    }
}
