//! Property tests (proptest) on the example domains, bank and user. Commands are generated as
//! random sequences over small pools of ids and values, so that they meet the same aggregates
//! again and again and the domain sometimes refuses them (overdrafts, blank names, malformed
//! emails, acting on missing, closed or deleted aggregates, changes that change nothing).
//!
//! 1. Cached state = full replay = snapshot + tail (`*_cache_replay_and_snapshots_agree`): the
//!    sequence runs through one repository with its cache on (a small random capacity, so
//!    aggregates are evicted and reloaded) and snapshots every few events (random). Each
//!    command's outcome must be the decision of the pure aggregate folded from the events so
//!    far (same events, same typed `ExecuteError::Invalid`/`Domain` refusal, nothing written on
//!    a refusal), decided once, on exactly that state. Afterwards, for every aggregate touched,
//!    the cached repository's `load`, a fresh repository without snapshots (full replay) and a
//!    fresh one with snapshots (snapshot + tail) agree on state and version, and the latest
//!    snapshot is at the last multiple of the snapshot interval.
//! 2. `load_at(v)` = the fold, by hand, of the first `v` events read with `read_stream` and
//!    decoded with the event enum, for random `v` (past the end too), with and without
//!    snapshots (`*_load_at_is_the_fold_of_the_first_events`).
//! 3. Projections caught up at random points of a mixed bank + user sequence, with small
//!    batches, end in the read models of a fresh runner's single `catch_up` and of a `rebuild`,
//!    and these agree with the write side (`projections_caught_up_piecemeal_equal_a_rebuild`).
//! 4. Arbitrary values of every event type of both domains (and of the user domain's version 1
//!    shapes) round-trip through the codec, both from a hand-made `RecordedEvent` and through a
//!    `MemStore` (`events_round_trip_through_the_codec_and_the_store`).
//!
//! The examples' aggregates are not serde types, so snapshots are taken of `Snap`, a
//! test-only wrapper that delegates to the example aggregate and serializes the events it
//! was folded from.
//!
//! Cases per property are `es_tests::scaled(N)`: `ES_TEST_SCALE=10 cargo test -p es-tests
//! --test props` runs ten times as many. Failing cases are not persisted (no files are
//! written); proptest prints the minimal failing input.
// Test helpers outside `#[test]` fns fail loudly on unexpected errors, like the tests.
#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use es_core::codec::{Encoded, JsonCodec};
use es_core::event::{decode_as, encode_event};
use es_core::prelude::*;
use es_core::snapshot::{SnapshotStore, Snapshots};
use es_core::{EventDescriptor, EventId, Executed, Metadata, NewEvent, RecordedEvent};
use es_examples::bank::views::Balances;
use es_examples::bank::{
    Account, AccountClosed, AccountCommand, AccountEvent, AccountId, AccountOpened, Cents,
    CloseAccount, Deposit, MoneyDeposited, MoneyWithdrawn, OpenAccount, Withdraw,
};
use es_examples::user::views::{Entry, UserDirectory, UserStats};
use es_examples::user::{
    ChangeEmail, DeleteUser, EmailChanged, RegisterUser, RenameUser, User, UserCommand,
    UserCreated, UserCreatedV1, UserDeleted, UserEvent, UserId, UserRenamed, UserRenamedV1,
};
use es_memstore::MemStore;
use es_tests::scaled;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestCaseError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

type Checked<T = ()> = Result<T, TestCaseError>;

/// `cases` (times `ES_TEST_SCALE`) cases, nothing persisted.
fn config(cases: usize) -> ProptestConfig {
    ProptestConfig {
        cases: u32::try_from(scaled(cases)).unwrap_or(u32::MAX),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Runs `future` on a fresh current-thread runtime.
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// A stored event made by hand.
fn recorded(
    stream: &str,
    version: u64,
    name: &str,
    schema_version: u32,
    payload: Vec<u8>,
) -> RecordedEvent {
    RecordedEvent {
        stream_id: StreamId::new(stream).unwrap(),
        stream_version: Version(version),
        position: Position(version),
        event_id: EventId::new(),
        recorded_at: SystemTime::now(),
        name: Arc::from(name),
        schema_version,
        payload: payload.into(),
        metadata: Metadata::default(),
    }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap()
}

// ---- A snapshottable wrapper of the example aggregates ----------------------------------------

thread_local! {
    /// The states `Snap::handle_command` decided on, as (events folded, `Debug` of the state).
    static DECISIONS: RefCell<Vec<(u64, String)>> = const { RefCell::new(Vec::new()) };
}

fn take_decisions() -> Vec<(u64, String)> {
    DECISIONS.with_borrow_mut(std::mem::take)
}

/// The example aggregate `A` with a serde form, so a repository can snapshot it: the same name,
/// ids, events, commands and decisions. It serializes the events it was folded from (encoded
/// as stored) and deserializes by folding them again, marking itself `restored`; it records
/// the state each command is decided on in [`DECISIONS`].
#[derive(Debug)]
struct Snap<A: Aggregate> {
    state: A,
    history: Vec<A::Event>,
    restored: bool,
}

impl<A: Aggregate> Default for Snap<A> {
    fn default() -> Self {
        Self {
            state: A::default(),
            history: Vec::new(),
            restored: false,
        }
    }
}

impl<A: Aggregate<Event: Clone>> Aggregate for Snap<A> {
    const NAME: &'static str = A::NAME;
    type Id = A::Id;
    type Event = A::Event;
    type Command = A::Command;
    type Error = A::Error;

    fn apply_event(&mut self, event: &A::Event) {
        self.state.apply_event(event);
        self.history.push(event.clone());
    }

    fn handle_command(&self, command: &A::Command) -> Result<Vec<A::Event>, A::Error> {
        let seen = (count(self.history.len()), format!("{:?}", self.state));
        DECISIONS.with_borrow_mut(|decisions| decisions.push(seen));
        self.state.handle_command(command)
    }
}

impl<A: Aggregate> Serialize for Snap<A> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error as _;
        let mut events = Vec::with_capacity(self.history.len());
        for event in &self.history {
            let encoded = event.encode(&JsonCodec).map_err(S::Error::custom)?;
            let payload: serde_json::Value =
                serde_json::from_slice(&encoded.payload).map_err(S::Error::custom)?;
            events.push((encoded.name, encoded.version, payload));
        }
        events.serialize(serializer)
    }
}

impl<'de, A: Aggregate<Event: Clone>> Deserialize<'de> for Snap<A> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        let events = Vec::<(String, u32, serde_json::Value)>::deserialize(deserializer)?;
        let mut snap = Self::default();
        for (version, (name, schema_version, payload)) in (1..).zip(events) {
            let payload = serde_json::to_vec(&payload).map_err(D::Error::custom)?;
            let stored = recorded("snapshot", version, &name, schema_version, payload);
            let event = A::Event::decode(&JsonCodec, &stored).map_err(D::Error::custom)?;
            snap.apply_event(&event);
        }
        snap.restored = true;
        Ok(snap)
    }
}

// ---- The domains: operations that become commands ---------------------------------------------

/// An example aggregate with the operations the properties generate for it.
trait Domain: Aggregate<Id: Ord, Event: Clone + PartialEq, Error: PartialEq> {
    /// A command to be, before the current state is known.
    type Op: Debug + Clone;

    /// The aggregate an operation targets.
    fn target(op: &Self::Op) -> Self::Id;

    /// The command of `op` on the aggregate in state `current`.
    fn command(op: &Self::Op, current: &Self) -> Self::Command;

    /// Whether two states are the same (`PartialEq` where the aggregate has it).
    fn same(a: &Self, b: &Self) -> bool;
}

static ACCOUNTS: [u32; 3] = [1, 2, 3];
static OWNERS: [&str; 4] = ["Alice", "  Bob  ", "Zoë", "O'Brien \"\\\""];
static BLANK: [&str; 3] = ["", "   ", "\t"];

/// Mostly one of `good`, sometimes one of `bad`.
fn mostly(
    good: &'static [&'static str],
    bad: &'static [&'static str],
) -> impl Strategy<Value = &'static str> {
    prop_oneof![5 => select(good), 1 => select(bad)]
}

#[derive(Debug, Clone)]
enum BankOp {
    Open {
        account: u32,
        owner: &'static str,
    },
    Deposit {
        account: u32,
        amount: Cents,
    },
    Withdraw {
        account: u32,
        amount: Cents,
    },
    /// Withdraw the whole balance (so accounts can be closed); refused when it is zero.
    WithdrawAll {
        account: u32,
    },
    Close {
        account: u32,
    },
}

/// Mostly valid amounts, sometimes zero or negative.
fn amount() -> impl Strategy<Value = Cents> {
    prop_oneof![4 => 1..=40_i64, 1 => -3..=0_i64]
}

fn bank_op() -> impl Strategy<Value = BankOp> {
    let account = || select(&ACCOUNTS[..]);
    prop_oneof![
        3 => (account(), mostly(&OWNERS, &BLANK))
            .prop_map(|(account, owner)| BankOp::Open { account, owner }),
        4 => (account(), amount()).prop_map(|(account, amount)| BankOp::Deposit { account, amount }),
        3 => (account(), amount())
            .prop_map(|(account, amount)| BankOp::Withdraw { account, amount }),
        1 => account().prop_map(|account| BankOp::WithdrawAll { account }),
        1 => account().prop_map(|account| BankOp::Close { account }),
    ]
}

impl Domain for Account {
    type Op = BankOp;

    fn target(op: &BankOp) -> AccountId {
        match *op {
            BankOp::Open { account, .. }
            | BankOp::Deposit { account, .. }
            | BankOp::Withdraw { account, .. }
            | BankOp::WithdrawAll { account }
            | BankOp::Close { account } => AccountId(account),
        }
    }

    fn command(op: &BankOp, current: &Account) -> AccountCommand {
        let account = Self::target(op);
        match *op {
            BankOp::Open { owner, .. } => OpenAccount {
                account,
                owner: owner.to_owned(),
            }
            .into(),
            BankOp::Deposit { amount, .. } => Deposit { account, amount }.into(),
            BankOp::Withdraw { amount, .. } => Withdraw { account, amount }.into(),
            BankOp::WithdrawAll { .. } => Withdraw {
                account,
                amount: current.balance(),
            }
            .into(),
            BankOp::Close { .. } => CloseAccount { account }.into(),
        }
    }

    fn same(a: &Self, b: &Self) -> bool {
        a == b
    }
}

static USERS: [&str; 3] = ["ada", "bob", "zoë-ñ"];
static FIRST_NAMES: [&str; 4] = ["Ada", "  Grace ", "Augusta Ada", "Zoë"];
static LAST_NAMES: [&str; 4] = ["", "Lovelace", "  King  ", "de la Tour"];
static EMAILS: [&str; 3] = ["ada@example.com", "grace@navy.mil", "x@y.z"];
static BAD_EMAILS: [&str; 4] = ["nope", "a b@c.de", "@example.com", ""];

#[derive(Debug, Clone)]
enum UserOp {
    Register {
        user: &'static str,
        first: &'static str,
        last: &'static str,
        email: &'static str,
    },
    ChangeEmail {
        user: &'static str,
        email: &'static str,
    },
    Rename {
        user: &'static str,
        first: &'static str,
        last: &'static str,
    },
    Delete {
        user: &'static str,
    },
}

fn user_op() -> impl Strategy<Value = UserOp> {
    let user = || select(&USERS[..]);
    let first = || mostly(&FIRST_NAMES, &BLANK);
    let last = || select(&LAST_NAMES[..]);
    let email = || mostly(&EMAILS, &BAD_EMAILS);
    prop_oneof![
        3 => (user(), first(), last(), email()).prop_map(|(user, first, last, email)| {
            UserOp::Register { user, first, last, email }
        }),
        3 => (user(), email()).prop_map(|(user, email)| UserOp::ChangeEmail { user, email }),
        2 => (user(), first(), last())
            .prop_map(|(user, first, last)| UserOp::Rename { user, first, last }),
        1 => user().prop_map(|user| UserOp::Delete { user }),
    ]
}

impl Domain for User {
    type Op = UserOp;

    fn target(op: &UserOp) -> UserId {
        match *op {
            UserOp::Register { user, .. }
            | UserOp::ChangeEmail { user, .. }
            | UserOp::Rename { user, .. }
            | UserOp::Delete { user } => UserId::new(user),
        }
    }

    fn command(op: &UserOp, _: &User) -> UserCommand {
        let user_id = Self::target(op);
        match *op {
            UserOp::Register {
                first, last, email, ..
            } => RegisterUser {
                user_id,
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                email: email.to_owned(),
            }
            .into(),
            UserOp::ChangeEmail { email, .. } => ChangeEmail {
                user_id,
                email: email.to_owned(),
            }
            .into(),
            UserOp::Rename { first, last, .. } => RenameUser {
                user_id,
                first_name: first.to_owned(),
                last_name: last.to_owned(),
            }
            .into(),
            UserOp::Delete { .. } => DeleteUser { user_id }.into(),
        }
    }

    /// `User` has no `PartialEq`: its `Debug` form shows every field.
    fn same(a: &Self, b: &Self) -> bool {
        format!("{a:?}") == format!("{b:?}")
    }
}

// ---- 1 and 2: one repository, cached and snapshotting; loads compared --------------------------

type Snapshotting<D> = Repository<Snap<D>, MemStore, Snapshots<MemStore>>;

/// A sequence run through a cached, snapshotting repository.
struct Run<D: Domain> {
    store: MemStore,
    repo: Snapshotting<D>,
    /// Each commanded aggregate's state (the fold of the events its commands produced) and
    /// version.
    model: BTreeMap<D::Id, (D, Version)>,
}

/// Runs `ops` through a repository with a cache of `capacity` aggregates and a snapshot every
/// `every` events, checking each outcome against the decision of the pure aggregate.
async fn run_commands<D: Domain>(ops: &[D::Op], every: u64, capacity: usize) -> Checked<Run<D>> {
    let store = MemStore::new();
    let repo = Repository::<Snap<D>, _>::new(store.clone())
        .with_cache_capacity(capacity)
        .with_snapshots(store.clone())
        .with_snapshot_every(every);
    let mut model = BTreeMap::new();
    take_decisions();
    for op in ops {
        let (state, version) = model
            .entry(D::target(op))
            .or_insert_with(|| (D::default(), Version::EMPTY));
        let command = D::command(op, state);
        let expected = command.validate().map(|()| state.handle_command(&command));
        let seen = (version.0, format!("{state:?}"));
        let before = store.len();
        let outcome = repo.execute(command).await;
        let decisions = take_decisions();
        match (expected, outcome) {
            (Err(errors), Err(ExecuteError::Invalid { errors: got, .. })) => {
                prop_assert_eq!(got, errors, "{:?}", op);
                prop_assert!(
                    decisions.is_empty(),
                    "{op:?}: an invalid command was decided"
                );
                prop_assert_eq!(store.len(), before, "{:?}: an invalid command wrote", op);
                continue;
            }
            (Ok(Err(error)), Err(ExecuteError::Domain(got))) => {
                prop_assert_eq!(got, error, "{:?}", op);
                prop_assert_eq!(store.len(), before, "{:?}: a refused command wrote", op);
            }
            (Ok(Ok(events)), Ok(done)) => {
                prop_assert_eq!(&done.events, &events, "{:?}", op);
                prop_assert!(!done.duplicate && done.attempts == 1, "{op:?}: {done:?}");
                prop_assert_eq!(done.last_position.is_some(), !events.is_empty());
                prop_assert_eq!(store.len(), before + events.len(), "{:?}", op);
                for event in &events {
                    state.apply_event(event);
                }
                version.0 += count(events.len());
                prop_assert_eq!(done.stream_version, *version, "{:?}", op);
            }
            (expected, outcome) => {
                prop_assert!(false, "{op:?}: expected {expected:?}, got {outcome:?}");
            }
        }
        // Decided once (no other writer: no retry), on the state of all its events so far,
        // whether it came from the cache, a snapshot or a replay.
        prop_assert_eq!(decisions, vec![seen], "{:?}", op);
    }
    Ok(Run { store, repo, model })
}

/// The events of `stream`, read and decoded; their versions must be 1, 2, 3, ...
async fn stream_events<D: Domain>(store: &MemStore, stream: &StreamId) -> Checked<Vec<D::Event>> {
    let stored = store
        .read_stream(stream, Version(1), usize::MAX)
        .await
        .unwrap();
    let mut events = Vec::with_capacity(stored.len());
    for (version, event) in (1..).zip(&stored) {
        prop_assert_eq!(event.stream_version, Version(version));
        events.push(D::Event::decode(&JsonCodec, event).unwrap());
    }
    Ok(events)
}

/// Property 1: the cached repository, a full replay and snapshot + tail agree.
async fn cache_replay_and_snapshots_agree<D: Domain>(
    ops: &[D::Op],
    every: u64,
    capacity: usize,
) -> Checked {
    let run = run_commands::<D>(ops, every, capacity).await?;
    let store = &run.store;
    let replay = Repository::<D, _>::new(store.clone());
    let resume = Repository::<Snap<D>, _>::new(store.clone()).with_snapshots(store.clone());
    for (id, (model, version)) in &run.model {
        let stream = replay.stream_id(id).unwrap();
        // One event per successful command: the latest snapshot is at the last multiple.
        let expected_snapshot = (version.0 >= every).then(|| Version(version.0 / every * every));
        let snapshot = store.load_snapshot(&stream).await.unwrap();
        prop_assert_eq!(snapshot.map(|s| s.version), expected_snapshot, "{}", stream);

        let replayed = replay.load(id).await.unwrap();
        prop_assert_eq!(replayed.version, *version, "{} replayed", stream);
        prop_assert!(
            D::same(&replayed.state, model),
            "{stream} replayed: {:?}, commands saw {model:?}",
            replayed.state
        );
        let events = stream_events::<D>(store, &stream).await?;
        for (path, loaded) in [
            ("cached repository", run.repo.load(id).await.unwrap()),
            ("snapshot + tail", resume.load(id).await.unwrap()),
        ] {
            prop_assert_eq!(loaded.version, *version, "{} {}", stream, path);
            prop_assert!(
                D::same(&loaded.state.state, model),
                "{stream} {path}: {:?}, commands saw {model:?}",
                loaded.state.state
            );
            prop_assert_eq!(&loaded.state.history, &events, "{} {}", stream, path);
            prop_assert_eq!(
                loaded.state.restored,
                expected_snapshot.is_some(),
                "{} {}: snapshot used",
                stream,
                path
            );
        }
    }
    Ok(())
}

/// Property 2: `load_at(v)` is the fold of the first `v` events, with and without snapshots.
async fn load_at_is_the_fold<D: Domain>(ops: &[D::Op], every: u64, picks: &[Index]) -> Checked {
    let run = run_commands::<D>(ops, every, 8).await?;
    let store = &run.store;
    let plain = Repository::<D, _>::new(store.clone());
    let resume = Repository::<Snap<D>, _>::new(store.clone()).with_snapshots(store.clone());
    for (id, (_, version)) in &run.model {
        let stream = plain.stream_id(id).unwrap();
        let events = stream_events::<D>(store, &stream).await?;
        prop_assert_eq!(count(events.len()), version.0);
        let snapshot = store
            .load_snapshot(&stream)
            .await
            .unwrap()
            .map(|s| s.version);
        for pick in picks {
            // 0..=version, and up to 2 past the end.
            let at = pick.index(events.len() + 3);
            let reached = at.min(events.len());
            let mut fold = D::default();
            for event in &events[..reached] {
                fold.apply_event(event);
            }
            let reached_version = Version(count(reached));
            let asked = Version(count(at));

            let loaded = plain.load_at(id, asked).await.unwrap();
            prop_assert_eq!(loaded.version, reached_version, "{} at {}", stream, at);
            prop_assert!(
                D::same(&loaded.state, &fold),
                "{stream} at {at}: {:?}, fold {fold:?}",
                loaded.state
            );

            let resumed = resume.load_at(id, asked).await.unwrap();
            prop_assert_eq!(resumed.version, reached_version, "{} at {}", stream, at);
            prop_assert!(
                D::same(&resumed.state.state, &fold),
                "{stream} at {at} with snapshots: {:?}, fold {fold:?}",
                resumed.state.state
            );
            prop_assert_eq!(&resumed.state.history[..], &events[..reached]);
            // The snapshot is used exactly when it is not past the version asked for.
            prop_assert_eq!(
                resumed.state.restored,
                snapshot.is_some_and(|s| s <= asked),
                "{} at {}: snapshot {:?}",
                stream,
                at,
                snapshot
            );
        }
    }
    Ok(())
}

// ---- 3: projections ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Step {
    Bank(BankOp),
    User(UserOp),
    /// Every incremental runner catches up.
    CatchUp,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => bank_op().prop_map(Step::Bank),
        3 => user_op().prop_map(Step::User),
        1 => Just(Step::CatchUp),
    ]
}

/// The head of the log after `outcome`; anything but success or a typed refusal fails.
fn head_after<A: Aggregate>(
    outcome: Result<Executed<A>, ExecuteError<A::Error>>,
    head: Position,
) -> Checked<Position> {
    match outcome {
        Ok(done) => match done.last_position {
            Some(last) => {
                prop_assert!(last > head, "{done:?} after {head}");
                Ok(last)
            }
            None => Ok(head),
        },
        Err(ExecuteError::Invalid { .. } | ExecuteError::Domain(_)) => Ok(head),
        Err(other) => Err(TestCaseError::fail(format!("unexpected error: {other}"))),
    }
}

/// The three read models of the examples.
struct Views {
    balances: ProjectionRunner<InMemory<Balances>, MemStore>,
    directory: ProjectionRunner<InMemory<UserDirectory>, MemStore>,
    stats: ProjectionRunner<InMemory<UserStats>, MemStore>,
}

impl Views {
    fn new(store: &MemStore, batch: Option<usize>) -> Self {
        let batch = batch.unwrap_or(es_core::store::BATCH_SIZE);
        Self {
            balances: ProjectionRunner::new(store.clone(), Balances::default())
                .with_batch_size(batch),
            directory: ProjectionRunner::new(store.clone(), UserDirectory::default())
                .with_batch_size(batch),
            stats: ProjectionRunner::new(store.clone(), UserStats::default())
                .with_batch_size(batch),
        }
    }

    /// Catches every runner up; each must reach `head`.
    async fn catch_up(&self, head: Position) -> Checked {
        prop_assert_eq!(self.balances.catch_up().await.unwrap(), head);
        prop_assert_eq!(self.directory.catch_up().await.unwrap(), head);
        prop_assert_eq!(self.stats.catch_up().await.unwrap(), head);
        Ok(())
    }

    async fn rebuild(&self, head: Position) -> Checked {
        prop_assert_eq!(self.balances.rebuild().await.unwrap(), head);
        prop_assert_eq!(self.directory.rebuild().await.unwrap(), head);
        prop_assert_eq!(self.stats.rebuild().await.unwrap(), head);
        Ok(())
    }

    fn states(&self) -> (Balances, UserDirectory, UserStats) {
        (
            self.balances.read().clone(),
            self.directory.read().clone(),
            *self.stats.read(),
        )
    }
}

/// Property 3: incremental catch-ups = one catch-up = a rebuild = the write side's view.
async fn projections_agree(steps: &[Step], batch: usize) -> Checked {
    let store = MemStore::new();
    let accounts = Repository::<Account, _>::new(store.clone());
    let users = Repository::<User, _>::new(store.clone());
    let incremental = Views::new(&store, Some(batch));
    let mut head = Position::START;
    let mut touched_accounts = BTreeSet::new();
    let mut touched_users = BTreeSet::new();
    for step in steps {
        match step {
            Step::Bank(op) => {
                let id = Account::target(op);
                let current = accounts.load(&id).await.unwrap().state;
                let outcome = accounts.execute(Account::command(op, &current)).await;
                head = head_after(outcome, head)?;
                touched_accounts.insert(id);
            }
            Step::User(op) => {
                let id = User::target(op);
                let outcome = users.execute(User::command(op, &User::default())).await;
                head = head_after(outcome, head)?;
                touched_users.insert(id);
            }
            Step::CatchUp => incremental.catch_up(head).await?,
        }
    }
    incremental.catch_up(head).await?;
    let piecemeal = incremental.states();

    let fresh = Views::new(&store, None);
    fresh.catch_up(head).await?;
    let at_once = fresh.states();
    prop_assert_eq!(&piecemeal.0, &at_once.0, "balances");
    prop_assert_eq!(&piecemeal.1, &at_once.1, "user directory");
    prop_assert_eq!(&piecemeal.2, &at_once.2, "user stats");

    incremental.rebuild(head).await?;
    let rebuilt = incremental.states();
    prop_assert_eq!(&piecemeal.0, &rebuilt.0, "balances");
    prop_assert_eq!(&piecemeal.1, &rebuilt.1, "user directory");
    prop_assert_eq!(&piecemeal.2, &rebuilt.2, "user stats");

    // The write side's view of the same log.
    let mut balances = Balances::default();
    for id in &touched_accounts {
        let loaded = accounts.load(id).await.unwrap();
        let account = &loaded.state;
        balances.total += account.balance();
        if account.is_closed() {
            balances.closed += 1;
        } else if loaded.exists() {
            let entry = (account.owner().to_owned(), account.balance());
            balances.open.insert(*id, entry);
        }
    }
    prop_assert_eq!(&piecemeal.0, &balances, "balances against the accounts");

    let log = store.read_all(Position::START, usize::MAX).await.unwrap();
    let email_changes = log.iter().filter(|e| &*e.name == EmailChanged::NAME);
    let mut stats = UserStats {
        email_changes: count(email_changes.count()),
        ..UserStats::default()
    };
    let directory = &piecemeal.1;
    let mut live = 0;
    for id in &touched_users {
        let user = users.load(id).await.unwrap().state;
        stats.registered += u64::from(user.is_registered());
        stats.deleted += u64::from(user.is_deleted());
        let entry = (user.is_registered() && !user.is_deleted()).then(|| Entry {
            name: user.full_name(),
            email: user.email().to_owned(),
        });
        live += usize::from(entry.is_some());
        prop_assert_eq!(
            directory.get(id),
            entry.as_ref(),
            "directory entry of {}",
            id
        );
    }
    prop_assert_eq!(directory.len(), live);
    prop_assert_eq!(&piecemeal.2, &stats, "user stats against the users");
    // Every live user is found by their email, among the users that share it, and a lookup
    // never names a user without that email.
    for id in &touched_users {
        if let Some(entry) = directory.get(id) {
            prop_assert!(
                directory
                    .all_by_email(&entry.email)
                    .any(|found| found == id),
                "{} not found by {:?}",
                id,
                entry.email
            );
        }
    }
    for email in EMAILS.iter().chain(&BAD_EMAILS).copied() {
        for id in directory.all_by_email(email) {
            let entry = directory.get(id);
            prop_assert_eq!(entry.map(|e| e.email.as_str()), Some(email), "{}", id);
        }
        prop_assert_eq!(
            directory.find_by_email(email),
            directory.all_by_email(email).next()
        );
    }
    Ok(())
}

// ---- 4: codec round trips ---------------------------------------------------------------------

/// Any text: arbitrary chars, and some that need escaping.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => vec(any::<char>(), 0..16).prop_map(String::from_iter),
        1 => select(&["", " ", "\"", "\\", "\u{0}", "\u{7f}", "\u{feff}", "😀", "a\nb", "</>"][..])
            .prop_map(String::from),
    ]
}

fn account_event() -> impl Strategy<Value = AccountEvent> {
    prop_oneof![
        text().prop_map(|owner| AccountEvent::from(AccountOpened { owner })),
        any::<Cents>().prop_map(|amount| AccountEvent::from(MoneyDeposited { amount })),
        any::<Cents>().prop_map(|amount| AccountEvent::from(MoneyWithdrawn { amount })),
        Just(AccountEvent::from(AccountClosed {})),
    ]
}

fn user_event() -> impl Strategy<Value = UserEvent> {
    prop_oneof![
        (text(), text(), text()).prop_map(|(first_name, last_name, email)| {
            UserEvent::from(UserCreated {
                first_name,
                last_name,
                email,
            })
        }),
        text().prop_map(|email| UserEvent::from(EmailChanged { email })),
        (text(), text()).prop_map(|(first_name, last_name)| {
            UserEvent::from(UserRenamed {
                first_name,
                last_name,
            })
        }),
        Just(UserEvent::from(UserDeleted {})),
    ]
}

/// The user domain's version 1 shapes, which older releases stored.
#[derive(Debug, Clone)]
enum OldUserEvent {
    Created(UserCreatedV1),
    Renamed(UserRenamedV1),
}

fn old_user_event() -> impl Strategy<Value = OldUserEvent> {
    prop_oneof![
        (text(), text())
            .prop_map(|(name, email)| OldUserEvent::Created(UserCreatedV1 { name, email })),
        text().prop_map(|name| OldUserEvent::Renamed(UserRenamedV1 { name })),
    ]
}

fn encode_account_event(event: &AccountEvent) -> Encoded {
    match event {
        AccountEvent::AccountOpened(e) => encode_event(&JsonCodec, e),
        AccountEvent::MoneyDeposited(e) => encode_event(&JsonCodec, e),
        AccountEvent::MoneyWithdrawn(e) => encode_event(&JsonCodec, e),
        AccountEvent::AccountFrozen(e) => encode_event(&JsonCodec, e),
        AccountEvent::AccountUnfrozen(e) => encode_event(&JsonCodec, e),
        AccountEvent::AccountClosed(e) => encode_event(&JsonCodec, e),
    }
    .unwrap()
}

fn encode_user_event(event: &UserEvent) -> Encoded {
    match event {
        UserEvent::UserCreated(e) => encode_event(&JsonCodec, e),
        UserEvent::EmailChanged(e) => encode_event(&JsonCodec, e),
        UserEvent::UserRenamed(e) => encode_event(&JsonCodec, e),
        UserEvent::UserDeleted(e) => encode_event(&JsonCodec, e),
    }
    .unwrap()
}

/// Encodes `event` through its enum, checks it against `direct` (the event type's own
/// encoding) and the set's descriptors, and decodes it again from a hand-made stored event.
fn round_trip<E: EventSet + PartialEq, Other: EventSet>(
    event: &E,
    direct: &Encoded,
    stream: &str,
) -> Checked<Encoded> {
    let encoded = event.encode(&JsonCodec).unwrap();
    prop_assert_eq!(&encoded, direct);
    prop_assert_eq!(
        (encoded.name, encoded.version),
        (event.name(), event.version())
    );
    let descriptor = EventDescriptor {
        name: encoded.name,
        version: encoded.version,
    };
    prop_assert!(E::EVENTS.contains(&descriptor), "{descriptor:?}");
    let stored = recorded(
        stream,
        1,
        encoded.name,
        encoded.version,
        encoded.payload.to_vec(),
    );
    prop_assert_eq!(&E::decode(&JsonCodec, &stored).unwrap(), event);
    // Wire names belong to one domain only.
    prop_assert!(Other::decode(&JsonCodec, &stored).is_err(), "{event:?}");
    Ok(encoded)
}

/// Property 4.
async fn events_round_trip(
    bank: &[AccountEvent],
    user: &[UserEvent],
    old: &[OldUserEvent],
) -> Checked {
    let store = MemStore::new();
    let mut appended = Vec::new();
    for event in bank {
        let direct = encode_account_event(event);
        appended.push(round_trip::<_, UserEvent>(event, &direct, "account-1")?);
    }
    for event in user {
        let direct = encode_user_event(event);
        appended.push(round_trip::<_, AccountEvent>(event, &direct, "user-ada")?);
    }
    // Version 1 payloads decode as themselves, and as the current event, upcast.
    let mut upcast = Vec::new();
    for event in old {
        let (encoded, current) = match event {
            OldUserEvent::Created(v1) => {
                let encoded = encode_event(&JsonCodec, v1).unwrap();
                let stored = recorded("user-old", 1, encoded.name, 1, encoded.payload.to_vec());
                prop_assert_eq!(
                    &decode_as::<UserCreatedV1, _>(&JsonCodec, &stored).unwrap(),
                    v1
                );
                let current = UserCreated::from(v1.clone());
                let got = decode_as::<UserCreated, _>(&JsonCodec, &stored).unwrap();
                prop_assert_eq!(&got, &current);
                (encoded, UserEvent::from(current))
            }
            OldUserEvent::Renamed(v1) => {
                let encoded = encode_event(&JsonCodec, v1).unwrap();
                let stored = recorded("user-old", 1, encoded.name, 1, encoded.payload.to_vec());
                prop_assert_eq!(
                    &decode_as::<UserRenamedV1, _>(&JsonCodec, &stored).unwrap(),
                    v1
                );
                let current = UserRenamed::from(v1.clone());
                let got = decode_as::<UserRenamed, _>(&JsonCodec, &stored).unwrap();
                prop_assert_eq!(&got, &current);
                (encoded, UserEvent::from(current))
            }
        };
        prop_assert_eq!(encoded.version, 1);
        upcast.push(current);
        appended.push(encoded);
    }

    // Through the store: appended, read back, decoded.
    let streams = [
        ("account-1", bank.len()),
        ("user-ada", user.len()),
        ("user-old", old.len()),
    ];
    let mut batches = appended.clone().into_iter();
    for (stream, n) in streams {
        let batch: Vec<NewEvent> = batches.by_ref().take(n).map(NewEvent::new).collect();
        if !batch.is_empty() {
            let stream = StreamId::new(stream).unwrap();
            store
                .append(&stream, ExpectedVersion::NoStream, batch)
                .await
                .unwrap();
        }
    }
    let log = store.read_all(Position::START, usize::MAX).await.unwrap();
    prop_assert_eq!(log.len(), appended.len());
    for (stored, encoded) in log.iter().zip(&appended) {
        prop_assert_eq!(
            (&*stored.name, stored.schema_version, &stored.payload),
            (encoded.name, encoded.version, &encoded.payload)
        );
    }
    let (bank_log, rest) = log.split_at(bank.len());
    let (user_log, old_log) = rest.split_at(user.len());
    for (stored, event) in bank_log.iter().zip(bank) {
        prop_assert_eq!(&AccountEvent::decode(&JsonCodec, stored).unwrap(), event);
    }
    for (stored, event) in user_log.iter().zip(user) {
        prop_assert_eq!(&UserEvent::decode(&JsonCodec, stored).unwrap(), event);
    }
    for (stored, event) in old_log.iter().zip(&upcast) {
        prop_assert_eq!(&UserEvent::decode(&JsonCodec, stored).unwrap(), event);
    }
    Ok(())
}

// ---- The properties ---------------------------------------------------------------------------

/// Cases of each command-sequence property at `ES_TEST_SCALE=1`.
const SEQUENCE_CASES: usize = 256;
/// Cases of the codec property at `ES_TEST_SCALE=1`.
const CODEC_CASES: usize = 512;

proptest! {
    #![proptest_config(config(SEQUENCE_CASES))]

    #[test]
    fn bank_cache_replay_and_snapshots_agree(
        ops in vec(bank_op(), 1..60),
        every in 1..=5_u64,
        capacity in 1..=4_usize,
    ) {
        block_on(cache_replay_and_snapshots_agree::<Account>(&ops, every, capacity))?;
    }

    #[test]
    fn user_cache_replay_and_snapshots_agree(
        ops in vec(user_op(), 1..60),
        every in 1..=5_u64,
        capacity in 1..=4_usize,
    ) {
        block_on(cache_replay_and_snapshots_agree::<User>(&ops, every, capacity))?;
    }

    #[test]
    fn bank_load_at_is_the_fold_of_the_first_events(
        ops in vec(bank_op(), 1..60),
        every in 1..=5_u64,
        picks in vec(any::<Index>(), 1..6),
    ) {
        block_on(load_at_is_the_fold::<Account>(&ops, every, &picks))?;
    }

    #[test]
    fn user_load_at_is_the_fold_of_the_first_events(
        ops in vec(user_op(), 1..60),
        every in 1..=5_u64,
        picks in vec(any::<Index>(), 1..6),
    ) {
        block_on(load_at_is_the_fold::<User>(&ops, every, &picks))?;
    }

    #[test]
    fn projections_caught_up_piecemeal_equal_a_rebuild(
        steps in vec(step(), 1..80),
        batch in 1..=5_usize,
    ) {
        block_on(projections_agree(&steps, batch))?;
    }
}

proptest! {
    #![proptest_config(config(CODEC_CASES))]

    #[test]
    fn events_round_trip_through_the_codec_and_the_store(
        bank in vec(account_event(), 0..8),
        user in vec(user_event(), 0..8),
        old in vec(old_user_event(), 0..4),
    ) {
        block_on(events_round_trip(&bank, &user, &old))?;
    }
}
