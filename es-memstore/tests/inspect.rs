//! `MemStore` keeps the contract of `Inspect`, and the contract's checks fail stores that
//! list wrongly.

use bytes::Bytes;
use es_core::store::{CheckpointInfo, Inspect, StreamInfo};
use es_core::testing::contract::{self, ContractReport};
use es_core::{
    Appended, CheckpointStore, EventStore, ExpectedVersion, NewEvent, Position, Recorded,
    RecordedEvent, StoreError, StreamId, Version,
};
use es_memstore::MemStore;
use uuid::Uuid;

#[tokio::test]
async fn memstore_keeps_the_inspect_contract() {
    let report = contract::inspect(|| async { MemStore::new() }).await;
    println!("MemStore inspect: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 4, "every check ran: {report}");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Every page starts at the first stream.
    IgnoresAfter,
    /// Streams in the order of their ids' lower case, as a locale might sort them.
    CaseInsensitiveOrder,
    /// Each stream's first event instead of its last.
    FirstEvent,
    /// The head one position short of the log's end.
    HeadBehind,
    /// Checkpoints in reverse name order.
    CheckpointsReversed,
}

/// A `MemStore` whose listings have `fault`.
#[derive(Clone)]
struct Broken {
    inner: MemStore,
    fault: Fault,
}

impl Inspect for Broken {
    async fn streams(
        &self,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<StreamInfo>, StoreError> {
        match self.fault {
            Fault::IgnoresAfter => self.inner.streams(None, limit).await,
            Fault::CaseInsensitiveOrder => {
                let key = |id: &StreamId| id.as_str().to_lowercase();
                let mut all = self.inner.streams(None, usize::MAX).await?;
                all.sort_by_key(|info| key(&info.id));
                all.retain(|info| after.is_none_or(|after| key(&info.id) > key(after)));
                all.truncate(limit);
                Ok(all)
            }
            Fault::FirstEvent => {
                let mut page = self.inner.streams(after, limit).await?;
                for info in &mut page {
                    let first = self.inner.read_stream(&info.id, Version(1), 1).await?;
                    if let Some(first) = first.first() {
                        info.version = first.stream_version;
                        info.last_position = first.position;
                    }
                }
                Ok(page)
            }
            _ => self.inner.streams(after, limit).await,
        }
    }

    async fn head(&self) -> Result<Position, StoreError> {
        let head = self.inner.head().await?;
        Ok(match self.fault {
            Fault::HeadBehind => Position(head.0.saturating_sub(1)),
            _ => head,
        })
    }

    async fn checkpoints(&self) -> Result<Vec<CheckpointInfo>, StoreError> {
        let mut all = self.inner.checkpoints().await?;
        if self.fault == Fault::CheckpointsReversed {
            all.reverse();
        }
        Ok(all)
    }
}

#[tokio::test]
async fn every_listing_fault_fails_the_checks_of_its_rule() {
    let cases: [(Fault, &[&str]); 5] = [
        (
            Fault::IgnoresAfter,
            &["streams_are_listed_in_byte_order_by_page"],
        ),
        (
            Fault::CaseInsensitiveOrder,
            &["streams_are_listed_in_byte_order_by_page"],
        ),
        (
            Fault::FirstEvent,
            &["streams_show_their_last_event_and_head_the_log"],
        ),
        (
            Fault::HeadBehind,
            &["streams_show_their_last_event_and_head_the_log"],
        ),
        (
            Fault::CheckpointsReversed,
            &["checkpoints_are_listed_in_name_order"],
        ),
    ];
    for (fault, must_fail) in cases {
        let report: ContractReport = contract::inspect(|| async move {
            Broken {
                inner: MemStore::new(),
                fault,
            }
        })
        .await;
        println!("{fault:?}: {report}");
        let failed: Vec<&str> = report.failures().map(|outcome| outcome.name).collect();
        for check in must_fail {
            assert!(
                failed.contains(check),
                "{fault:?} should fail {check}, failed {failed:?}"
            );
        }
    }
}

// The rest of `Broken` passes straight through to its `MemStore`.

impl EventStore for Broken {
    async fn append(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<Appended, StoreError> {
        self.inner.append(stream_id, expected, events).await
    }

    async fn read_stream(
        &self,
        stream_id: &StreamId,
        from: Version,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_stream(stream_id, from, max_count).await
    }

    async fn read_all(
        &self,
        after: Position,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.inner.read_all(after, max_count).await
    }

    async fn find_command(
        &self,
        stream_id: &StreamId,
        command_id: Uuid,
    ) -> Result<Option<Recorded>, StoreError> {
        self.inner.find_command(stream_id, command_id).await
    }

    async fn refuse(
        &self,
        stream_id: &StreamId,
        expected: ExpectedVersion,
        command_id: Uuid,
        refusal: Bytes,
    ) -> Result<Recorded, StoreError> {
        self.inner
            .refuse(stream_id, expected, command_id, refusal)
            .await
    }

    async fn stream_version(&self, stream_id: &StreamId) -> Result<Version, StoreError> {
        self.inner.stream_version(stream_id).await
    }

    async fn wait_for_events(&self, after: Position) -> Result<(), StoreError> {
        self.inner.wait_for_events(after).await
    }
}

impl CheckpointStore for Broken {
    async fn load_checkpoint(&self, projection: &str) -> Result<Option<Position>, StoreError> {
        self.inner.load_checkpoint(projection).await
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        position: Position,
    ) -> Result<(), StoreError> {
        self.inner.save_checkpoint(projection, position).await
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), StoreError> {
        self.inner.delete_checkpoint(projection).await
    }
}
