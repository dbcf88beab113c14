//! The store contract suite: the rules of [`store`](crate::store) checked against any store.
//!
//! Every store of this project runs it, and so should yours: give it a function that makes a
//! fresh, empty store (each check gets its own), run it, and assert the report. Checks are
//! executor-independent futures; run them on whatever runtime the store needs.
//!
//! ```
//! use es_core::testing::contract;
//! use es_memstore::MemStore;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let report = contract::all(|| async { MemStore::new() }).await;
//! report.assert_passed(); // panics naming every failed check and what it saw
//! assert!(report.checks() >= 20);
//! println!("{report}"); // "24 checks (1234 assertions): all passed"
//! # });
//! ```
//!
//! What is checked, one check per rule (the names appear in the report; each row's checks
//! are a file of this module: `events`, `concurrency`, `batches`, `order`, `reads`,
//! `idempotency`, `subscriptions`, `snapshots`, `checkpoints`, `processes`, `leases`,
//! `inspect`):
//!
//! | rule | checks |
//! |---|---|
//! | events read back as appended | `append_and_read_back`, `unknown_stream_reads_empty` |
//! | optimistic concurrency, conflicts write nothing | `expected_no_stream`, `expected_exact`, `expected_any`, `racing_appends_have_one_winner` |
//! | atomic batches, typed refusals | `empty_append_is_refused`, `invalid_batch_writes_nothing`, `limits_are_enforced` |
//! | contiguous versions, strictly increasing positions | `stream_versions_are_contiguous`, `global_positions_strictly_increase` |
//! | reads: paging, repeatability, lending | `read_stream_pages`, `read_all_pages`, `reads_are_repeatable`, `visit_stream_matches_read_stream` |
//! | idempotent command ids, appended or refused | `repeated_command_id_is_a_duplicate`, `command_ids_are_per_stream`, `a_refused_command_id_keeps_its_refusal`, `refusals_check_versions_and_earlier_appends`, `racing_refusal_and_append_have_one_outcome` |
//! | subscriptions without gap or duplicate | `subscription_catches_up_then_follows`, `subscription_from_a_position`, `subscription_with_concurrent_writers`, `wait_for_events_sees_stored_events` |
//! | snapshots keep the newest per stream | `snapshots_round_trip`, `older_snapshot_never_replaces_newer` |
//! | checkpoints per projection, parked events per consumer | `checkpoints_round_trip`, `parked_events_round_trip` |
//! | leases share a partitioned consumer's partitions among live workers ([`lease_store`], for a [`LeaseStore`](crate::projection::LeaseStore)) | `leases_share_partitions_among_live_workers`, `expired_leases_are_taken_over`, `leases_keep_their_partition_count` |
//! | a store lists its streams in byte order of their ids, page by page, its head and its checkpoints ([`inspect`], for an [`Inspect`](crate::store::Inspect) store) | `inspecting_an_empty_store`, `streams_are_listed_in_byte_order_by_page`, `streams_show_their_last_event_and_head_the_log`, `checkpoints_are_listed_in_name_order` |
//! | process managers' work commits with its checkpoint, timers fire once ([`process_store`], for a [`ProcessStore`](crate::process::ProcessStore)) | `process_work_commits_with_its_checkpoint`, `process_timers_fire_once_in_order`, `parked_instances_are_listed_and_reset_clears_all` |
//!
//! Waits are bounded by [`TIMEOUT`]: a store that misses a wake-up fails a check instead of
//! hanging the test run.

use std::collections::BTreeMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::{EventId, Metadata, NewEvent, Position, RecordedEvent, StreamId};
use crate::snapshot::SnapshotStore;
use crate::store::{CheckpointStore, EventStore, StoreError};
use crate::util::{Either, race};

/// How long a check waits for a store before it fails (a live event, a wake-up).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs each named check on a fresh store and records its outcome.
macro_rules! run {
    ($report:ident, $new_store:ident, [$($check:ident),* $(,)?]) => {
        $(
            let store = $new_store().await;
            let mut tally = Tally::default();
            let result = $check(&store, &mut tally).await;
            $report.record(stringify!($check), tally, result);
        )*
    };
}

/// Asserts `$cond`, or fails the check with the message.
macro_rules! ensure {
    ($tally:expr, $cond:expr, $($message:tt)+) => {{
        $tally.0 += 1;
        if !$cond {
            return Err(Failure(format!($($message)+)));
        }
    }};
}

/// Asserts `$left == $right`, or fails the check with the message and both values.
macro_rules! ensure_eq {
    ($tally:expr, $left:expr, $right:expr, $($message:tt)+) => {{
        let (left, right) = (&$left, &$right);
        $tally.0 += 1;
        if left != right {
            return Err(Failure(format!(
                "{}: got {:?}, expected {:?}",
                format_args!($($message)+),
                left,
                right
            )));
        }
    }};
}

// The checks, one file per rule of the table above; declared after the macros they use.
mod batches;
mod checkpoints;
mod concurrency;
mod events;
mod idempotency;
mod inspect;
mod leases;
mod order;
mod processes;
mod reads;
mod snapshots;
mod subscriptions;

use batches::{empty_append_is_refused, invalid_batch_writes_nothing, limits_are_enforced};
use checkpoints::{checkpoints_round_trip, parked_events_round_trip};
use concurrency::{
    expected_any, expected_exact, expected_no_stream, racing_appends_have_one_winner,
};
use events::{append_and_read_back, unknown_stream_reads_empty};
use idempotency::{
    a_refused_command_id_keeps_its_refusal, command_ids_are_per_stream,
    racing_refusal_and_append_have_one_outcome, refusals_check_versions_and_earlier_appends,
    repeated_command_id_is_a_duplicate,
};
use inspect::{
    checkpoints_are_listed_in_name_order, inspecting_an_empty_store,
    streams_are_listed_in_byte_order_by_page, streams_show_their_last_event_and_head_the_log,
};
use leases::{
    expired_leases_are_taken_over, leases_keep_their_partition_count,
    leases_share_partitions_among_live_workers,
};
use order::{global_positions_strictly_increase, stream_versions_are_contiguous};
use processes::{
    parked_instances_are_listed_and_reset_clears_all, process_timers_fire_once_in_order,
    process_work_commits_with_its_checkpoint,
};
use reads::{
    read_all_pages, read_stream_pages, reads_are_repeatable, visit_stream_matches_read_stream,
};
use snapshots::{older_snapshot_never_replaces_newer, snapshots_round_trip};
use subscriptions::{
    subscription_catches_up_then_follows, subscription_from_a_position,
    subscription_with_concurrent_writers, wait_for_events_sees_stored_events,
};

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckOutcome {
    /// The check's name, such as `expected_exact`.
    pub name: &'static str,
    /// How many assertions it made (up to the failing one).
    pub assertions: usize,
    /// What went wrong, if the check failed.
    pub failure: Option<String>,
}

/// The outcomes of a contract run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContractReport {
    outcomes: Vec<CheckOutcome>,
}

impl ContractReport {
    /// Every check's outcome, in the order they ran.
    #[must_use]
    pub fn outcomes(&self) -> &[CheckOutcome] {
        &self.outcomes
    }

    /// How many checks ran.
    #[must_use]
    pub fn checks(&self) -> usize {
        self.outcomes.len()
    }

    /// How many assertions the checks made in all.
    #[must_use]
    pub fn assertions(&self) -> usize {
        self.outcomes.iter().map(|outcome| outcome.assertions).sum()
    }

    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckOutcome> {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.failure.is_some())
    }

    /// Whether every check passed.
    #[must_use]
    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    /// Panics, listing every failed check, unless all passed.
    ///
    /// # Panics
    /// When a check failed.
    #[track_caller]
    pub fn assert_passed(&self) {
        assert!(self.passed(), "the store breaks its contract: {self}");
    }

    /// This report followed by `other`'s outcomes.
    #[must_use]
    pub fn merge(mut self, other: Self) -> Self {
        self.outcomes.extend(other.outcomes);
        self
    }
}

impl fmt::Display for ContractReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failed = self.failures().count();
        write!(
            f,
            "{} checks ({} assertions): ",
            self.checks(),
            self.assertions()
        )?;
        if failed == 0 {
            return f.write_str("all passed");
        }
        write!(f, "{failed} failed")?;
        for outcome in self.failures() {
            let failure = outcome.failure.as_deref().unwrap_or_default();
            write!(f, "\n- {}: {failure}", outcome.name)?;
        }
        Ok(())
    }
}

/// Runs the [`EventStore`] checks, each on a fresh store from `new_store`.
pub async fn event_store<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: EventStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Runner::default();
    run!(
        report,
        new_store,
        [
            append_and_read_back,
            unknown_stream_reads_empty,
            expected_no_stream,
            expected_exact,
            expected_any,
            racing_appends_have_one_winner,
            empty_append_is_refused,
            invalid_batch_writes_nothing,
            limits_are_enforced,
            stream_versions_are_contiguous,
            global_positions_strictly_increase,
            read_stream_pages,
            read_all_pages,
            reads_are_repeatable,
            visit_stream_matches_read_stream,
            repeated_command_id_is_a_duplicate,
            command_ids_are_per_stream,
            a_refused_command_id_keeps_its_refusal,
            refusals_check_versions_and_earlier_appends,
            racing_refusal_and_append_have_one_outcome,
            subscription_catches_up_then_follows,
            subscription_from_a_position,
            subscription_with_concurrent_writers,
            wait_for_events_sees_stored_events,
        ]
    );
    report.finish()
}

/// Runs the [`SnapshotStore`] checks, each on a fresh store from `new_store`.
pub async fn snapshot_store<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: SnapshotStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Runner::default();
    run!(
        report,
        new_store,
        [snapshots_round_trip, older_snapshot_never_replaces_newer,]
    );
    report.finish()
}

/// Runs the [`CheckpointStore`] checks, each on a fresh store from `new_store`.
pub async fn checkpoint_store<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: CheckpointStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Runner::default();
    run!(
        report,
        new_store,
        [checkpoints_round_trip, parked_events_round_trip]
    );
    report.finish()
}

/// Runs the [`ProcessStore`](crate::process::ProcessStore) checks, each on a fresh store
/// from `new_store`.
pub async fn process_store<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: crate::process::ProcessStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Runner::default();
    run!(
        report,
        new_store,
        [
            process_work_commits_with_its_checkpoint,
            process_timers_fire_once_in_order,
            parked_instances_are_listed_and_reset_clears_all,
        ]
    );
    report.finish()
}

/// Runs the [`LeaseStore`](crate::projection::LeaseStore) checks, each on a fresh store from
/// `new_store`.
pub async fn lease_store<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: crate::projection::LeaseStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Runner::default();
    run!(
        report,
        new_store,
        [
            leases_share_partitions_among_live_workers,
            expired_leases_are_taken_over,
            leases_keep_their_partition_count,
        ]
    );
    report.finish()
}

/// Runs the [`Inspect`](crate::store::Inspect) checks, each on a fresh store from
/// `new_store`. Not part of [`all`]: a store need not list what it holds to keep events.
pub async fn inspect<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: crate::store::Inspect,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut report = Runner::default();
    run!(
        report,
        new_store,
        [
            inspecting_an_empty_store,
            streams_are_listed_in_byte_order_by_page,
            streams_show_their_last_event_and_head_the_log,
            checkpoints_are_listed_in_name_order,
        ]
    );
    report.finish()
}

/// Runs every check on a store that keeps events, snapshots and checkpoints.
pub async fn all<S, F, Fut>(mut new_store: F) -> ContractReport
where
    S: EventStore + SnapshotStore + CheckpointStore,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let events = event_store(&mut new_store).await;
    let snapshots = snapshot_store(&mut new_store).await;
    let checkpoints = checkpoint_store(&mut new_store).await;
    events.merge(snapshots).merge(checkpoints)
}

#[derive(Default)]
struct Runner {
    report: ContractReport,
}

impl Runner {
    fn record(&mut self, name: &'static str, tally: Tally, result: Result<(), Failure>) {
        self.report.outcomes.push(CheckOutcome {
            name,
            assertions: tally.0,
            failure: result.err().map(|failure| failure.0),
        });
    }

    fn finish(self) -> ContractReport {
        self.report
    }
}

/// Counts a check's assertions.
#[derive(Default)]
struct Tally(usize);

/// Why a check failed.
struct Failure(String);

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self(format!("unexpected store error: {error}"))
    }
}

type Checked = Result<(), Failure>;

// ---------------------------------------------------------------------------------------------
// Helpers

fn stream(name: &str) -> Result<StreamId, Failure> {
    StreamId::new(name).map_err(|error| Failure(format!("the suite's own stream id: {error}")))
}

/// An event named `name` with a JSON payload holding `n`, and full metadata.
fn event(name: &'static str, n: u64) -> NewEvent {
    let mut headers = BTreeMap::new();
    headers.insert("n".to_owned(), n.to_string());
    NewEvent {
        event_id: EventId::new(),
        name: name.into(),
        schema_version: 1,
        payload: Bytes::from(format!("{{\"n\":{n}}}")),
        metadata: Metadata {
            correlation_id: Some(Uuid::now_v7()),
            causation_id: Some(Uuid::now_v7()),
            command_id: None,
            headers,
        },
    }
}

fn batch(name: &'static str, from: u64, len: u64) -> Vec<NewEvent> {
    (from..from + len).map(|n| event(name, n)).collect()
}

fn with_command(mut events: Vec<NewEvent>, command_id: Uuid) -> Vec<NewEvent> {
    for event in &mut events {
        event.metadata.command_id = Some(command_id);
    }
    events
}

/// Everything in the global log, read in pages of 100.
async fn whole_log<S: EventStore>(store: &S) -> Result<Vec<RecordedEvent>, Failure> {
    let mut all = Vec::new();
    let mut after = Position::START;
    loop {
        let page = store.read_all(after, 100).await?;
        let Some(last) = page.last() else {
            return Ok(all);
        };
        after = last.position;
        all.extend(page);
    }
}

/// `future`, or a failure naming `what` after [`TIMEOUT`].
async fn within<T>(what: &str, future: impl Future<Output = T>) -> Result<T, Failure> {
    match race(future, futures_timer::Delay::new(TIMEOUT)).await {
        Either::Left(out) => Ok(out),
        Either::Right(()) => Err(Failure(format!(
            "timed out after {TIMEOUT:?} waiting for {what}"
        ))),
    }
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Polls all `futures` together until each has completed; outputs in the given order.
async fn join_all<T>(futures: Vec<BoxFuture<'_, T>>) -> Vec<T> {
    let mut pending: Vec<Option<BoxFuture<'_, T>>> = futures.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    poll_fn(|cx| {
        let mut done = true;
        for (slot, output) in pending.iter_mut().zip(&mut outputs) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(out) => {
                        *output = Some(out);
                        *slot = None;
                    }
                    Poll::Pending => done = false,
                }
            }
        }
        if done { Poll::Ready(()) } else { Poll::Pending }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// Whether `recorded` is `sent`, stored as is.
fn same_event(recorded: &RecordedEvent, sent: &NewEvent) -> bool {
    recorded.event_id == sent.event_id
        && *recorded.name == *sent.name
        && recorded.schema_version == sent.schema_version
        && recorded.payload == sent.payload
        && recorded.metadata == sent.metadata
}

/// The event at `index`, or a failure saying how many events there were.
fn nth(events: &[RecordedEvent], index: usize) -> Result<&RecordedEvent, Failure> {
    events.get(index).ok_or_else(|| {
        Failure(format!(
            "expected at least {} events, read {}",
            index + 1,
            events.len()
        ))
    })
}

fn positions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|event| event.position.0).collect()
}

fn versions(events: &[RecordedEvent]) -> Vec<u64> {
    events.iter().map(|event| event.stream_version.0).collect()
}
