//! Subscriptions and projections on the in-memory store: ordered, gap-free, duplicate-free
//! delivery under concurrent appends; checkpoints and restarts; rebuilds; typed failures.
// Test helpers outside `#[test]` fns fail loudly on unexpected errors, like the tests.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use es_core::codec::JsonCodec;
use es_core::prelude::*;
use es_core::projection::ProjectionError;
use es_core::{CheckpointStore, NewEvent};
use es_examples::user::views::{UserDirectory, UserStats};
use es_examples::user::{
    ChangeEmail, DeleteUser, EmailChanged, RegisterUser, RenameUser, User, UserCreated, UserEvent,
    UserId, UserRenamed,
};
use es_memstore::MemStore;
use es_tests::plant;
use tokio::sync::oneshot;

fn register(id: &str) -> RegisterUser {
    RegisterUser {
        user_id: UserId::new(id),
        first_name: "User".into(),
        last_name: id.to_owned(),
        email: format!("{id}@example.com"),
    }
}

fn encoded(event: impl Into<UserEvent>) -> NewEvent {
    NewEvent::new(event.into().encode(&JsonCodec).expect("user events encode"))
}

/// A deterministic workload of commands over `users` users named `{prefix}{i}`.
async fn workload(store: &MemStore, prefix: &str, users: usize) {
    let repo = Repository::<User, _>::new(store.clone());
    let id = |i: usize| UserId::new(format!("{prefix}{i}"));
    for i in 0..users {
        repo.execute(register(&id(i).0)).await.unwrap();
    }
    for i in (0..users).step_by(2) {
        let email = format!("{prefix}{i}@new.example.com");
        repo.execute(ChangeEmail {
            user_id: id(i),
            email,
        })
        .await
        .unwrap();
    }
    for i in (0..users).step_by(3) {
        repo.execute(RenameUser {
            user_id: id(i),
            first_name: "Renamed".into(),
            last_name: i.to_string(),
        })
        .await
        .unwrap();
    }
    for i in (0..users).step_by(5) {
        repo.execute(DeleteUser { user_id: id(i) }).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_subscriber_sees_every_concurrent_append_once_in_position_order() {
    const WRITERS: usize = 6;
    const PER_WRITER: usize = 300;
    let store = MemStore::new();
    // Some events exist before the subscriber starts, the rest race with its catch-up.
    workload(&store, "u", 10).await;
    let before = store.len();
    let total = before + WRITERS * PER_WRITER;

    let mut subscription = store.subscribe(Position::START).with_batch_size(7);
    let reader = tokio::spawn(async move {
        let mut positions = Vec::with_capacity(total);
        while positions.len() < total {
            positions.push(subscription.next().await.unwrap().position.0);
        }
        (positions, subscription.try_next().await.unwrap())
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let stream = StreamId::new(format!("load-{w}-{}", i % 5)).unwrap();
                    let event = encoded(EmailChanged {
                        email: format!("{w}.{i}@x.io"),
                    });
                    store
                        .append(&stream, ExpectedVersion::Any, vec![event])
                        .await
                        .unwrap();
                    if i % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let (positions, after_end) = tokio::time::timeout(Duration::from_secs(30), reader)
        .await
        .expect("the subscriber keeps up")
        .unwrap();
    assert_eq!(positions.len(), total);
    let expected: Vec<u64> = (1..=total as u64).collect();
    assert_eq!(positions, expected, "every position once, in order");
    assert!(after_end.is_none(), "nothing beyond the appended events");
}

#[tokio::test]
async fn an_idle_subscriber_neither_blocks_writers_nor_misses_what_they_wrote() {
    const EVENTS: usize = 5_000;
    let store = MemStore::new();
    let mut idle = store.subscribe(Position::START);
    let stream = StreamId::new("burst-1").unwrap();
    // The subscriber is never polled while 5,000 appends complete: nothing waits for it.
    for i in 0..EVENTS {
        let event = encoded(UserRenamed {
            first_name: format!("n{i}"),
            last_name: String::new(),
        });
        store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    // It then reads them all from the log, a batch at a time.
    let mut positions = Vec::with_capacity(EVENTS);
    loop {
        let batch = idle.try_next_batch().await.unwrap();
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= es_core::store::BATCH_SIZE);
        positions.extend(batch.iter().map(|e| e.position.0));
    }
    assert_eq!(positions, (1..=EVENTS as u64).collect::<Vec<_>>());
    assert_eq!(idle.position(), Position(EVENTS as u64));
}

#[tokio::test]
async fn several_subscribers_each_see_the_whole_log() {
    let store = MemStore::new();
    workload(&store, "u", 12).await;
    let mut from_start = store.subscribe(Position::START);
    let mut from_middle = store.subscribe(Position(10));
    let mut all = Vec::new();
    while let Some(event) = from_start.try_next().await.unwrap() {
        all.push(event.position.0);
    }
    let mut tail = Vec::new();
    while let Some(event) = from_middle.try_next().await.unwrap() {
        tail.push(event.position.0);
    }
    assert_eq!(all, (1..=store.len() as u64).collect::<Vec<_>>());
    assert_eq!(tail, (11..=store.len() as u64).collect::<Vec<_>>());
}

#[tokio::test]
async fn catch_up_builds_the_directory_and_rebuild_equals_incremental_processing() {
    let store = MemStore::new();
    let directory =
        ProjectionRunner::new(store.clone(), UserDirectory::default()).with_batch_size(3);
    // Incremental: catch up after each slice of the workload.
    let repo = Repository::<User, _>::new(store.clone());
    for i in 0..20 {
        repo.execute(register(&format!("u{i}"))).await.unwrap();
        if i % 4 == 0 {
            directory.catch_up().await.unwrap();
        }
    }
    workload_tail(&repo).await;
    let reached = directory.catch_up().await.unwrap();
    assert_eq!(reached, Position(store.len() as u64));
    let incremental = directory.read().clone();

    assert_eq!(incremental.find_by_email("u3@new.example.com"), None);
    assert_eq!(
        incremental.find_by_email("u4@new.example.com"),
        Some(&UserId::new("u4"))
    );
    assert_eq!(
        incremental.find_by_email("u4@example.com"),
        None,
        "old email is gone"
    );
    assert_eq!(incremental.get(&UserId::new("u0")), None, "deleted");
    assert_eq!(
        incremental.get(&UserId::new("u3")).unwrap().name,
        "Renamed 3"
    );
    assert_eq!(incremental.len(), 20 - 4);

    let rebuilt_at = directory.rebuild().await.unwrap();
    assert_eq!(rebuilt_at, reached);
    assert_eq!(*directory.read(), incremental);

    let fresh = ProjectionRunner::new(store.clone(), UserDirectory::default());
    fresh.catch_up().await.unwrap();
    assert_eq!(*fresh.read(), incremental);
}

async fn workload_tail(repo: &Repository<User, MemStore>) {
    for i in (0..20).step_by(2) {
        repo.execute(ChangeEmail {
            user_id: UserId::new(format!("u{i}")),
            email: format!("u{i}@new.example.com"),
        })
        .await
        .unwrap();
    }
    repo.execute(RenameUser {
        user_id: UserId::new("u3"),
        first_name: "Renamed".into(),
        last_name: "3".into(),
    })
    .await
    .unwrap();
    for i in (0..20).step_by(5) {
        repo.execute(DeleteUser {
            user_id: UserId::new(format!("u{i}")),
        })
        .await
        .unwrap();
    }
}

/// A read model kept outside the runner (like a table): the positions it saw, per stream.
#[derive(Projection, Default, Debug, Clone)]
#[projection(name = "seen-positions", events(UserCreated, EmailChanged))]
struct Seen {
    table: Arc<Mutex<BTreeMap<String, Vec<u64>>>>,
}

impl Seen {
    fn snapshot(&self) -> BTreeMap<String, Vec<u64>> {
        self.table.lock().unwrap().clone()
    }
    fn record(&self, meta: &EventMeta) {
        let mut table = self.table.lock().unwrap();
        table
            .entry(meta.stream_id.to_string())
            .or_default()
            .push(meta.position.0);
    }
}

impl On<UserCreated> for Seen {
    fn on(&mut self, _: &UserCreated, meta: &EventMeta) {
        self.record(meta);
    }
}

impl On<EmailChanged> for Seen {
    fn on(&mut self, _: &EmailChanged, meta: &EventMeta) {
        self.record(meta);
    }
}

#[tokio::test]
async fn a_restart_from_the_checkpoint_gives_the_same_read_model_as_an_uninterrupted_run() {
    let store = MemStore::new();
    workload(&store, "first", 15).await;
    let half = store.len();

    // First life: process what exists, then stop.
    let durable = Seen::default();
    let first = ProjectionRunner::new(
        store.clone(),
        InMemory::new(durable.clone()).with_checkpoints(store.clone()),
    )
    .with_batch_size(4);
    assert_eq!(first.catch_up().await.unwrap(), Position(half as u64));
    drop(first);
    assert_eq!(
        store.load_checkpoint("seen-positions").await.unwrap(),
        Some(Position(half as u64))
    );

    workload(&store, "second", 9).await;
    // Second life: a new runner over the same durable read model resumes after the checkpoint.
    let second = ProjectionRunner::new(
        store.clone(),
        InMemory::new(durable.clone()).with_checkpoints(store.clone()),
    );
    second.catch_up().await.unwrap();

    let uninterrupted = Seen::default();
    ProjectionRunner::new(store.clone(), uninterrupted.clone())
        .catch_up()
        .await
        .unwrap();
    assert_eq!(durable.snapshot(), uninterrupted.snapshot());
    let all: Vec<u64> = durable.snapshot().into_values().flatten().collect();
    let mut unique = all.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(all.len(), unique.len(), "no event applied twice");
}

#[tokio::test]
async fn run_follows_live_appends_wait_for_reads_your_writes_and_shutdown_stops_cleanly() {
    let store = MemStore::new();
    let stats = ProjectionRunner::new(
        store.clone(),
        InMemory::new(UserStats::default()).with_checkpoints(store.clone()),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn({
        let stats = stats.clone();
        async move {
            stats
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let repo = Repository::<User, _>::new(store.clone());
    for i in 0..5 {
        let done = repo.execute(register(&format!("u{i}"))).await.unwrap();
        let position = done.last_position.unwrap();
        stats
            .wait_for(position, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(stats.read().registered, i + 1, "read your own write");
    }
    let done = repo
        .execute(DeleteUser {
            user_id: UserId::new("u1"),
        })
        .await
        .unwrap();
    stats
        .wait_for(done.last_position.unwrap(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(stats.read().active(), 4);

    stop.send(()).unwrap();
    let stopped_at = running.await.unwrap().unwrap();
    assert_eq!(stopped_at, Position(6));
    assert_eq!(
        store.load_checkpoint("user-stats").await.unwrap(),
        Some(Position(6))
    );

    // Nothing processes anymore: waiting for a later position times out with a typed error.
    repo.execute(register("late")).await.unwrap();
    let err = stats
        .wait_for(Position(7), Duration::from_millis(50))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ProjectionError::Timeout {
                waited_for: Position(7),
                reached: Position(6),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("user-stats"), "{err}");
}

#[tokio::test]
async fn undecodable_event_stops_the_runner_with_a_typed_error_and_the_checkpoint_at_the_last_good_event()
 {
    let store = MemStore::new();
    workload(&store, "a", 3).await;
    let good = store.len() as u64;
    plant(&store, "user-bad", "user.created", 1, b"{\"name\":")
        .await
        .unwrap();
    workload(&store, "b", 4).await;

    let directory = ProjectionRunner::new(
        store.clone(),
        InMemory::new(UserDirectory::default()).with_checkpoints(store.clone()),
    );
    let err = directory.catch_up().await.unwrap_err();
    match &err {
        ProjectionError::Decode { projection, source } => {
            assert_eq!(*projection, "user-directory");
            assert_eq!(
                (source.position, &*source.name),
                (Position(good + 1), "user.created")
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(
        store.load_checkpoint("user-directory").await.unwrap(),
        Some(Position(good))
    );
    assert_eq!(directory.position(), Position(good));
    // Events a projection does not listen to are skipped without decoding, bad or not.
    plant(&store, "other-1", "other.thing", 1, b"not json")
        .await
        .unwrap();
    let stats_only = ProjectionRunner::new(store.clone(), UserStats::default());
    let err = stats_only.catch_up().await.unwrap_err();
    assert!(
        matches!(err, ProjectionError::Decode { .. }),
        "user.created is listened to: {err}"
    );
}

/// A projection whose `On` panics on one email.
#[derive(Projection, Default, Debug)]
#[projection(name = "fragile", events(EmailChanged))]
struct Fragile {
    changes: u32,
}

impl On<EmailChanged> for Fragile {
    fn on(&mut self, event: &EmailChanged, _: &EventMeta) {
        assert!(
            event.email != "boom@example.com",
            "cannot handle {}",
            event.email
        );
        self.changes += 1;
    }
}

#[tokio::test]
async fn a_panic_in_on_halts_the_runner_with_a_typed_error_and_leaves_the_store_usable() {
    let store = MemStore::new();
    let repo = Repository::<User, _>::new(store.clone());
    repo.execute(register("ada")).await.unwrap();
    for email in ["a1@example.com", "boom@example.com", "a2@example.com"] {
        repo.execute(ChangeEmail {
            user_id: UserId::new("ada"),
            email: email.into(),
        })
        .await
        .unwrap();
    }
    let fragile = ProjectionRunner::new(
        store.clone(),
        InMemory::new(Fragile::default()).with_checkpoints(store.clone()),
    );
    let err = fragile.catch_up().await.unwrap_err();
    match &err {
        ProjectionError::Panicked {
            projection,
            name,
            position,
            stream_id,
            message,
        } => {
            assert_eq!(*projection, "fragile");
            assert_eq!(
                (&**name, *position, stream_id.as_str()),
                ("user.email_changed", Position(3), "user-ada")
            );
            assert!(
                message.contains("cannot handle boom@example.com"),
                "{message}"
            );
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(
        store.load_checkpoint("fragile").await.unwrap(),
        Some(Position(2))
    );
    assert_eq!(fragile.read().changes, 1);
    assert!(matches!(
        fragile.catch_up().await,
        Err(ProjectionError::Halted { .. })
    ));
    assert!(matches!(
        fragile.wait_for(Position(4), Duration::from_secs(5)).await,
        Err(ProjectionError::Halted { .. })
    ));
    // The store is untouched and usable.
    repo.execute(ChangeEmail {
        user_id: UserId::new("ada"),
        email: "a3@example.com".into(),
    })
    .await
    .unwrap();
    assert_eq!(store.len(), 5);
    // A rebuild restarts it, and meets the same event again.
    assert!(matches!(
        fragile.rebuild().await,
        Err(ProjectionError::Panicked { .. })
    ));
}

#[tokio::test]
async fn processing_calls_are_refused_while_a_run_is_live_instead_of_waiting_forever() {
    let store = MemStore::new();
    workload(&store, "u", 3).await;
    let stats = ProjectionRunner::new(store.clone(), UserStats::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn({
        let stats = stats.clone();
        async move {
            stats
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let end = Position(store.len() as u64);
    stats.wait_for(end, Duration::from_secs(5)).await.unwrap();
    assert!(matches!(
        stats.catch_up().await,
        Err(ProjectionError::Running {
            projection: "user-stats"
        })
    ));
    assert!(matches!(
        stats.rebuild().await,
        Err(ProjectionError::Running { .. })
    ));
    assert!(matches!(
        stats.run(std::future::pending()).await,
        Err(ProjectionError::Running { .. })
    ));

    stop.send(()).unwrap();
    assert_eq!(running.await.unwrap().unwrap(), end);
    // Once the run has stopped, processing calls work again.
    assert_eq!(stats.catch_up().await.unwrap(), end);
    assert_eq!(stats.read().registered, 3);
}

/// Checkpoints in a `MemStore` whose next `fails` saves fail with a backend error.
#[derive(Debug, Clone)]
struct FlakyCheckpoints {
    inner: MemStore,
    fails: Arc<Mutex<u32>>,
}

impl CheckpointStore for FlakyCheckpoints {
    async fn load_checkpoint(
        &self,
        projection: &str,
    ) -> Result<Option<es_core::Position>, es_core::StoreError> {
        self.inner.load_checkpoint(projection).await
    }

    async fn save_checkpoint(
        &self,
        projection: &str,
        position: es_core::Position,
    ) -> Result<(), es_core::StoreError> {
        let fail = {
            let mut fails = self.fails.lock().unwrap();
            let fail = *fails > 0;
            *fails = fails.saturating_sub(1);
            fail
        };
        if fail {
            return Err(es_core::StoreError::Backend(
                "the checkpoint table is gone".into(),
            ));
        }
        self.inner.save_checkpoint(projection, position).await
    }

    async fn delete_checkpoint(&self, projection: &str) -> Result<(), es_core::StoreError> {
        self.inner.delete_checkpoint(projection).await
    }
}

#[tokio::test]
async fn a_failed_checkpoint_save_neither_loses_nor_repeats_a_batch() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    for id in ["ada", "bob", "cy"] {
        users.execute(register(id)).await.unwrap();
    }
    let checkpoints = FlakyCheckpoints {
        inner: store.clone(),
        fails: Arc::new(Mutex::new(1)),
    };
    let runner = ProjectionRunner::new(
        store.clone(),
        InMemory::new(UserStats::default()).with_checkpoints(checkpoints.clone()),
    )
    .with_batch_size(2);
    match runner.catch_up().await {
        Err(ProjectionError::Store { .. }) => {}
        other => panic!("the failed save is reported: {other:?}"),
    }
    // The first batch is in the state; the retry carries on after it.
    let reached = runner.catch_up().await.unwrap();
    assert_eq!(reached, es_core::Position(3));
    assert_eq!(runner.read().registered, 3, "each event counted once");
    assert_eq!(
        store.load_checkpoint(UserStats::NAME).await.unwrap(),
        Some(es_core::Position(3)),
        "the next save covers the batch whose save failed"
    );
}
