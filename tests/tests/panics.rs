//! Panic safety: a panic in user code (`Handle`, `Apply`, `On`) leaves the store consistent
//! (only whole batches, contiguous versions and positions) and usable by the next caller,
//! through the same repository and its cache, and a projection that panicked halts with a
//! typed error until it is rebuilt.
//!
//! The test domain panics only where a test armed a "bomb": a command flag for `Handle`, and
//! one-shot bombs on an item name for `Apply` and `On` (a bomb fires once, so stored events
//! replay normally afterwards).
// Test helpers outside `#[test]` fns fail loudly on unexpected errors, like the tests.
#![allow(clippy::unwrap_used)]

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::{Mutex, Once, PoisonError};
use std::time::Duration;

use es_core::codec::JsonCodec;
use es_core::prelude::*;
use es_core::snapshot::Snapshotting;
use es_core::{Codec, RecordedEvent, RetryPolicy, SnapshotStore};
use es_memstore::MemStore;
use es_tests::{interfering, scaled};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use uuid::Uuid;

// ---------------------------------------------------------------------------------------
// Bombs

/// Where an armed item makes user code panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Site {
    Apply,
    On,
}

static BOMBS: Mutex<BTreeSet<(Site, String)>> = Mutex::new(BTreeSet::new());

fn bombs() -> std::sync::MutexGuard<'static, BTreeSet<(Site, String)>> {
    BOMBS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes the next `site` call on `item` (and only that one) panic.
fn arm(site: Site, item: &str) {
    bombs().insert((site, item.to_owned()));
}

/// Removes a bomb that has not fired; returns whether there was one.
fn disarm(site: Site, item: &str) -> bool {
    bombs().remove(&(site, item.to_owned()))
}

/// Whether a bomb on `item` fires now (it is removed: it fires once).
fn fires(site: Site, item: &str) -> bool {
    // The lock guard is dropped before the caller panics.
    bombs().remove(&(site, item.to_owned()))
}

/// Every panic message of this file contains it.
const BOMB: &str = "bomb:";

/// Keeps the expected panics of this file out of the output; others print as usual.
fn quiet_bombs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !message(info.payload()).contains(BOMB) {
                previous(info);
            }
        }));
    });
}

fn message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs `task` in its own tokio task, expects it to panic, and returns the panic message.
async fn panic_of<T: Send + 'static>(task: impl Future<Output = T> + Send + 'static) -> String {
    match tokio::spawn(task).await {
        Err(error) if error.is_panic() => message(&*error.into_panic()),
        Err(error) => panic!("the task did not finish: {error}"),
        Ok(_) => panic!("the task was expected to panic, and returned"),
    }
}

// ---------------------------------------------------------------------------------------
// The test domain: vaults storing named items; one command stores several at once.

#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "vault.opened")]
struct VaultOpened {}

/// Item `nth` (from 0) of the `of` items one command stored.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "vault.item_stored")]
struct ItemStored {
    item: String,
    nth: u32,
    of: u32,
}

#[derive(Command, Debug, Clone)]
struct OpenVault {
    #[id]
    vault: u64,
}

#[derive(Command, Debug, Clone)]
struct StoreItems {
    #[id]
    vault: u64,
    items: Vec<String>,
    /// `Handle` panics.
    panic_in_handle: bool,
}

fn store_items(vault: u64, items: &[&str]) -> StoreItems {
    StoreItems {
        vault,
        items: items.iter().map(|&item| item.to_owned()).collect(),
        panic_in_handle: false,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum VaultError {
    #[error("the vault is already open")]
    AlreadyOpen,
    #[error("the vault is not open")]
    NotOpen,
    #[error("{0} is already stored")]
    Duplicate(String),
}

#[derive(Aggregate, Default, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[aggregate(
    name = "vault",
    id = u64,
    error = VaultError,
    events(VaultOpened, ItemStored),
    commands(OpenVault, StoreItems),
    event_derive(Clone, PartialEq)
)]
struct Vault {
    open: bool,
    items: Vec<String>,
}

impl Apply<VaultOpened> for Vault {
    fn apply(&mut self, _: &VaultOpened) {
        self.open = true;
    }
}

impl Apply<ItemStored> for Vault {
    fn apply(&mut self, event: &ItemStored) {
        assert!(
            !fires(Site::Apply, &event.item),
            "{BOMB} Apply of {}",
            event.item
        );
        self.items.push(event.item.clone());
    }
}

impl Handle<OpenVault> for Vault {
    fn handle(&self, _: &OpenVault) -> Result<Vec<VaultEvent>, VaultError> {
        if self.open {
            return Err(VaultError::AlreadyOpen);
        }
        Ok(vec![VaultOpened {}.into()])
    }
}

impl Handle<StoreItems> for Vault {
    fn handle(&self, cmd: &StoreItems) -> Result<Vec<VaultEvent>, VaultError> {
        assert!(
            !cmd.panic_in_handle,
            "{BOMB} Handle of {:?} in vault {}",
            cmd.items, cmd.vault
        );
        if !self.open {
            return Err(VaultError::NotOpen);
        }
        if let Some(stored) = cmd.items.iter().find(|item| self.items.contains(item)) {
            return Err(VaultError::Duplicate(stored.clone()));
        }
        let of = u32::try_from(cmd.items.len()).unwrap();
        Ok((0..of)
            .zip(&cmd.items)
            .map(|(nth, item)| {
                ItemStored {
                    item: item.clone(),
                    nth,
                    of,
                }
                .into()
            })
            .collect())
    }
}

/// Every stored item, in log order. `On` updates `count` first, so a panic between the two
/// leaves a visibly half-updated state (`count != items.len()`).
#[derive(Projection, Default, Debug, Clone, PartialEq)]
#[projection(name = "inventory", events(VaultOpened, ItemStored))]
struct Inventory {
    vaults: u32,
    count: usize,
    items: Vec<(String, String)>,
}

impl On<VaultOpened> for Inventory {
    fn on(&mut self, _: &VaultOpened, _: &EventMeta) {
        self.vaults += 1;
    }
}

impl On<ItemStored> for Inventory {
    fn on(&mut self, event: &ItemStored, meta: &EventMeta) {
        self.count += 1;
        assert!(!fires(Site::On, &event.item), "{BOMB} On of {}", event.item);
        self.items
            .push((meta.stream_id.to_string(), event.item.clone()));
    }
}

// ---------------------------------------------------------------------------------------
// Checks

async fn whole_log(store: &MemStore) -> Vec<RecordedEvent> {
    store.read_all(Position::START, usize::MAX).await.unwrap()
}

/// Asserts the log is sound: positions 1..=N, each stream's versions 1, 2, 3, ... in log
/// order, and only whole batches: the events of one command are adjacent, on one stream,
/// and are items 0..of of `of`. Returns the items stored, by stream, in order.
fn assert_consistent(log: &[RecordedEvent]) -> BTreeMap<String, Vec<String>> {
    let positions: Vec<u64> = log.iter().map(|e| e.position.0).collect();
    assert_eq!(positions, (1..=log.len() as u64).collect::<Vec<_>>());
    let mut versions = BTreeMap::<String, u64>::new();
    let mut items = BTreeMap::<String, Vec<String>>::new();
    let mut finished = BTreeSet::<Uuid>::new();
    // The batch being read: its command id, stream, and the items still expected.
    let mut open_batch: Option<(Uuid, String, u32, u32)> = None;
    for event in log {
        let stream = event.stream_id.to_string();
        let version = versions.entry(stream.clone()).or_default();
        *version += 1;
        assert_eq!(
            event.stream_version,
            Version(*version),
            "at {}",
            event.position
        );
        let decoded = VaultEvent::decode(&JsonCodec, event).unwrap();
        let command = event.metadata.command_id;
        if let Some((id, batch_stream, next, of)) = open_batch.take() {
            assert_eq!(
                (command, &stream),
                (Some(id), &batch_stream),
                "a batch was cut short before position {}",
                event.position
            );
            match &decoded {
                VaultEvent::ItemStored(stored) => {
                    assert_eq!((stored.nth, stored.of), (next, of), "at {}", event.position);
                }
                VaultEvent::VaultOpened(_) => panic!("an opening inside a batch"),
            }
            if next + 1 < of {
                open_batch = Some((id, batch_stream, next + 1, of));
            } else {
                finished.insert(id);
            }
        } else if let Some(id) = command {
            assert!(
                finished.insert(id),
                "command {id} appended twice (again at {})",
                event.position
            );
            if let VaultEvent::ItemStored(stored) = &decoded {
                assert_eq!(stored.nth, 0, "a batch starts at its first item");
                if stored.of > 1 {
                    finished.remove(&id);
                    open_batch = Some((id, stream.clone(), 1, stored.of));
                }
            }
        }
        if let VaultEvent::ItemStored(stored) = decoded {
            items.entry(stream).or_default().push(stored.item);
        }
    }
    assert!(open_batch.is_none(), "the log ends inside a batch");
    items
}

fn vault_stream(vault: u64) -> String {
    format!("vault-{vault}")
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|&item| item.to_owned()).collect()
}

/// Opens `vault` and stores `items` through `repo`.
async fn open_with<S: EventStore, N: Snapshotting<Vault, C>, C: Codec>(
    repo: &Repository<Vault, S, N, C>,
    vault: u64,
    items: &[&str],
) -> Version {
    repo.execute(OpenVault { vault }).await.unwrap();
    if items.is_empty() {
        return Version(1);
    }
    let done = repo.execute(store_items(vault, items)).await.unwrap();
    done.stream_version
}

// ---------------------------------------------------------------------------------------
// Handle and Apply

#[tokio::test]
async fn a_panic_in_handle_appends_nothing_and_the_same_repository_carries_on() {
    quiet_bombs();
    let store = MemStore::new();
    let vaults = Repository::<Vault, _>::new(store.clone());
    open_with(&vaults, 1, &["a1", "a2"]).await;
    open_with(&vaults, 2, &["b1"]).await;
    let before = whole_log(&store).await;

    // Once on a cached aggregate, once on one the repository has to load.
    let uncached = Repository::<Vault, _>::new(store.clone());
    for repo in [vaults.clone(), uncached.clone()] {
        let message = panic_of(async move {
            repo.execute(StoreItems {
                panic_in_handle: true,
                ..store_items(1, &["x1", "x2"])
            })
            .await
        })
        .await;
        assert!(message.contains("Handle of [\"x1\", \"x2\"]"), "{message}");
        let after = whole_log(&store).await;
        assert_eq!(after, before, "nothing appended");
    }

    // The same repository (cache included) and store serve the next commands and loads.
    let done = vaults.execute(store_items(1, &["x1", "x2"])).await.unwrap();
    assert_eq!(done.stream_version, Version(5));
    assert_eq!(done.attempts, 1);
    let refused = uncached.execute(store_items(1, &["x2"])).await;
    assert!(
        matches!(refused, Err(ExecuteError::Domain(VaultError::Duplicate(item))) if item == "x2")
    );
    let vault = vaults.load(&1).await.unwrap();
    assert_eq!(vault.version, Version(5));
    assert_eq!(vault.state.items, strings(&["a1", "a2", "x1", "x2"]));
    let other = uncached.load(&2).await.unwrap();
    assert_eq!(
        (other.version, other.state.items),
        (Version(2), strings(&["b1"]))
    );
    let items = assert_consistent(&whole_log(&store).await);
    assert_eq!(items[&vault_stream(1)], strings(&["a1", "a2", "x1", "x2"]));
}

#[tokio::test]
async fn a_panic_in_apply_after_the_append_keeps_the_whole_batch_and_caches_no_half_state() {
    quiet_bombs();
    let store = MemStore::new();
    // Snapshots every 2 events: a half-applied state must not be snapshotted either.
    let vaults = Repository::<Vault, _>::new(store.clone())
        .with_snapshots(store.clone())
        .with_snapshot_every(2);
    open_with(&vaults, 1, &["c0"]).await;
    open_with(&vaults, 2, &["d0", "d1"]).await;

    // The batch is appended, then `Apply` panics on its second event: the aggregate in the
    // repository's cache has applied "c1" only.
    arm(Site::Apply, "c2");
    let repo = vaults.clone();
    let message =
        panic_of(async move { repo.execute(store_items(1, &["c1", "c2", "c3"])).await }).await;
    assert!(message.contains("Apply of c2"), "{message}");
    assert!(!disarm(Site::Apply, "c2"), "the bomb fired");

    // The whole batch is stored.
    let items = assert_consistent(&whole_log(&store).await);
    assert_eq!(items[&vault_stream(1)], strings(&["c0", "c1", "c2", "c3"]));
    assert_eq!(store.len(), 8);
    // The snapshot the command would have taken after applying its batch (at version 5) was
    // not taken: the latest is the whole state at version 2.
    let stream = StreamId::new(vault_stream(1)).unwrap();
    let snapshot = store
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("a snapshot at 2");
    assert_eq!(snapshot.version, Version(2));
    let state: Vault = serde_json::from_slice(&snapshot.payload).unwrap();
    assert_eq!(state.items, strings(&["c0"]));

    // The same repository decides on the whole state: "c3" is stored, so this is refused (a
    // half-applied cached state, without "c2" and "c3", would accept it and store it twice).
    let refused = vaults.execute(store_items(1, &["c3"])).await;
    assert!(
        matches!(&refused, Err(ExecuteError::Domain(VaultError::Duplicate(item))) if item == "c3"),
        "{refused:?}"
    );
    let refused = vaults.execute(store_items(1, &["c2"])).await;
    assert!(
        matches!(&refused, Err(ExecuteError::Domain(VaultError::Duplicate(item))) if item == "c2"),
        "{refused:?}"
    );
    assert_eq!(store.len(), 8, "refusals append nothing");
    let done = vaults.execute(store_items(1, &["c4"])).await.unwrap();
    assert_eq!(done.stream_version, Version(6));
    let vault = vaults.load(&1).await.unwrap();
    assert_eq!(vault.version, Version(6));
    assert_eq!(vault.state.items, strings(&["c0", "c1", "c2", "c3", "c4"]));

    // The snapshot taken since is the whole state at its version.
    let snapshot = store
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("a snapshot at 6");
    assert_eq!(snapshot.version, Version(6));
    let state: Vault = serde_json::from_slice(&snapshot.payload).unwrap();
    assert_eq!(state, vault.state);

    // The other vault is untouched.
    let other = vaults.load(&2).await.unwrap();
    assert_eq!(
        (other.version, other.state.items),
        (Version(3), strings(&["d0", "d1"]))
    );
    vaults.execute(store_items(2, &["d2"])).await.unwrap();
    assert_consistent(&whole_log(&store).await);
}

#[tokio::test]
async fn a_panic_in_apply_while_catching_up_after_a_conflict_appends_nothing() {
    quiet_bombs();
    let store = MemStore::new();
    open_with(&Repository::<Vault, _>::new(store.clone()), 1, &["e0"]).await;
    // Another writer stores "intruder" just before this repository's first append; catching
    // up on it after the conflict panics.
    let intruder = VaultEvent::from(ItemStored {
        item: "intruder".into(),
        nth: 0,
        of: 1,
    })
    .encode(&JsonCodec)
    .unwrap();
    let racing = interfering(store.clone(), 1, intruder);
    let vaults = Repository::<Vault, _>::new(racing.clone());
    vaults.load(&1).await.unwrap();
    arm(Site::Apply, "intruder");
    let repo = vaults.clone();
    let message = panic_of(async move { repo.execute(store_items(1, &["e1", "e2"])).await }).await;
    assert!(message.contains("Apply of intruder"), "{message}");
    assert_eq!(racing.hooks.remaining(), 0);

    let items = assert_consistent(&whole_log(&store).await);
    assert_eq!(
        items[&vault_stream(1)],
        strings(&["e0", "intruder"]),
        "nothing of the command"
    );
    let done = vaults.execute(store_items(1, &["e1", "e2"])).await.unwrap();
    assert_eq!((done.stream_version, done.attempts), (Version(5), 1));
    let vault = vaults.load(&1).await.unwrap();
    assert_eq!(vault.state.items, strings(&["e0", "intruder", "e1", "e2"]));
    assert_consistent(&whole_log(&store).await);
}

#[tokio::test]
async fn a_panic_in_apply_while_replaying_a_load_leaves_the_store_and_the_next_load_sound() {
    quiet_bombs();
    let store = MemStore::new();
    let vaults = Repository::<Vault, _>::new(store.clone());
    open_with(&vaults, 1, &["f1", "f2", "f3"]).await;
    open_with(&vaults, 2, &["g1"]).await;
    let before = whole_log(&store).await;

    // Armed for one load only: the replay panics half way.
    arm(Site::Apply, "f2");
    let repo = vaults.clone();
    let message = panic_of(async move { repo.load(&1).await }).await;
    assert!(message.contains("Apply of f2"), "{message}");
    // The next load replays normally, and other streams load meanwhile.
    let vault = vaults.load(&1).await.unwrap();
    assert_eq!(
        (vault.version, &vault.state.items),
        (Version(4), &strings(&["f1", "f2", "f3"]))
    );

    // The same in the load of an `execute` that must replay: nothing is appended.
    arm(Site::Apply, "f3");
    let uncached = Repository::<Vault, _>::new(store.clone()).with_cache_capacity(0);
    let repo = uncached.clone();
    let message = panic_of(async move { repo.execute(store_items(1, &["f4"])).await }).await;
    assert!(message.contains("Apply of f3"), "{message}");
    let other = uncached.load(&2).await.unwrap();
    assert_eq!(
        (other.version, other.state.items),
        (Version(2), strings(&["g1"]))
    );
    assert_eq!(whole_log(&store).await, before, "nothing appended");

    let done = uncached.execute(store_items(1, &["f4"])).await.unwrap();
    assert_eq!(done.stream_version, Version(5));
    // The first repository's cached state (from before the panics) catches up and refuses
    // what is stored.
    let refused = vaults.execute(store_items(1, &["f4"])).await;
    assert!(
        matches!(refused, Err(ExecuteError::Domain(VaultError::Duplicate(_)))),
        "{refused:?}"
    );
    vaults.execute(store_items(1, &["f5"])).await.unwrap();
    let items = assert_consistent(&whole_log(&store).await);
    assert_eq!(
        items[&vault_stream(1)],
        strings(&["f1", "f2", "f3", "f4", "f5"])
    );
}

// ---------------------------------------------------------------------------------------
// On

#[tokio::test]
async fn a_panic_in_on_halts_the_projection_until_a_rebuild_recovers_it() {
    quiet_bombs();
    let store = MemStore::new();
    let vaults = Repository::<Vault, _>::new(store.clone());
    open_with(&vaults, 1, &["h1", "h2"]).await;
    open_with(&vaults, 2, &["i1", "i2", "i3"]).await;
    let inventory = ProjectionRunner::new(
        store.clone(),
        InMemory::new(Inventory::default()).with_checkpoints(store.clone()),
    )
    .with_batch_size(3);

    // Catching up: the panic is a typed error naming the event; the checkpoint is at the
    // event before.
    arm(Site::On, "i2");
    let err = inventory.catch_up().await.unwrap_err();
    match &err {
        ProjectionError::Panicked {
            projection,
            stream_id,
            name,
            position,
            message,
        } => {
            assert_eq!(*projection, "inventory");
            assert_eq!(
                (stream_id.as_str(), &**name, *position),
                ("vault-2", "vault.item_stored", Position(6))
            );
            assert!(message.contains("On of i2"), "{message}");
        }
        other => panic!("expected a panic error, got {other:?}"),
    }
    assert_eq!(
        store.load_checkpoint("inventory").await.unwrap(),
        Some(Position(5))
    );
    assert_eq!(inventory.position(), Position(5));
    // The state is readable (no poisoned lock) and half-updated, hence the halt.
    assert_eq!(
        (inventory.read().count, inventory.read().items.len()),
        (4, 3)
    );
    assert!(matches!(
        inventory.catch_up().await,
        Err(ProjectionError::Halted {
            projection: "inventory",
            ..
        })
    ));
    assert!(matches!(
        inventory
            .wait_for(Position(7), Duration::from_secs(5))
            .await,
        Err(ProjectionError::Halted { .. })
    ));

    // The store is untouched and usable.
    let done = vaults.execute(store_items(2, &["i4"])).await.unwrap();
    let head = done.last_position.unwrap();
    assert_eq!(head, Position(8));

    // A rebuild starts over from the default state and reaches the head.
    assert_eq!(inventory.rebuild().await.unwrap(), head);
    let fresh = ProjectionRunner::new(store.clone(), Inventory::default());
    fresh.catch_up().await.unwrap();
    assert_eq!(*inventory.read(), *fresh.read());
    assert_eq!(inventory.read().count, 6);
    assert_eq!(
        store.load_checkpoint("inventory").await.unwrap(),
        Some(head)
    );

    // Live: a panic ends the `run` with the typed error and halts the runner.
    let (stop, stopped) = oneshot::channel::<()>();
    let live = tokio::spawn({
        let inventory = inventory.clone();
        async move {
            inventory
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    inventory
        .wait_for(head, Duration::from_secs(5))
        .await
        .unwrap();
    arm(Site::On, "j2");
    let done = vaults.execute(OpenVault { vault: 3 }).await.unwrap();
    let opened = done.last_position.unwrap();
    let done = vaults
        .execute(store_items(3, &["j1", "j2", "j3"]))
        .await
        .unwrap();
    let stored = done.last_position.unwrap();
    assert_eq!(stored, Position(12));
    let ended = tokio::time::timeout(Duration::from_secs(30), live)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(
            &ended,
            Err(ProjectionError::Panicked {
                position: Position(11),
                ..
            })
        ),
        "{ended:?}"
    );
    assert!(matches!(
        inventory.wait_for(stored, Duration::from_secs(5)).await,
        Err(ProjectionError::Halted {
            position: Position(10),
            ..
        })
    ));
    inventory
        .wait_for(opened, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        store.load_checkpoint("inventory").await.unwrap(),
        Some(Position(10))
    );
    assert!(matches!(
        inventory.run(std::future::pending()).await,
        Err(ProjectionError::Halted { .. })
    ));
    drop(stop);

    // Rebuilt, it runs live again and follows new writes.
    assert_eq!(inventory.rebuild().await.unwrap(), stored);
    let (stop, stopped) = oneshot::channel::<()>();
    let live = tokio::spawn({
        let inventory = inventory.clone();
        async move {
            inventory
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });
    let done = vaults.execute(store_items(1, &["h3"])).await.unwrap();
    let head = done.last_position.unwrap();
    inventory
        .wait_for(head, Duration::from_secs(5))
        .await
        .unwrap();
    let fresh = ProjectionRunner::new(store.clone(), Inventory::default());
    fresh.catch_up().await.unwrap();
    assert_eq!(*inventory.read(), *fresh.read());
    assert_eq!(inventory.read().count, inventory.read().items.len());
    stop.send(()).unwrap();
    assert_eq!(live.await.unwrap().unwrap(), head);
    assert_consistent(&whole_log(&store).await);
}

// ---------------------------------------------------------------------------------------
// Under concurrency

/// How one command of the racing test ended.
#[derive(Debug)]
enum Outcome {
    Stored(Version),
    Refused(String),
    /// The command panicked; `in_handle` when it was its own `Handle` bomb.
    Panicked {
        in_handle: bool,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn panics_racing_with_writers_leave_only_whole_batches_and_sound_caches() {
    const TASKS: u64 = 4;
    const VAULTS: u64 = 3;
    quiet_bombs();
    let per_task = scaled(150).max(8);
    let store = MemStore::new();
    let setup = Repository::<Vault, _>::new(store.clone());
    for vault in 1..=VAULTS {
        open_with(&setup, vault, &[]).await;
    }

    let tasks: Vec<_> = (0..TASKS)
        .map(|task| {
            let repo = Repository::<Vault, _>::new(store.clone())
                .with_retry(RetryPolicy::CONFLICTS.with_max_attempts(65));
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for k in 0..per_task {
                    let vault = 1 + (task + k as u64) % VAULTS;
                    let items = [format!("t{task}-{k}-a"), format!("t{task}-{k}-b")];
                    let in_handle = k % 7 == 3;
                    if k % 5 == 1 {
                        // Whoever applies this item first panics: this command after its
                        // append, or another writer catching up on it.
                        arm(Site::Apply, &items[1]);
                    }
                    let command = StoreItems {
                        vault,
                        items: items.to_vec(),
                        panic_in_handle: in_handle,
                    };
                    let run = {
                        let repo = repo.clone();
                        tokio::spawn(async move { repo.execute(command).await })
                    };
                    let outcome = match run.await {
                        Ok(Ok(done)) => Outcome::Stored(done.stream_version),
                        Ok(Err(error)) => Outcome::Refused(format!("{error:?}")),
                        Err(error) if error.is_panic() => {
                            let message = message(&*error.into_panic());
                            assert!(message.contains(BOMB), "an unexpected panic: {message}");
                            Outcome::Panicked {
                                in_handle: message.contains("Handle"),
                            }
                        }
                        Err(error) => panic!("the command's task did not finish: {error}"),
                    };
                    outcomes.push((vault, items, outcome));
                }
                (repo, outcomes)
            })
        })
        .collect();
    let mut repos = Vec::new();
    let mut outcomes = Vec::new();
    for task in tasks {
        let (repo, task_outcomes) = task.await.unwrap();
        repos.push(repo);
        outcomes.extend(task_outcomes);
    }
    // Bombs on items that were never stored (their command panicked in Handle) are left.
    let unfired = outcomes
        .iter()
        .filter(|(_, items, _)| disarm(Site::Apply, &items[1]))
        .count();

    let log = whole_log(&store).await;
    let items = assert_consistent(&log);
    let stored: BTreeMap<&str, (String, u64)> = items
        .iter()
        .flat_map(|(stream, items)| {
            items
                .iter()
                .enumerate()
                .map(move |(i, item)| (item.as_str(), (stream.clone(), i as u64 + 2)))
        })
        .collect();
    let (mut ok, mut refused, mut in_handle, mut elsewhere, mut kept) = (0, 0, 0, 0, 0);
    let mut half_applied = Vec::new();
    for (vault, command_items, outcome) in &outcomes {
        let found: Vec<_> = command_items
            .iter()
            .filter_map(|item| stored.get(item.as_str()))
            .collect();
        match outcome {
            Outcome::Stored(version) => {
                ok += 1;
                assert_eq!(found.len(), 2, "an acknowledged command is stored whole");
                assert_eq!(
                    found[1],
                    &(vault_stream(*vault), version.0),
                    "where it was told"
                );
            }
            Outcome::Refused(error) => {
                refused += 1;
                assert!(
                    error.starts_with("Conflict"),
                    "only conflicts may refuse: {error}"
                );
                assert!(found.is_empty(), "a refused command stores nothing");
            }
            Outcome::Panicked { in_handle: true } => {
                in_handle += 1;
                assert!(found.is_empty(), "a panic in Handle stores nothing");
            }
            Outcome::Panicked { in_handle: false } => {
                elsewhere += 1;
                assert!(
                    found.len() == 2 || found.is_empty(),
                    "all or nothing: {command_items:?}"
                );
                if found.len() == 2 {
                    kept += 1;
                    half_applied.push((*vault, command_items[1].clone()));
                }
            }
        }
    }
    let events = log.len() - VAULTS as usize;
    println!(
        "racing panics: {} commands: {ok} stored, {refused} conflicts, {in_handle} panics in \
         Handle, {elsewhere} panics in Apply ({kept} after their append), {unfired} bombs \
         never reached; {events} item events",
        outcomes.len()
    );
    assert_eq!(
        events,
        2 * (ok + kept),
        "every stored event belongs to a whole command"
    );
    assert!(
        in_handle > 0 && elsewhere > 0,
        "both kinds of panic happened"
    );

    // Every repository, whatever it cached when a panic hit, decides on the whole stored
    // state: what is stored is refused as a duplicate, and new items are accepted.
    for repo in &repos {
        for (vault, item) in &half_applied {
            let again = repo.execute(store_items(*vault, &[item])).await;
            assert!(
                matches!(&again, Err(ExecuteError::Domain(VaultError::Duplicate(d))) if d == item),
                "{item} in vault {vault}: {again:?}"
            );
        }
    }
    for (r, repo) in repos.iter().enumerate() {
        for vault in 1..=VAULTS {
            let item = format!("after-{r}-{vault}");
            repo.execute(store_items(vault, &[&item])).await.unwrap();
        }
    }
    let items = assert_consistent(&whole_log(&store).await);
    for vault in 1..=VAULTS {
        for repo in &repos {
            let loaded = repo.load(&vault).await.unwrap();
            assert_eq!(loaded.state.items, items[&vault_stream(vault)]);
        }
    }
}
