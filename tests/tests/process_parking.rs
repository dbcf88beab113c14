//! Parked process manager instances: one parked on its very first input (before it has a
//! state) is retried, or dismissed, and then goes on like any other; a retry routes each
//! waiting event again with the process's current `key`; a parked record whose waiting
//! inputs are damaged is reported as corrupt, not read as one with nothing waiting, and can
//! be dismissed. On the in-memory store and in an SQLite file.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::SystemTime;

use es_core::prelude::*;
use es_core::process::{InstanceRow, ParkedRow, ProcessStore, ProcessWork, Router, Workflow};
use es_core::projection::Committed;
use es_memstore::MemStore;

/// A notebook: each note names the instance it is for.
pub mod notes {
    use std::sync::Mutex;

    use es_core::prelude::*;
    use serde::{Deserialize, Serialize};

    #[derive(Event, Debug, Serialize, Deserialize)]
    #[event(name = "pp.noted")]
    pub struct Noted {
        pub key: u64,
        pub text: String,
    }

    #[derive(Command, Debug, Clone)]
    pub struct Note {
        #[id]
        pub book: u64,
        pub key: u64,
        pub text: String,
    }

    #[derive(Debug, thiserror::Error, Serialize, Deserialize)]
    #[error("never")]
    pub struct Never;

    #[derive(Aggregate, Default, Debug)]
    #[aggregate(name = "pp_book", id = u64, error = Never, events(Noted), commands(Note))]
    pub struct Book;

    impl Apply<Noted> for Book {
        fn apply(&mut self, _: &Noted) {}
    }

    impl Handle<Note> for Book {
        fn handle(&self, cmd: &Note) -> Result<Vec<BookEvent>, Never> {
            Ok(vec![
                Noted {
                    key: cmd.key,
                    text: cmd.text.clone(),
                }
                .into(),
            ])
        }
    }

    /// The keys whose next reaction panics (once).
    pub static PANIC_ONCE: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    /// The keys whose notes go to an existing instance only.
    pub static EXISTING_ONLY: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    /// The keys whose notes are ignored.
    pub static IGNORED: Mutex<Vec<u64>> = Mutex::new(Vec::new());

    fn listed(list: &Mutex<Vec<u64>>, key: u64) -> bool {
        list.lock().unwrap().contains(&key)
    }

    /// Collects the notes of its key.
    #[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
    #[process(name = "pp-collector", key = u64, events(Noted))]
    pub struct Collector {
        pub seen: Vec<String>,
    }

    impl React<Noted> for Collector {
        fn key(event: &Noted, _: &EventMeta) -> Instance<u64> {
            if listed(&IGNORED, event.key) {
                Instance::ignore()
            } else if listed(&EXISTING_ONLY, event.key) {
                Instance::existing(event.key)
            } else {
                Instance::start(event.key)
            }
        }

        fn react(&mut self, event: &Noted, _: &EventMeta, _: &mut Reaction<Self>) {
            let panics = {
                let mut keys = PANIC_ONCE.lock().unwrap();
                let found = keys.iter().position(|key| *key == event.key);
                found.map(|at| keys.remove(at)).is_some()
            };
            assert!(!panics, "the note {:?} is unreadable", event.text);
            self.seen.push(event.text.clone());
        }
    }

    /// Keys no other test of this binary uses: `n` of them.
    pub fn fresh_keys(n: u64) -> Vec<u64> {
        static NEXT: Mutex<u64> = Mutex::new(1);
        let mut next = NEXT.lock().unwrap();
        let first = *next;
        *next += n;
        (first..first + n).collect()
    }
}

use notes::{Book, Collector, EXISTING_ONLY, IGNORED, Note, PANIC_ONCE, fresh_keys};

fn runner<S: ProcessStore>(store: &S) -> ProjectionRunner<Workflow<Collector, S>, S> {
    let workflow = Workflow::<Collector, _>::new(store.clone(), Router::new());
    ProjectionRunner::new(store.clone(), workflow)
}

async fn note<S: EventStore>(store: &S, key: u64, text: &str) {
    Repository::<Book, _>::new(store.clone())
        .execute(Note {
            book: key,
            key,
            text: text.into(),
        })
        .await
        .unwrap();
}

fn add(list: &Mutex<Vec<u64>>, key: u64) {
    list.lock().unwrap().push(key);
}

async fn seen<S: ProcessStore>(
    runner: &ProjectionRunner<Workflow<Collector, S>, S>,
    key: u64,
) -> Option<Vec<String>> {
    runner
        .target()
        .instance(&key)
        .await
        .unwrap()
        .map(|collector| collector.seen)
}

async fn parked_keys<S: ProcessStore>(
    runner: &ProjectionRunner<Workflow<Collector, S>, S>,
) -> HashSet<u64> {
    let parked = runner.target().parked().await.unwrap();
    parked.into_iter().map(|parked| parked.key).collect()
}

/// Parks the instance `key` on its first note (its reaction panics), with a second note
/// waiting behind it.
async fn park_at_start<S: ProcessStore>(
    store: &S,
    runner: &ProjectionRunner<Workflow<Collector, S>, S>,
    key: u64,
) {
    add(&PANIC_ONCE, key);
    note(store, key, "first").await;
    runner.catch_up().await.unwrap();
    let parked = runner.target().parked().await.unwrap();
    let record = parked.iter().find(|parked| parked.key == key).unwrap();
    assert!(
        record.error.contains("the note \"first\" is unreadable"),
        "{}",
        record.error
    );
    assert_eq!(record.waiting, 1);
    assert_eq!(seen(runner, key).await, None, "no state yet");

    note(store, key, "second").await;
    runner.catch_up().await.unwrap();
    let parked = runner.target().parked().await.unwrap();
    let record = parked.iter().find(|parked| parked.key == key).unwrap();
    assert_eq!(record.waiting, 2, "the second note waits behind the first");
}

async fn parked_at_start_then_retried<S: ProcessStore>(store: S) {
    let [key] = fresh_keys(1)[..] else {
        unreachable!()
    };
    let runner = runner(&store);
    park_at_start(&store, &runner, key).await;

    assert!(runner.target().retry(&key).await.unwrap());
    runner.catch_up().await.unwrap();
    assert!(!parked_keys(&runner).await.contains(&key), "unparked");
    assert_eq!(
        seen(&runner, key).await,
        Some(vec!["first".to_owned(), "second".to_owned()])
    );

    note(&store, key, "third").await;
    runner.catch_up().await.unwrap();
    assert_eq!(
        seen(&runner, key).await,
        Some(vec!["first".into(), "second".into(), "third".into()]),
        "it goes on like any instance"
    );
}

async fn parked_at_start_then_dismissed<S: ProcessStore>(store: S) {
    let [key] = fresh_keys(1)[..] else {
        unreachable!()
    };
    let runner = runner(&store);
    park_at_start(&store, &runner, key).await;

    assert!(runner.target().dismiss(&key).await.unwrap());
    assert!(!parked_keys(&runner).await.contains(&key), "unparked");
    assert_eq!(seen(&runner, key).await, None, "the waiting notes dropped");

    note(&store, key, "third").await;
    runner.catch_up().await.unwrap();
    assert!(
        !parked_keys(&runner).await.contains(&key),
        "not parked again"
    );
    assert_eq!(
        seen(&runner, key).await,
        Some(vec!["third".to_owned()]),
        "the next note starts it"
    );
}

/// A retry routes each waiting event with the process's `key` as it is now: a note that
/// now goes to an existing instance only starts none, and one now ignored is not handed to
/// the instance.
async fn a_retry_routes_again<S: ProcessStore>(store: S) {
    let [existing, ignored] = fresh_keys(2)[..] else {
        unreachable!()
    };
    let runner = runner(&store);
    add(&PANIC_ONCE, existing);
    note(&store, existing, "first").await;
    note(&store, ignored, "first").await;
    runner.catch_up().await.unwrap();
    add(&PANIC_ONCE, ignored);
    note(&store, ignored, "second").await;
    runner.catch_up().await.unwrap();
    let parked = parked_keys(&runner).await;
    assert!(parked.contains(&existing) && parked.contains(&ignored));
    assert_eq!(seen(&runner, ignored).await, Some(vec!["first".to_owned()]));

    add(&EXISTING_ONLY, existing);
    add(&IGNORED, ignored);
    for key in [existing, ignored] {
        assert!(runner.target().retry(&key).await.unwrap());
    }
    runner.catch_up().await.unwrap();
    let parked = parked_keys(&runner).await;
    for key in [existing, ignored] {
        assert!(!parked.contains(&key), "{key} unparked");
    }
    assert_eq!(seen(&runner, existing).await, None, "no instance started");
    assert_eq!(
        seen(&runner, ignored).await,
        Some(vec!["first".to_owned()]),
        "the ignored note not handed over"
    );
}

/// A parked record whose waiting inputs do not decode is reported, not taken for one with
/// nothing waiting: listing the parked instances and handing the instance an event fail
/// with [`StoreError::Corrupt`]. Dismissing it, which drops its inputs unread, sets the
/// instance going again.
async fn a_damaged_parked_record_is_corrupt<S: ProcessStore>(store: S) {
    let [key] = fresh_keys(1)[..] else {
        unreachable!()
    };
    let mut work = ProcessWork::default();
    work.instances.push(InstanceRow::new(
        key.to_string(),
        serde_json::to_vec(&Collector::default()).unwrap().into(),
        false,
        0,
        Some(ParkedRow::new(
            "it panicked".into(),
            b"not a list of inputs".to_vec().into(),
            SystemTime::now(),
            false,
        )),
    ));
    assert_eq!(
        store.commit_process(Collector::NAME, work).await.unwrap(),
        Committed::Done
    );
    let runner = runner(&store);
    let corrupt = |error: &StoreError| {
        matches!(error, StoreError::Corrupt { location, problem }
            if location == &format!("process pp-collector, instance {key}")
                && problem.starts_with("its waiting inputs do not decode"))
    };
    let error = runner.target().parked().await.unwrap_err();
    assert!(corrupt(&error), "{error}");

    note(&store, key, "after").await;
    let error = runner.catch_up().await.unwrap_err();
    assert!(
        matches!(&error, ProjectionError::Store { source, .. } if corrupt(source)),
        "{error}"
    );

    assert!(runner.target().dismiss(&key).await.unwrap());
    assert!(!parked_keys(&runner).await.contains(&key), "unparked");
    runner.catch_up().await.unwrap();
    assert_eq!(seen(&runner, key).await, Some(vec!["after".to_owned()]));
}

async fn all<S: ProcessStore>(store: S) {
    parked_at_start_then_retried(store.clone()).await;
    parked_at_start_then_dismissed(store.clone()).await;
    a_retry_routes_again(store.clone()).await;
    a_damaged_parked_record_is_corrupt(store).await;
}

#[tokio::test]
async fn parked_at_start_then_retried_in_memory() {
    parked_at_start_then_retried(MemStore::new()).await;
}

#[tokio::test]
async fn parked_at_start_then_dismissed_in_memory() {
    parked_at_start_then_dismissed(MemStore::new()).await;
}

#[tokio::test]
async fn a_retry_routes_again_in_memory() {
    a_retry_routes_again(MemStore::new()).await;
}

#[tokio::test]
async fn a_damaged_parked_record_is_corrupt_in_memory() {
    a_damaged_parked_record_is_corrupt(MemStore::new()).await;
}

#[tokio::test]
async fn all_in_an_sqlite_file() {
    let file = es_tests::ScratchFile::new("parking");
    let store = es_sqlite::SqliteStore::open(file.path()).await.unwrap();
    all(store.clone()).await;
    store.close().await;
}
