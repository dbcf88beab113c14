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
//! What is checked, one check per rule (the names appear in the report):
//!
//! | rule | checks |
//! |---|---|
//! | events read back as appended | `append_and_read_back`, `unknown_stream_reads_empty` |
//! | optimistic concurrency, conflicts write nothing | `expected_no_stream`, `expected_exact`, `expected_any`, `racing_appends_have_one_winner` |
//! | atomic batches, typed refusals | `empty_append_is_refused`, `invalid_batch_writes_nothing`, `limits_are_enforced` |
//! | contiguous versions, strictly increasing positions | `stream_versions_are_contiguous`, `global_positions_strictly_increase` |
//! | reads: paging, repeatability, lending | `read_stream_pages`, `read_all_pages`, `reads_are_repeatable`, `visit_stream_matches_read_stream` |
//! | idempotent command ids | `repeated_command_id_is_a_duplicate`, `command_ids_are_per_stream` |
//! | subscriptions without gap or duplicate | `subscription_catches_up_then_follows`, `subscription_from_a_position`, `subscription_with_concurrent_writers`, `wait_for_events_sees_stored_events` |
//! | snapshots keep the newest per stream | `snapshots_round_trip`, `older_snapshot_never_replaces_newer` |
//! | checkpoints per projection | `checkpoints_round_trip` |
//!
//! Waits are bounded by [`TIMEOUT`]: a store that misses a wake-up fails a check instead of
//! hanging the test run.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::future::{Future, poll_fn};
use std::ops::ControlFlow;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use crate::envelope::{EventId, Metadata, NewEvent, Position, RecordedEvent, StreamId, Version};
use crate::names::check_event_name;
use crate::snapshot::{Snapshot, SnapshotStore};
use crate::store::{
    Appended, CheckpointStore, EventStore, ExpectedVersion, Limit, StoreError, limits,
};
use crate::util::{Either, YieldNow, race};

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
    run!(report, new_store, [checkpoints_round_trip]);
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

// ---------------------------------------------------------------------------------------------
// EventStore checks

async fn append_and_read_back<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let mut sent = batch("contract.happened", 1, 3);
    // An opaque, non-UTF-8 payload and an empty one are stored byte for byte.
    sent[1].payload = Bytes::from_static(&[0xff, 0x00, 0xfe, b'{']);
    sent[1].schema_version = 7;
    sent[2].payload = Bytes::new();
    sent[2].metadata = Metadata::default();
    let appended = store
        .append(&id, ExpectedVersion::NoStream, sent.clone())
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(3),
        "version after 3 events"
    );
    ensure!(t, !appended.duplicate, "a first append is not a duplicate");
    ensure!(
        t,
        appended.first_position.0 >= 1 && appended.last_position > appended.first_position,
        "positions of a 3-event append: {appended:?}"
    );
    let read = store.read_stream(&id, Version(1), 10).await?;
    ensure_eq!(t, read.len(), 3, "events read back");
    for (i, (recorded, sent)) in read.iter().zip(&sent).enumerate() {
        ensure!(
            t,
            same_event(recorded, sent),
            "event {i} read back differs: {recorded:?} vs sent {sent:?}"
        );
        ensure_eq!(t, recorded.stream_id, id, "stream id of event {i}");
    }
    ensure_eq!(t, versions(&read), vec![1, 2, 3], "stream versions");
    ensure_eq!(
        t,
        read.first().map(|e| e.position),
        Some(appended.first_position),
        "first position"
    );
    ensure_eq!(
        t,
        read.last().map(|e| e.position),
        Some(appended.last_position),
        "last position"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version(3),
        "stream_version"
    );
    let log = whole_log(store).await?;
    ensure_eq!(
        t,
        log,
        read,
        "the global log holds exactly the stream's events"
    );
    Ok(())
}

async fn unknown_stream_reads_empty<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-nobody")?;
    ensure!(
        t,
        store.read_stream(&id, Version(1), 10).await?.is_empty(),
        "an unknown stream reads as empty"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version::EMPTY,
        "its version"
    );
    ensure!(
        t,
        store.find_command(&id, Uuid::now_v7()).await?.is_none(),
        "no command on an unknown stream"
    );
    ensure!(
        t,
        store.read_all(Position::START, 10).await?.is_empty(),
        "a fresh store's log is empty"
    );
    Ok(())
}

/// Asserts that `result` is the conflict `(expected, actual)` on `id`.
fn ensure_conflict<T: fmt::Debug>(
    t: &mut Tally,
    result: Result<T, StoreError>,
    id: &StreamId,
    expected: ExpectedVersion,
    actual: Version,
) -> Checked {
    match result {
        Err(StoreError::Conflict {
            stream_id,
            expected: got_expected,
            actual: got_actual,
        }) => {
            ensure_eq!(t, stream_id, *id, "the conflict's stream");
            ensure_eq!(t, got_expected, expected, "the conflict's expected version");
            ensure_eq!(t, got_actual, actual, "the conflict's actual version");
            Ok(())
        }
        other => Err(Failure(format!(
            "expected a conflict (expected {expected}, actual {actual}) on {id}, got {other:?}"
        ))),
    }
}

async fn expected_no_stream<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 1, 2),
        )
        .await?;
    let before = whole_log(store).await?;
    let refused = store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 3, 2),
        )
        .await;
    ensure_conflict(t, refused, &id, ExpectedVersion::NoStream, Version(2))?;
    let zero = ExpectedVersion::Exact(Version(0));
    let refused = store
        .append(&id, zero, batch("contract.happened", 3, 1))
        .await;
    ensure_conflict(t, refused, &id, zero, Version(2))?;
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after refused appends"
    );
    Ok(())
}

async fn expected_exact<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(
            &id,
            ExpectedVersion::Exact(Version(0)),
            batch("contract.happened", 1, 2),
        )
        .await?;
    let before = whole_log(store).await?;
    for stale in [Version(1), Version(3), Version(100)] {
        let refused = store
            .append(
                &id,
                ExpectedVersion::Exact(stale),
                batch("contract.happened", 9, 2),
            )
            .await;
        ensure_conflict(t, refused, &id, ExpectedVersion::Exact(stale), Version(2))?;
    }
    let missing = stream("contract-missing")?;
    let refused = store
        .append(
            &missing,
            ExpectedVersion::Exact(Version(1)),
            batch("contract.happened", 9, 1),
        )
        .await;
    ensure_conflict(
        t,
        refused,
        &missing,
        ExpectedVersion::Exact(Version(1)),
        Version(0),
    )?;
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after refused appends"
    );
    let appended = store
        .append(
            &id,
            ExpectedVersion::Exact(Version(2)),
            batch("contract.happened", 3, 1),
        )
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(3),
        "version after a matching append"
    );
    Ok(())
}

async fn expected_any<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    for n in 0..3 {
        let appended = store
            .append(
                &id,
                ExpectedVersion::Any,
                batch("contract.happened", n * 2, 2),
            )
            .await?;
        ensure_eq!(
            t,
            appended.stream_version,
            Version(n * 2 + 2),
            "version after append {n} with `Any`"
        );
    }
    Ok(())
}

async fn racing_appends_have_one_winner<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-race")?;
    store
        .append(
            &id,
            ExpectedVersion::NoStream,
            batch("contract.happened", 0, 1),
        )
        .await?;
    for round in 0..5_u64 {
        let version = store.stream_version(&id).await?;
        let racers: Vec<BoxFuture<'_, Result<Appended, StoreError>>> = (0..8)
            .map(|racer| {
                let events = batch("contract.raced", round * 100 + racer * 10, 2);
                Box::pin(store.append(&id, ExpectedVersion::Exact(version), events))
                    as BoxFuture<'_, Result<Appended, StoreError>>
            })
            .collect();
        let results = join_all(racers).await;
        let winners = results.iter().filter(|result| result.is_ok()).count();
        ensure_eq!(t, winners, 1, "winners among 8 racing appends at {version}");
        for result in results.into_iter().filter(Result::is_err) {
            let expected = ExpectedVersion::Exact(version);
            ensure_conflict(t, result, &id, expected, Version(version.0 + 2))?;
        }
        ensure_eq!(
            t,
            store.stream_version(&id).await?,
            Version(version.0 + 2),
            "the stream grew by the winner's batch only"
        );
    }
    let read = store.read_stream(&id, Version(1), 100).await?;
    let expected: Vec<u64> = (1..=11).collect();
    ensure_eq!(t, versions(&read), expected, "versions after the races");
    Ok(())
}

async fn empty_append_is_refused<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let refused = store.append(&id, ExpectedVersion::Any, Vec::new()).await;
    ensure!(
        t,
        matches!(&refused, Err(StoreError::EmptyAppend { stream_id }) if *stream_id == id),
        "an empty append: {refused:?}"
    );
    ensure_eq!(
        t,
        store.stream_version(&id).await?,
        Version::EMPTY,
        "version after it"
    );
    Ok(())
}

async fn invalid_batch_writes_nothing<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 1))
        .await?;
    let before = whole_log(store).await?;
    // Names outside the event-name rule, which the derive refuses at compile time: control
    // characters (a C1 one, NEL, among them), non-ASCII, marks outside the five allowed, a
    // mark first.
    let bad_names = [
        "",
        "bad\nname",
        "\u{7}",
        "caf\u{e9}\u{85}",
        "caf\u{e9}",
        "user created",
        "user.created!",
        ".user.created",
        "-user",
    ];
    for bad_name in bad_names {
        let mut events = batch("contract.happened", 1, 3);
        if let Some(last) = events.last_mut() {
            last.name = bad_name.into();
        }
        let refused = store.append(&id, ExpectedVersion::Any, events).await;
        ensure!(
            t,
            matches!(
                &refused,
                Err(StoreError::InvalidEventName { stream_id, name, problem })
                    if *stream_id == id && name == bad_name
                        && Err(*problem) == check_event_name(bad_name)
            ),
            "a batch whose last event is named {bad_name:?}: {refused:?}"
        );
    }
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after refused batches"
    );
    Ok(())
}

async fn limits_are_enforced<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let too_many = u64::try_from(limits::MAX_BATCH_LEN + 1).unwrap_or(u64::MAX);
    let mut big = event("contract.big", 0);
    big.payload = Bytes::from(vec![b' '; limits::MAX_PAYLOAD_LEN + 1]);
    let mut long_name = event("contract.happened", 1);
    long_name.name = "n".repeat(limits::MAX_EVENT_NAME_LEN + 1).into();
    // Payloads of the largest size allowed, as many as fit in a batch, and one byte more.
    let largest = Bytes::from(vec![b' '; limits::MAX_PAYLOAD_LEN]);
    let fit = limits::MAX_BATCH_BYTES / limits::MAX_PAYLOAD_LEN;
    let full_bytes = |extra: &[u8]| {
        let mut events: Vec<NewEvent> = (0..fit)
            .map(|_| {
                let mut e = event("contract.big", 0);
                e.payload = largest.clone();
                e
            })
            .collect();
        let mut last = event("contract.big", 0);
        last.payload = Bytes::copy_from_slice(extra);
        events.push(last);
        events
    };
    let cases = [
        (Limit::BatchLen, batch("contract.happened", 0, too_many)),
        (Limit::PayloadLen, vec![event("contract.happened", 0), big]),
        (
            Limit::EventNameLen,
            vec![event("contract.happened", 0), long_name],
        ),
        (Limit::BatchBytes, full_bytes(b" ")),
    ];
    for (limit, events) in cases {
        let refused = store.append(&id, ExpectedVersion::Any, events).await;
        ensure!(
            t,
            matches!(
                &refused,
                Err(StoreError::LimitExceeded { stream_id, limit: got, .. })
                    if *stream_id == id && *got == limit
            ),
            "an append over the {limit} limit: {:?}",
            refused.map(|_| ())
        );
    }
    ensure!(
        t,
        whole_log(store).await?.is_empty(),
        "nothing written by refused appends"
    );
    // At the limits exactly, appends succeed: payloads of the largest size, as many as the
    // bytes limit allows (the last one empty).
    let at_bytes_limit = full_bytes(b"");
    let count = u64::try_from(at_bytes_limit.len()).unwrap_or(u64::MAX);
    let appended = store
        .append(&id, ExpectedVersion::Any, at_bytes_limit)
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(count),
        "version after a batch at the bytes limit"
    );
    let full = u64::try_from(limits::MAX_BATCH_LEN).unwrap_or(u64::MAX);
    let appended = store
        .append(
            &id,
            ExpectedVersion::Any,
            batch("contract.happened", 0, full),
        )
        .await?;
    ensure_eq!(
        t,
        appended.stream_version,
        Version(full + count),
        "version after a full batch"
    );
    Ok(())
}

async fn stream_versions_are_contiguous<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let ids = [
        stream("contract-a")?,
        stream("contract-b")?,
        stream("contract-c")?,
    ];
    let mut expected = [0_u64; 3];
    for round in 0..12_u64 {
        let which = usize::try_from(round % 3).unwrap_or(0);
        let len = round % 4 + 1;
        let appended = store
            .append(
                &ids[which],
                ExpectedVersion::Any,
                batch("contract.happened", round, len),
            )
            .await?;
        expected[which] += len;
        ensure_eq!(
            t,
            appended.stream_version,
            Version(expected[which]),
            "version of {} after round {round}",
            ids[which]
        );
    }
    for (id, count) in ids.iter().zip(expected) {
        let read = store.read_stream(id, Version(1), 1_000).await?;
        let want: Vec<u64> = (1..=count).collect();
        ensure_eq!(t, versions(&read), want, "versions of {id}");
        ensure!(
            t,
            read.iter().all(|event| event.stream_id == *id),
            "{id} reads only its own events"
        );
        ensure_eq!(
            t,
            store.stream_version(id).await?,
            Version(count),
            "stream_version of {id}"
        );
    }
    Ok(())
}

async fn global_positions_strictly_increase<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let ids = [stream("contract-a")?, stream("contract-b")?];
    let mut appends = Vec::new();
    let mut sent = Vec::new();
    for round in 0..10_u64 {
        let id = &ids[usize::try_from(round % 2).unwrap_or(0)];
        let events = batch("contract.happened", round * 10, round % 3 + 1);
        sent.extend(events.iter().map(|event| event.event_id));
        appends.push(store.append(id, ExpectedVersion::Any, events).await?);
    }
    let log = whole_log(store).await?;
    let ids_in_log: Vec<EventId> = log.iter().map(|event| event.event_id).collect();
    ensure_eq!(
        t,
        ids_in_log,
        sent,
        "the log holds every event once, in append order"
    );
    ensure!(
        t,
        log.windows(2)
            .all(|pair| pair[0].position < pair[1].position),
        "positions strictly increase: {:?}",
        positions(&log)
    );
    for pair in appends.windows(2) {
        ensure!(
            t,
            pair[0].last_position < pair[1].first_position,
            "a later append lands after an earlier one: {:?} then {:?}",
            pair[0],
            pair[1]
        );
    }
    Ok(())
}

async fn read_stream_pages<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 10))
        .await?;
    let from_zero = store.read_stream(&id, Version(0), 100).await?;
    let from_one = store.read_stream(&id, Version(1), 100).await?;
    ensure_eq!(t, from_zero, from_one, "reading from version 0 and 1");
    let middle = store.read_stream(&id, Version(4), 3).await?;
    ensure_eq!(t, versions(&middle), vec![4, 5, 6], "versions 4..=6");
    let tail = store.read_stream(&id, Version(9), 100).await?;
    ensure_eq!(t, versions(&tail), vec![9, 10], "the tail from version 9");
    ensure!(
        t,
        store.read_stream(&id, Version(11), 100).await?.is_empty(),
        "reading past the end"
    );
    ensure!(
        t,
        store.read_stream(&id, Version(1), 0).await?.is_empty(),
        "reading 0 events"
    );
    let mut paged = Vec::new();
    let mut from = Version(1);
    loop {
        let page = store.read_stream(&id, from, 3).await?;
        let Some(last) = page.last() else { break };
        from = last.stream_version.next();
        paged.extend(page);
    }
    ensure_eq!(t, paged, from_one, "pages of 3 joined");
    Ok(())
}

async fn read_all_pages<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    for (i, name) in ["contract-a", "contract-b", "contract-c"]
        .into_iter()
        .enumerate()
    {
        let len = u64::try_from(i).unwrap_or(0) + 3;
        store
            .append(
                &stream(name)?,
                ExpectedVersion::Any,
                batch("contract.happened", 0, len),
            )
            .await?;
    }
    let all = store.read_all(Position::START, 1_000).await?;
    ensure_eq!(t, all.len(), 12, "events in the log");
    for size in [1, 2, 5, 7] {
        let mut paged: Vec<RecordedEvent> = Vec::new();
        let mut after = Position::START;
        loop {
            let page = store.read_all(after, size).await?;
            ensure!(
                t,
                page.len() <= size,
                "a page of at most {size}: {}",
                page.len()
            );
            let Some(last) = page.last() else { break };
            after = last.position;
            paged.extend(page);
        }
        ensure_eq!(t, paged, all, "pages of {size} joined");
    }
    let middle = nth(&all, 5)?.position;
    let rest = store.read_all(middle, 1_000).await?;
    ensure_eq!(
        t,
        rest,
        all.get(6..).unwrap_or(&[]).to_vec(),
        "the events after position {middle}"
    );
    let last = nth(&all, 11)?.position;
    ensure!(
        t,
        store.read_all(last, 10).await?.is_empty(),
        "nothing after the last position"
    );
    Ok(())
}

async fn reads_are_repeatable<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 5))
        .await?;
    let first = (
        store.read_stream(&id, Version(1), 100).await?,
        whole_log(store).await?,
    );
    store
        .append(
            &stream("contract-b")?,
            ExpectedVersion::Any,
            batch("contract.other", 0, 2),
        )
        .await?;
    let again = store.read_stream(&id, Version(1), 100).await?;
    ensure_eq!(
        t,
        again,
        first.0,
        "the stream read again after other appends"
    );
    let log = whole_log(store).await?;
    ensure_eq!(
        t,
        log.get(..first.1.len()).unwrap_or(&log).to_vec(),
        first.1,
        "the log's prefix read again"
    );
    Ok(())
}

async fn visit_stream_matches_read_stream<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 8))
        .await?;
    let read = store.read_stream(&id, Version(3), 4).await?;
    let mut seen = Vec::new();
    let visited = store
        .visit_stream(&id, Version(3), 4, |event| {
            seen.push(event.clone());
            ControlFlow::Continue(())
        })
        .await?;
    ensure_eq!(t, visited, 4, "events visited");
    ensure_eq!(t, seen, read, "visited events");
    let mut seen = Vec::new();
    let visited = store
        .visit_stream(&id, Version(1), 100, |event| {
            seen.push(event.stream_version.0);
            if event.stream_version == Version(2) {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .await?;
    ensure_eq!(
        t,
        (visited, seen),
        (2, vec![1, 2]),
        "visiting stops at the break"
    );
    Ok(())
}

async fn repeated_command_id_is_a_duplicate<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    let command = Uuid::now_v7();
    let first = store
        .append(
            &id,
            ExpectedVersion::NoStream,
            with_command(batch("contract.happened", 0, 2), command),
        )
        .await?;
    let before = whole_log(store).await?;
    // A retried request: checked before the expected version, so even a stale expectation
    // gets the first outcome back.
    for expected in [
        ExpectedVersion::NoStream,
        ExpectedVersion::Any,
        ExpectedVersion::Exact(Version(2)),
    ] {
        let again = store
            .append(
                &id,
                expected,
                with_command(batch("contract.happened", 5, 3), command),
            )
            .await?;
        ensure_eq!(
            t,
            again,
            first.as_duplicate(),
            "the repeated append with {expected}"
        );
    }
    ensure_eq!(
        t,
        whole_log(store).await?,
        before,
        "the log after repeated commands"
    );
    let found = store.find_command(&id, command).await?;
    ensure_eq!(t, found, Some(first.as_duplicate()), "find_command");
    let other = store
        .append(
            &id,
            ExpectedVersion::Exact(Version(2)),
            with_command(batch("contract.happened", 9, 1), Uuid::now_v7()),
        )
        .await?;
    ensure!(t, !other.duplicate, "another command id is appended");
    ensure_eq!(
        t,
        other.stream_version,
        Version(3),
        "version after another command"
    );
    ensure!(
        t,
        store.find_command(&id, Uuid::now_v7()).await?.is_none(),
        "an unknown command id is not found"
    );
    Ok(())
}

async fn command_ids_are_per_stream<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let (a, b) = (stream("contract-a")?, stream("contract-b")?);
    let command = Uuid::now_v7();
    store
        .append(
            &a,
            ExpectedVersion::Any,
            with_command(batch("contract.happened", 0, 1), command),
        )
        .await?;
    let on_b = store
        .append(
            &b,
            ExpectedVersion::Any,
            with_command(batch("contract.happened", 1, 1), command),
        )
        .await?;
    ensure!(
        t,
        !on_b.duplicate,
        "the same command id on another stream is appended"
    );
    ensure_eq!(
        t,
        store.stream_version(&b).await?,
        Version(1),
        "the other stream's version"
    );
    Ok(())
}

async fn subscription_catches_up_then_follows<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 5))
        .await?;
    let mut subscription = store.subscribe(Position::START).with_batch_size(2);
    let mut delivered = Vec::new();
    while let Some(event) = subscription.try_next().await? {
        delivered.push(event);
    }
    ensure_eq!(
        t,
        delivered.len(),
        5,
        "stored events delivered before catching up"
    );
    let live = batch("contract.live", 5, 3);
    let waiting = async {
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(subscription.next().await?);
        }
        Ok(got)
    };
    let writing = async {
        YieldNow(false).await;
        store
            .append(&id, ExpectedVersion::Any, live)
            .await
            .map(|_| Vec::new())
    };
    let both = join_all::<Result<Vec<RecordedEvent>, StoreError>>(vec![
        Box::pin(waiting),
        Box::pin(writing),
    ]);
    let mut live_read = Vec::new();
    for result in within("live events", both).await? {
        live_read.extend(result?);
    }
    delivered.extend(live_read);
    ensure_eq!(
        t,
        delivered,
        whole_log(store).await?,
        "delivered = the log, once, in order"
    );
    Ok(())
}

async fn subscription_from_a_position<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 6))
        .await?;
    let log = whole_log(store).await?;
    let mut subscription = store.subscribe(nth(&log, 2)?.position);
    let mut delivered = Vec::new();
    while let Some(event) = subscription.try_next().await? {
        delivered.push(event);
    }
    ensure_eq!(
        t,
        delivered,
        log.get(3..).unwrap_or(&[]).to_vec(),
        "the events after the third"
    );
    ensure_eq!(
        t,
        subscription.position(),
        nth(&log, 5)?.position,
        "the subscription's position"
    );
    Ok(())
}

async fn subscription_with_concurrent_writers<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    const WRITERS: u64 = 4;
    const APPENDS: u64 = 25;
    let total = usize::try_from(WRITERS * APPENDS * 2).unwrap_or(usize::MAX);
    let mut subscription = store.subscribe(Position::START).with_batch_size(7);
    let finished = AtomicU64::new(0);
    let finished = &finished;
    let mut tasks: Vec<BoxFuture<'_, Result<Vec<RecordedEvent>, StoreError>>> = Vec::new();
    tasks.push(Box::pin(async move {
        // Reads while the writers write; once all are done (checked before the read, so
        // their appends are visible to it), a caught-up read means the end.
        let mut got = Vec::new();
        loop {
            let done = finished.load(Ordering::SeqCst) == WRITERS;
            match subscription.try_next().await? {
                Some(event) => got.push(event),
                None if done => return Ok(got),
                None => YieldNow(false).await,
            }
        }
    }));
    for writer in 0..WRITERS {
        tasks.push(Box::pin(async move {
            let id = StreamId::new(format!("contract-writer-{writer}"))
                .map_err(StoreError::InvalidStreamId)?;
            for n in 0..APPENDS {
                store
                    .append(&id, ExpectedVersion::Any, batch("contract.live", n * 2, 2))
                    .await?;
                YieldNow(false).await;
            }
            finished.fetch_add(1, Ordering::SeqCst);
            Ok(Vec::new())
        }));
    }
    let results = within(
        "the subscriber to see every concurrent append",
        join_all(tasks),
    )
    .await?;
    let mut results = results.into_iter();
    let delivered = match results.next() {
        Some(Ok(events)) => events,
        Some(Err(error)) => return Err(Failure(format!("the subscriber failed: {error}"))),
        None => Vec::new(),
    };
    for result in results {
        if let Err(error) = result {
            return Err(Failure(format!("a writer failed: {error}")));
        }
    }
    let log = whole_log(store).await?;
    ensure_eq!(t, log.len(), total, "events in the log");
    ensure_eq!(
        t,
        positions(&delivered),
        positions(&log),
        "delivered positions"
    );
    ensure_eq!(t, delivered, log, "delivered = the log, once, in order");
    let unique: HashSet<EventId> = delivered.iter().map(|event| event.event_id).collect();
    ensure_eq!(t, unique.len(), total, "distinct events delivered");
    Ok(())
}

async fn wait_for_events_sees_stored_events<S: EventStore>(store: &S, t: &mut Tally) -> Checked {
    let id = stream("contract-a")?;
    store
        .append(&id, ExpectedVersion::Any, batch("contract.happened", 0, 3))
        .await?;
    let log = whole_log(store).await?;
    ensure_eq!(t, log.len(), 3, "events in the log");
    within("wait_for_events on a log with events after START", async {
        store.wait_for_events(Position::START).await
    })
    .await??;
    let second = nth(&log, 1)?.position;
    within("wait_for_events after the second event", async {
        store.wait_for_events(second).await
    })
    .await??;
    t.0 += 2;
    let last = nth(&log, 2)?.position;
    let woken = join_all::<Result<(), StoreError>>(vec![
        Box::pin(async { store.wait_for_events(last).await }),
        Box::pin(async {
            YieldNow(false).await;
            store
                .append(&id, ExpectedVersion::Any, batch("contract.happened", 3, 1))
                .await
                .map(|_| ())
        }),
    ]);
    for result in within("wait_for_events to see a new append", woken).await? {
        result?;
    }
    t.0 += 1;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SnapshotStore checks

fn snapshot(id: &StreamId, version: u64, payload: &'static str) -> Snapshot {
    Snapshot::new(
        id.clone(),
        Version(version),
        1,
        Bytes::from_static(payload.as_bytes()),
    )
}

/// The parts of a snapshot a store must keep exactly (`taken_at` may lose precision).
fn kept(snapshot: Option<&Snapshot>) -> Option<(StreamId, Version, u32, Bytes)> {
    snapshot.map(|s| {
        (
            s.stream_id.clone(),
            s.version,
            s.schema_version,
            s.payload.clone(),
        )
    })
}

async fn snapshots_round_trip<S: SnapshotStore>(store: &S, t: &mut Tally) -> Checked {
    let (a, b) = (stream("contract-a")?, stream("contract-b")?);
    ensure!(
        t,
        store.load_snapshot(&a).await?.is_none(),
        "no snapshot at first"
    );
    let first = snapshot(&a, 10, "{\"state\":10}");
    store.save_snapshot(first.clone()).await?;
    let loaded = store.load_snapshot(&a).await?;
    ensure_eq!(
        t,
        kept(loaded.as_ref()),
        kept(Some(&first)),
        "the saved snapshot"
    );
    let newer = Snapshot::new(a.clone(), Version(20), 3, Bytes::from_static(&[0xff, 0x01]));
    store.save_snapshot(newer.clone()).await?;
    let loaded = store.load_snapshot(&a).await?;
    ensure_eq!(
        t,
        kept(loaded.as_ref()),
        kept(Some(&newer)),
        "the newer snapshot"
    );
    ensure!(
        t,
        store.load_snapshot(&b).await?.is_none(),
        "another stream has none"
    );
    Ok(())
}

async fn older_snapshot_never_replaces_newer<S: SnapshotStore>(
    store: &S,
    t: &mut Tally,
) -> Checked {
    let id = stream("contract-a")?;
    let newer = snapshot(&id, 20, "{\"state\":20}");
    store.save_snapshot(newer.clone()).await?;
    store
        .save_snapshot(snapshot(&id, 10, "{\"state\":10}"))
        .await?;
    let loaded = store.load_snapshot(&id).await?;
    ensure_eq!(
        t,
        kept(loaded.as_ref()),
        kept(Some(&newer)),
        "after saving an older one"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// CheckpointStore checks

async fn checkpoints_round_trip<S: CheckpointStore>(store: &S, t: &mut Tally) -> Checked {
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        None,
        "no checkpoint at first"
    );
    store.save_checkpoint("directory", Position(5)).await?;
    store.save_checkpoint("totals", Position(9)).await?;
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        Some(Position(5)),
        "the saved checkpoint"
    );
    store.save_checkpoint("directory", Position(12)).await?;
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        Some(Position(12)),
        "the replaced checkpoint"
    );
    store.delete_checkpoint("directory").await?;
    ensure_eq!(
        t,
        store.load_checkpoint("directory").await?,
        None,
        "after delete"
    );
    ensure_eq!(
        t,
        store.load_checkpoint("totals").await?,
        Some(Position(9)),
        "another projection's checkpoint"
    );
    store.delete_checkpoint("nobody").await?;
    ensure_eq!(
        t,
        store.load_checkpoint("nobody").await?,
        None,
        "deleting a missing one"
    );
    Ok(())
}
