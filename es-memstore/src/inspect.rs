//! [`Inspect`] for [`MemStore`]: listings made from the maps the store keeps anyway.

use es_core::store::{CheckpointInfo, Inspect, StreamInfo};
use es_core::{Position, StoreError, StreamId, Version};

use crate::{MemStore, Stream, lock};

/// Listings for operators' tools, each made under the lock of what it lists.
///
/// - [`streams`](Inspect::streams) goes through every stream under the read lock (the store
///   keeps them in a hash map, in no order) and sorts the page it picks: each call costs
///   time in the number of streams, plus `limit · log(limit)`. Appends wait for it.
/// - [`head`](Inspect::head) is the length of the log, under the read lock.
/// - [`checkpoints`](Inspect::checkpoints) copies and sorts every checkpoint.
impl Inspect for MemStore {
    async fn streams(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let state = self.read();
        let mut page: Vec<(&StreamId, &Stream)> = state
            .streams
            .iter()
            .filter(|(id, stream)| {
                !stream.events.is_empty() && after.is_none_or(|after| *id > after)
            })
            .collect();
        if page.len() > limit {
            page.select_nth_unstable_by(limit - 1, |x, y| x.0.cmp(y.0));
            page.truncate(limit);
        }
        page.sort_unstable_by(|x, y| x.0.cmp(y.0));
        Ok(page
            .into_iter()
            .filter_map(|(id, stream)| {
                let last = &state.log[*stream.events.last()?];
                Some(StreamInfo::new(
                    id.clone(),
                    Version(stream.events.len() as u64),
                    last.position,
                    last.recorded_at,
                ))
            })
            .collect())
    }

    async fn head(&self) -> Result<Position, StoreError> {
        Ok(Position(self.read().log.len() as u64))
    }

    async fn checkpoints(&self) -> Result<Vec<CheckpointInfo>, StoreError> {
        let mut all: Vec<CheckpointInfo> = lock(&self.checkpoints)
            .iter()
            .map(|(name, &position)| CheckpointInfo::new(name.clone(), position))
            .collect();
        all.sort_unstable_by(|x, y| x.name.cmp(&y.name));
        Ok(all)
    }
}
