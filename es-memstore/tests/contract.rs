//! `MemStore` keeps the store contract: every check of `es_core::testing::contract`, on a
//! single-threaded and on a multi-threaded runtime.

use es_core::testing::contract;
use es_memstore::MemStore;

#[tokio::test]
async fn memstore_keeps_the_store_contract() {
    let report = contract::all(|| async { MemStore::new() }).await;
    println!("MemStore: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 28, "every check ran: {report}");
}

#[tokio::test]
async fn memstore_keeps_the_process_store_contract() {
    let report = contract::process_store(|| async { MemStore::new() }).await;
    println!("MemStore processes: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn memstore_keeps_the_lease_store_contract() {
    let report = contract::lease_store(|| async { MemStore::new() }).await;
    println!("MemStore leases: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

/// Hooks that change nothing: a hooked store must keep every contract its inner store keeps.
#[derive(Debug, Clone, Copy)]
struct PassThrough;

impl es_core::testing::hooked::StoreHooks<MemStore> for PassThrough {}

#[tokio::test]
async fn a_hooked_store_passes_every_suite_through() {
    use es_core::testing::hooked::Hooked;

    let fresh = || async { Hooked::new(MemStore::new(), PassThrough) };
    let report = contract::all(fresh)
        .await
        .merge(contract::process_store(fresh).await)
        .merge(contract::lease_store(fresh).await)
        .merge(contract::inspect(fresh).await);
    report.assert_passed();
    assert_eq!(report.checks(), 38, "every check ran: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memstore_keeps_the_store_contract_on_a_multi_threaded_runtime() {
    let report = contract::all(|| async { MemStore::new() }).await;
    report.assert_passed();
}

/// The suite must fail stores that break the rules: a `MemStore` with one fault injected at
/// a time, and the checks each fault must trip.
mod broken {
    use es_core::testing::contract::{self, ContractReport};
    use es_core::testing::hooked::{Hooked, StoreHooks};
    use es_core::{
        Appended, EventStore, ExpectedVersion, NewEvent, Position, RecordedEvent, StoreError,
        StreamId, Version,
    };
    use es_memstore::MemStore;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Fault {
        /// Appends whatever the expected version.
        IgnoresExpectedVersion,
        /// Stores a batch without its last event.
        DropsLastEventOfBatch,
        /// Forgets command ids.
        NoIdempotency,
        /// `read_all` leaves out every 5th position.
        SkipsPositions,
        /// `read_stream` returns events from one version too late.
        ReadsFromTheWrongVersion,
        /// Accepts empty and oversized batches by dropping the checks.
        NoBatchChecks,
    }

    /// A `MemStore` with `fault` injected: the hooks of a [`Hooked`] store.
    impl StoreHooks<MemStore> for Fault {
        async fn append(
            &self,
            inner: &MemStore,
            stream_id: &StreamId,
            expected: ExpectedVersion,
            mut events: Vec<NewEvent>,
        ) -> Result<Appended, StoreError> {
            let expected = match self {
                Fault::IgnoresExpectedVersion => ExpectedVersion::Any,
                _ => expected,
            };
            if *self == Fault::DropsLastEventOfBatch && events.len() > 1 {
                events.pop();
            }
            if *self == Fault::NoIdempotency {
                for event in &mut events {
                    event.metadata.command_id = None;
                }
            }
            if *self == Fault::NoBatchChecks {
                if events.is_empty() {
                    let version = inner.stream_version(stream_id).await?;
                    return Ok(Appended::new(version, Position(0), Position(0)));
                }
                events.truncate(1);
                events[0].payload = bytes::Bytes::new();
                events[0].name = "renamed".into();
            }
            inner.append(stream_id, expected, events).await
        }

        async fn read_stream(
            &self,
            inner: &MemStore,
            stream_id: &StreamId,
            from: Version,
            max_count: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            let from = match self {
                Fault::ReadsFromTheWrongVersion => from.next(),
                _ => from,
            };
            inner.read_stream(stream_id, from, max_count).await
        }

        async fn read_all(
            &self,
            inner: &MemStore,
            after: Position,
            max_count: usize,
        ) -> Result<Vec<RecordedEvent>, StoreError> {
            let mut events = inner.read_all(after, max_count).await?;
            if *self == Fault::SkipsPositions {
                events.retain(|event| event.position.0 % 5 != 0);
            }
            Ok(events)
        }
    }

    async fn run(fault: Fault) -> ContractReport {
        contract::event_store(|| async move { Hooked::new(MemStore::new(), fault) }).await
    }

    fn failed(report: &ContractReport) -> Vec<&'static str> {
        report.failures().map(|outcome| outcome.name).collect()
    }

    #[tokio::test]
    async fn every_fault_fails_the_checks_of_its_rule() {
        let cases = [
            (
                Fault::IgnoresExpectedVersion,
                &[
                    "expected_no_stream",
                    "expected_exact",
                    "racing_appends_have_one_winner",
                ][..],
            ),
            (
                Fault::DropsLastEventOfBatch,
                &["append_and_read_back", "stream_versions_are_contiguous"][..],
            ),
            (
                Fault::NoIdempotency,
                &["repeated_command_id_is_a_duplicate"][..],
            ),
            (
                Fault::SkipsPositions,
                &[
                    "read_all_pages",
                    "subscription_catches_up_then_follows",
                    "subscription_with_concurrent_writers",
                ][..],
            ),
            (
                Fault::ReadsFromTheWrongVersion,
                &[
                    "append_and_read_back",
                    "read_stream_pages",
                    "visit_stream_matches_read_stream",
                ][..],
            ),
            (
                Fault::NoBatchChecks,
                &[
                    "empty_append_is_refused",
                    "invalid_batch_writes_nothing",
                    "limits_are_enforced",
                ][..],
            ),
        ];
        for (fault, must_fail) in cases {
            let report = run(fault).await;
            println!("{fault:?}: {report}");
            let failed = failed(&report);
            for check in must_fail {
                assert!(
                    failed.contains(check),
                    "{fault:?} should fail {check}; failed: {failed:?}"
                );
            }
            let shown = report.to_string();
            assert!(shown.contains("failed"), "{fault:?}: {shown}");
            assert!(shown.contains(must_fail[0]), "{fault:?}: {shown}");
        }
    }

    #[tokio::test]
    #[should_panic(expected = "the store breaks its contract")]
    async fn assert_passed_panics_on_a_broken_store() {
        run(Fault::IgnoresExpectedVersion).await.assert_passed();
    }
}
