//! [`Inspect`] for [`SqliteStore`]: the streams, the head and the checkpoints, each read in
//! one statement on a reader thread.

use es_core::store::{CheckpointInfo, Inspect, StreamInfo};
use es_core::{Position, StoreError, StreamId, Version};

use crate::SqliteStore;
use crate::error::store_error;
use crate::queries;
use crate::values::{Key, Place, all_rows, last_position, saturating_i64};

/// Listings for operators' tools. Each call is one statement on a reader thread, so it sees
/// one committed state of the file and never waits for the writer.
///
/// - [`streams`](Inspect::streams) walks the `UNIQUE (stream_id, stream_version)` index of
///   `es_events` (there is no table of streams): two index seeks per stream listed, one for
///   the next stream id and one for its last event, whatever the number of streams or
///   events (`sql/inspect_streams.sql`).
/// - [`head`](Inspect::head) is `max(position)` of `es_events`, one seek at the end of its
///   primary key. Positions commit in order (see "Global order" in the crate docs), so every
///   committed position is readable.
/// - [`checkpoints`](Inspect::checkpoints) reads `es_checkpoints` in its primary key's order.
impl Inspect for SqliteStore {
    async fn streams(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let path = self.inner.path.clone();
        // No stream id is empty, so '' comes before the first.
        let after = after.map_or_else(String::new, |id| id.as_str().to_owned());
        self.inner
            .readers
            .run("listing streams", move |conn| {
                all_rows(
                    conn,
                    &path,
                    "listing streams",
                    queries::INSPECT_STREAMS,
                    (after.as_str(), saturating_i64(limit)),
                    |row| {
                        let place = Place::new(&path, "es_events", Key::Unknown);
                        let text = place.text(row, 0, "stream_id")?;
                        let place = place.at(Key::Stream(text));
                        let id = StreamId::new(text)
                            .map_err(|error| place.corrupt("stream_id", error))?;
                        Ok(StreamInfo::new(
                            id,
                            Version(place.unsigned(row, 1, "stream_version")?),
                            Position(place.unsigned(row, 2, "position")?),
                            place.time(row, 3, "recorded_at")?,
                        ))
                    },
                )
            })
            .await
    }

    async fn head(&self) -> Result<Position, StoreError> {
        let path = self.inner.path.clone();
        self.inner
            .readers
            .run("reading the head", move |conn| {
                last_position(conn, &path)
                    .map_err(|error| store_error(&path, "reading the head", &error))?
                    .map(Position)
            })
            .await
    }

    async fn checkpoints(&self) -> Result<Vec<CheckpointInfo>, StoreError> {
        let path = self.inner.path.clone();
        self.inner
            .readers
            .run("listing checkpoints", move |conn| {
                all_rows(
                    conn,
                    &path,
                    "listing checkpoints",
                    queries::INSPECT_CHECKPOINTS,
                    [],
                    |row| {
                        let place = Place::new(&path, "es_checkpoints", Key::Unknown);
                        let name = place.text(row, 0, "projection")?;
                        let place = place.at(Key::Projection(name));
                        let position = place.unsigned(row, 1, "position")?;
                        Ok(CheckpointInfo::new(name, Position(position)))
                    },
                )
            })
            .await
    }
}
