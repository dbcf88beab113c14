//! The hot aggregate: [`WRITERS`] writers make [`PER_WRITER`] commands each on one aggregate,
//! concurrently, each through a repository of its own (so with a cache of its own, stale
//! whenever another writer appended), on the in-memory store and on PostgreSQL.
//!
//! Under the default retry policy ([`RetryPolicy::CONFLICTS`]) this ordinary contention
//! never reaches the caller: every command succeeds, and the stream holds exactly their
//! events. A policy of one attempt surfaces the conflicts as typed errors that name the
//! stream, the attempts and the versions; a custom policy bounds the attempts.
//!
//! Sizes scale with `ES_TEST_SCALE` (see `es_tests::scaled`). Without PostgreSQL binaries
//! and without `DATABASE_URL` the PostgreSQL tests are skipped with one line saying so.

use std::collections::BTreeMap;
use std::sync::Arc;

use es_core::prelude::*;
use es_core::{Executed, RetryPolicy};
use es_memstore::MemStore;
use es_postgres::testing;
use es_tests::{pg_store, scaled};
use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;

/// Concurrent writers, each with its own repository.
const WRITERS: u32 = 8;

/// Commands per writer, before `ES_TEST_SCALE`.
const PER_WRITER: usize = 200;

/// How many tests of this binary need PostgreSQL (for the skip notice).
const PG_TESTS: usize = 3;

/// The one aggregate everybody writes to.
const HOT: u32 = 1;

#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "tally.counted")]
struct Counted {
    writer: u32,
    seq: u32,
}

#[derive(Command, Debug)]
struct Count {
    #[id]
    tally: u32,
    writer: u32,
    seq: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("a tally refuses nothing")]
struct Refused;

/// How many events each writer has counted on this tally.
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "tally", id = u32, error = Refused, events(Counted), commands(Count))]
struct Tally {
    by_writer: BTreeMap<u32, u32>,
}

impl Apply<Counted> for Tally {
    fn apply(&mut self, e: &Counted) {
        *self.by_writer.entry(e.writer).or_default() += 1;
    }
}

impl Handle<Count> for Tally {
    fn handle(&self, cmd: &Count) -> Result<Vec<TallyEvent>, Refused> {
        Ok(vec![
            Counted {
                writer: cmd.writer,
                seq: cmd.seq,
            }
            .into(),
        ])
    }
}

/// What one command of the race returned, with who sent it.
struct Outcome {
    writer: u32,
    seq: u32,
    result: Result<Executed<Tally>, ExecuteError<Refused>>,
}

/// The race: one task per writer, each with a repository of its own on a clone of `store`
/// under `policy` (the default when `None`), released together, each making `per_writer`
/// commands on the [`HOT`] tally one after the other. Returns every outcome.
async fn race<S: EventStore>(
    store: &S,
    policy: Option<RetryPolicy>,
    per_writer: usize,
) -> Vec<Outcome> {
    let start = Arc::new(Barrier::new(WRITERS as usize));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let mut tallies = Repository::<Tally, _>::new(store.clone());
            if let Some(policy) = policy {
                tallies = tallies.with_retry(policy);
            }
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                start.wait().await;
                let mut outcomes = Vec::with_capacity(per_writer);
                for seq in 0..u32::try_from(per_writer).expect("a small count") {
                    let command = Count {
                        tally: HOT,
                        writer,
                        seq,
                    };
                    let result = tallies.execute(command).await;
                    outcomes.push(Outcome {
                        writer,
                        seq,
                        result,
                    });
                    // Let the other writers in between two commands, as a writer with
                    // anything else to do would: their appends make this writer's cache
                    // stale, and its next command meets a conflict first.
                    tokio::task::yield_now().await;
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.expect("a writer finished"));
    }
    outcomes
}

/// What a race came to, once checked.
#[derive(Debug, Default)]
struct Tallied {
    /// Commands that succeeded.
    ok: usize,
    /// Of them, those decided more than once.
    retried: usize,
    /// The most attempts one command reported.
    max_attempts: u32,
    /// Commands that failed with [`ExecuteError::Conflict`].
    conflicts: usize,
    /// The first conflict's message.
    first_conflict: Option<String>,
}

/// Checks a race of `per_writer` commands per writer under `policy`: every command either
/// succeeded within the policy's attempts or failed with a conflict after all of them that
/// names the stream, the attempts and the versions; the stream holds exactly the events of
/// the successes, at versions 1..=N, each at the version its command was told; the
/// aggregate loads with every success counted once.
async fn check_race<S: EventStore>(
    store: &S,
    outcomes: &[Outcome],
    per_writer: usize,
    policy: RetryPolicy,
) -> Tallied {
    assert_eq!(
        outcomes.len(),
        WRITERS as usize * per_writer,
        "one outcome per command"
    );
    let tallies = Repository::<Tally, _>::new(store.clone());
    let stream = tallies.stream_id(&HOT).expect("a valid stream id");
    let stored = store
        .read_stream(&stream, Version(1), usize::MAX)
        .await
        .expect("the stream reads");
    let head = Version(stored.len() as u64);

    let mut tallied = Tallied::default();
    let mut told = BTreeMap::new();
    let mut by_writer = BTreeMap::new();
    for outcome in outcomes {
        let error = match &outcome.result {
            Ok(done) => {
                assert!(
                    (1..=policy.max_attempts()).contains(&done.attempts),
                    "{} attempts under a policy of {}",
                    done.attempts,
                    policy.max_attempts()
                );
                assert!(!done.duplicate, "execute draws a fresh command id");
                assert_eq!(done.events.len(), 1, "one event per command");
                tallied.ok += 1;
                tallied.retried += usize::from(done.attempts > 1);
                tallied.max_attempts = tallied.max_attempts.max(done.attempts);
                *by_writer.entry(outcome.writer).or_insert(0) += 1;
                let earlier = told.insert(done.stream_version, (outcome.writer, outcome.seq));
                assert!(
                    earlier.is_none(),
                    "version {} told twice",
                    done.stream_version
                );
                continue;
            }
            Err(error) => error,
        };
        let ExecuteError::Conflict {
            stream_id,
            attempts,
            expected,
            actual,
        } = error
        else {
            panic!("only conflicts may fail, got {error:?}");
        };
        assert_eq!(stream_id, &stream);
        assert_eq!(*attempts, policy.max_attempts(), "every attempt was made");
        assert!(
            expected < actual && *actual <= head,
            "loaded at {expected}, refused at {actual}, the stream ends at {head}"
        );
        let message = error.to_string();
        for part in [
            format!("stream {stream}"),
            format!("{attempts} attempt"),
            format!("version {expected}"),
            format!("version {actual}"),
        ] {
            assert!(message.contains(&part), "{message:?} does not say {part:?}");
        }
        tallied.conflicts += 1;
        tallied.first_conflict.get_or_insert(message);
    }

    // The stream holds exactly the successes' events, versions 1..=N, each at the version
    // its command was told; a conflict stored nothing.
    let versions: Vec<u64> = stored.iter().map(|e| e.stream_version.0).collect();
    let expected: Vec<u64> = (1..=tallied.ok as u64).collect();
    assert_eq!(
        versions, expected,
        "one event per success, versions 1..=N, no gap"
    );
    for event in &stored {
        let TallyEvent::Counted(counted) =
            TallyEvent::decode(&es_core::JsonCodec, event).expect("the event decodes");
        assert_eq!(
            told.get(&event.stream_version),
            Some(&(counted.writer, counted.seq)),
            "version {} holds the event of the command told so",
            event.stream_version
        );
    }

    // The aggregate agrees: every success counted once, for its writer.
    let tally = tallies.load(&HOT).await.expect("the tally loads");
    assert_eq!(tally.version, head);
    assert_eq!(tally.state.by_writer, by_writer);
    tallied
}

/// The default policy, on `store`: no conflict reaches a caller, every command lands.
async fn default_policy_lets_no_conflict_through<S: EventStore>(store: S) {
    let per_writer = scaled(PER_WRITER);
    let outcomes = race(&store, None, per_writer).await;
    let tallied = check_race(&store, &outcomes, per_writer, RetryPolicy::CONFLICTS).await;
    assert_eq!(
        tallied.conflicts, 0,
        "conflicts reached callers under the default policy, the first: {:?}",
        tallied.first_conflict
    );
    assert_eq!(
        tallied.ok,
        WRITERS as usize * per_writer,
        "every command landed"
    );
}

/// One attempt, on `store`: the race's conflicts reach the callers, typed and named.
async fn one_attempt_surfaces_conflicts<S: EventStore>(store: S) {
    let per_writer = scaled(PER_WRITER);
    let outcomes = race(&store, Some(RetryPolicy::NEVER), per_writer).await;
    let tallied = check_race(&store, &outcomes, per_writer, RetryPolicy::NEVER).await;
    assert_eq!(tallied.retried, 0, "one attempt means no retry");
    assert!(
        tallied.conflicts > 0,
        "writers with stale caches met no conflict in {} commands",
        outcomes.len()
    );
}

/// A custom policy, on `store`: no command is decided more often than it allows, and the
/// race did make it retry.
async fn a_custom_policy_bounds_the_attempts<S: EventStore>(store: S) {
    let per_writer = scaled(PER_WRITER);
    let policy = RetryPolicy::CONFLICTS.with_max_attempts(3);
    let outcomes = race(&store, Some(policy), per_writer).await;
    let tallied = check_race(&store, &outcomes, per_writer, policy).await;
    assert!(tallied.max_attempts <= 3, "{tallied:?}");
    assert!(tallied.retried > 0, "no command needed a second attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memstore_default_policy_lets_no_conflict_through() {
    default_policy_lets_no_conflict_through(MemStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memstore_one_attempt_surfaces_conflicts() {
    one_attempt_surfaces_conflicts(MemStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memstore_a_custom_policy_bounds_the_attempts() {
    a_custom_policy_bounds_the_attempts(MemStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_default_policy_lets_no_conflict_through() {
    let Some(store) = pg_store(PG_TESTS).await else {
        return;
    };
    default_policy_lets_no_conflict_through(store.clone()).await;
    testing::drop_schema(&store).await.expect("drop schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_one_attempt_surfaces_conflicts() {
    let Some(store) = pg_store(PG_TESTS).await else {
        return;
    };
    one_attempt_surfaces_conflicts(store.clone()).await;
    testing::drop_schema(&store).await.expect("drop schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_a_custom_policy_bounds_the_attempts() {
    let Some(store) = pg_store(PG_TESTS).await else {
        return;
    };
    a_custom_policy_bounds_the_attempts(store.clone()).await;
    testing::drop_schema(&store).await.expect("drop schema");
}
