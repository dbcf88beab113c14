//! es-core's `tracing` spans (the `tracing` feature, which this crate turns on): each step
//! opens its span with the fields the crate docs list, nested as the steps are; a projection
//! runner's retried failure is a `WARN` event.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use es_core::prelude::*;
use es_core::projection::EventMeta;
use es_core::repository::CommandMeta;
use es_memstore::MemStore;
use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;
use uuid::Uuid;

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "counter.added")]
struct Added {
    by: u32,
}

#[derive(Command, Debug)]
struct Add {
    #[id]
    id: u64,
    by: u32,
}

#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[error("adding zero changes nothing")]
struct AddedZero;

#[derive(Aggregate, Default, Debug, Serialize, Deserialize)]
#[aggregate(name = "counter", id = u64, error = AddedZero, events(Added), commands(Add))]
struct Counter {
    total: u64,
}

impl Apply<Added> for Counter {
    fn apply(&mut self, event: &Added) {
        self.total += u64::from(event.by);
    }
}

impl Handle<Add> for Counter {
    fn handle(&self, command: &Add) -> Result<Vec<CounterEvent>, AddedZero> {
        match command.by {
            0 => Err(AddedZero),
            by => Ok(vec![Added { by }.into()]),
        }
    }
}

#[derive(Projection, Default, Debug)]
#[projection(name = "additions", events(Added))]
struct Additions {
    seen: u64,
}

impl On<Added> for Additions {
    fn on(&mut self, _: &Added, _: &EventMeta) {
        self.seen += 1;
    }
}

/// One span as the recorder saw it.
#[derive(Debug, Clone)]
struct Seen {
    name: &'static str,
    target: String,
    parent: Option<usize>,
    fields: BTreeMap<&'static str, String>,
}

/// One event as the recorder saw it.
#[derive(Debug, Clone)]
struct Logged {
    level: tracing::Level,
    target: String,
    fields: BTreeMap<&'static str, String>,
}

/// A subscriber that keeps every span, its fields and its parent, and every event;
/// single-threaded tests.
#[derive(Default)]
struct Recorder {
    spans: Mutex<Vec<(Seen, &'static Metadata<'static>)>>,
    entered: Mutex<Vec<usize>>,
    events: Mutex<Vec<Logged>>,
}

struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_owned());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name(), value.to_string());
    }
}

fn index(id: &Id) -> usize {
    usize::try_from(id.into_u64() - 1).expect("span ids fit")
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let parent = match attrs.parent() {
            Some(id) => Some(index(id)),
            None if attrs.is_contextual() => self.entered().last().copied(),
            None => None,
        };
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let seen = Seen {
            name: attrs.metadata().name(),
            target: attrs.metadata().target().to_owned(),
            parent,
            fields,
        };
        let mut spans = self.spans();
        spans.push((seen, attrs.metadata()));
        Id::from_u64(spans.len() as u64)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut spans = self.spans();
        values.record(&mut Fields(&mut spans[index(span)].0.fields));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Logged {
                level: *event.metadata().level(),
                target: event.metadata().target().to_owned(),
                fields,
            });
    }

    fn enter(&self, span: &Id) {
        self.entered().push(index(span));
    }

    fn exit(&self, span: &Id) {
        let mut entered = self.entered();
        if let Some(at) = entered.iter().rposition(|&i| i == index(span)) {
            entered.remove(at);
        }
    }

    fn current_span(&self) -> Current {
        match self.entered().last() {
            Some(&i) => Current::new(Id::from_u64(i as u64 + 1), self.spans()[i].1),
            None => Current::none(),
        }
    }
}

impl Recorder {
    fn spans(&self) -> std::sync::MutexGuard<'_, Vec<(Seen, &'static Metadata<'static>)>> {
        self.spans.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn entered(&self) -> std::sync::MutexGuard<'_, Vec<usize>> {
        self.entered.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn seen(&self) -> Vec<Seen> {
        self.spans().iter().map(|(seen, _)| seen.clone()).collect()
    }
}

/// Runs `test` on a current-thread runtime with `recorder` as the thread's subscriber.
fn recorded<F: Future<Output = ()>>(recorder: &Arc<Recorder>, test: impl FnOnce() -> F) {
    let _default = tracing::subscriber::set_default(Arc::clone(recorder));
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(test());
}

fn field<'a>(span: &'a Seen, name: &str) -> Option<&'a str> {
    span.fields.get(name).map(String::as_str)
}

fn add(id: u64, by: u32) -> Add {
    Add { id, by }
}

#[test]
fn execute_opens_a_span_with_its_append_inside() {
    let recorder = Arc::new(Recorder::default());
    let command_id = Uuid::now_v7();
    recorded(&recorder, || async {
        let counters = Repository::<Counter, _>::new(MemStore::new());
        counters.execute(add(7, 1)).await.expect("adds");
        let meta = CommandMeta::new().with_command_id(command_id);
        counters.execute_with(add(7, 2), meta).await.expect("adds");
    });
    let spans = recorder.seen();
    let executes: Vec<(usize, &Seen)> = spans
        .iter()
        .enumerate()
        .filter(|(_, span)| span.name == "es.execute")
        .collect();
    assert_eq!(executes.len(), 2, "{spans:#?}");
    let (second_at, second) = executes[1];
    assert_eq!(second.target, "es");
    assert_eq!(field(second, "aggregate"), Some("counter"));
    assert_eq!(field(second, "command"), Some("Add"));
    assert_eq!(field(second, "command_id"), Some(&*command_id.to_string()));
    assert_eq!(field(second, "stream"), Some("counter-7"));
    assert_eq!(field(second, "version"), Some("2"));
    assert_eq!(field(second, "position"), Some("2"));
    assert_eq!(field(second, "attempts"), Some("1"));

    let appends: Vec<&Seen> = spans.iter().filter(|s| s.name == "es.append").collect();
    assert_eq!(appends.len(), 2, "{spans:#?}");
    let append = appends[1];
    assert_eq!(
        append.parent,
        Some(second_at),
        "the append is inside its execute"
    );
    assert_eq!(field(append, "stream"), Some("counter-7"));
    assert_eq!(field(append, "expected"), Some("1"));
    assert_eq!(field(append, "events"), Some("1"));
}

#[test]
fn a_refused_command_records_no_version() {
    let recorder = Arc::new(Recorder::default());
    recorded(&recorder, || async {
        let counters = Repository::<Counter, _>::new(MemStore::new());
        counters.execute(add(8, 1)).await.expect("adds");
        counters.execute(add(8, 0)).await.expect_err("refused");
    });
    let spans = recorder.seen();
    let refused = spans
        .iter()
        .filter(|span| span.name == "es.execute")
        .nth(1)
        .expect("two executes");
    assert_eq!(field(refused, "stream"), Some("counter-8"));
    assert_eq!(field(refused, "version"), None, "nothing was appended");
    assert_eq!(spans.iter().filter(|s| s.name == "es.append").count(), 1);
}

#[test]
fn load_records_its_snapshot_and_version() {
    let recorder = Arc::new(Recorder::default());
    recorded(&recorder, || async {
        let store = MemStore::new();
        let counters = Repository::<Counter, _>::new(store.clone())
            .with_snapshots(store.clone())
            .with_snapshot_every(2)
            .with_cache_capacity(0);
        for by in 1..=3 {
            counters.execute(add(9, by)).await.expect("adds");
        }
        let loaded = counters.load(&9).await.expect("loads");
        assert_eq!((loaded.version, loaded.state.total), (Version(3), 6));
    });
    let spans = recorder.seen();
    let load = spans
        .iter()
        .rev()
        .find(|span| span.name == "es.load" && span.parent.is_none())
        .expect("the last load is a top-level span");
    assert_eq!(field(load, "aggregate"), Some("counter"));
    assert_eq!(field(load, "stream"), Some("counter-9"));
    assert_eq!(field(load, "snapshot"), Some("2"), "{load:#?}");
    assert_eq!(field(load, "version"), Some("3"));
    // With the cache off, each execute loads inside its own span.
    let inside_execute = spans.iter().filter(|span| {
        span.name == "es.load" && span.parent.is_some_and(|p| spans[p].name == "es.execute")
    });
    assert_eq!(inside_execute.count(), 3);
}

#[test]
fn projection_batches_open_a_span_each() {
    let recorder = Arc::new(Recorder::default());
    recorded(&recorder, || async {
        let store = MemStore::new();
        let counters = Repository::<Counter, _>::new(store.clone());
        for id in 1..=3 {
            counters.execute(add(id, 1)).await.expect("adds");
        }
        let runner = ProjectionRunner::new(store, Additions::default());
        runner.catch_up().await.expect("catches up");
    });
    let spans = recorder.seen();
    let batches: Vec<&Seen> = spans.iter().filter(|s| s.name == "es.project").collect();
    assert_eq!(batches.len(), 1, "{spans:#?}");
    assert_eq!(field(batches[0], "projection"), Some("additions"));
    assert_eq!(field(batches[0], "first"), Some("1"));
    assert_eq!(field(batches[0], "events"), Some("3"));
    assert_eq!(field(batches[0], "applied"), Some("3"));
}

#[test]
fn a_retried_runner_failure_is_a_warning() {
    let recorder = Arc::new(Recorder::default());
    recorded(&recorder, || async {
        let store = es_tests::failing_reads(MemStore::new());
        let counters = Repository::<Counter, _>::new(store.clone());
        let head = counters
            .execute(add(1, 1))
            .await
            .expect("adds")
            .last_position;
        store.hooks.fail_next(1);
        let runner = ProjectionRunner::new(store.clone(), Additions::default())
            .with_retry(RetryPolicy::TRANSIENT.with_max_delay(std::time::Duration::ZERO));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let live = runner.run(async {
            let _ = stopped.await;
        });
        let reached = async {
            runner
                .wait_for(head.expect("a position"), std::time::Duration::from_secs(5))
                .await
                .expect("reached after the retry");
            stop.send(()).expect("running");
        };
        let (ran, ()) = tokio::join!(live, reached);
        ran.expect("a clean stop");
    });
    let events = recorder
        .events
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let warnings: Vec<&Logged> = events
        .iter()
        .filter(|event| event.level == tracing::Level::WARN)
        .collect();
    assert_eq!(warnings.len(), 1, "{events:#?}");
    let warning = warnings[0];
    assert_eq!(warning.target, "es");
    assert_eq!(
        warning.fields.get("projection").map(String::as_str),
        Some("additions")
    );
    assert_eq!(
        warning.fields.get("failures").map(String::as_str),
        Some("1")
    );
    let error = warning.fields.get("error").expect("the error");
    assert!(error.contains("the connection was reset"), "{error}");
}
