//! Timers across OS processes: this test process and a child process (this binary, started
//! again) each run the same process manager live on one PostgreSQL schema, on the system
//! clock. Every instance sets a timer 300 ms after its event; when it fires, the instance
//! sends a command that appends one event. Each timer fires once (one event per instance,
//! whichever process fired it) and never before its time; the child is killed with SIGKILL
//! half-way (once it has said it runs, and it must die of that signal), and the timers it had
//! not fired fire in this process.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

use es_core::prelude::*;
use es_core::process::{OnTimer, Router, Workflow};
use es_postgres::{PgStore, PgStoreOptions, SchemaName, testing};
use serde::{Deserialize, Serialize};

/// The environment variable that makes `runner_child` the child: `<url> <schema>`.
const CHILD: &str = "ES_TESTS_TIMER_CHILD";
/// The line the child prints on stderr once its store is open, right before it runs.
const RUNNING: &str = "child: running";
const DELAY: Duration = Duration::from_millis(300);
const INSTANCES: u64 = 40;

#[derive(Event, Debug, Clone, Serialize, Deserialize)]
#[event(name = "tt.started")]
struct Started {
    id: u64,
}

#[derive(Event, Debug, Clone, Serialize, Deserialize)]
#[event(name = "tt.rang")]
struct Rang {}

#[derive(Command, Debug, Clone)]
struct Ring {
    #[id]
    id: u64,
}

#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
#[error("never")]
struct Never;

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "tt_bell", id = u64, error = Never, events(Started, Rang), commands(Ring))]
struct Bell;

impl Apply<Started> for Bell {
    fn apply(&mut self, _: &Started) {}
}
impl Apply<Rang> for Bell {
    fn apply(&mut self, _: &Rang) {}
}
impl Handle<Ring> for Bell {
    fn handle(&self, _: &Ring) -> Result<Vec<BellEvent>, Never> {
        Ok(vec![Rang {}.into()])
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Alarm;

#[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
#[process(name = "tt-alarm", key = u64, events(Started), commands(Ring), timers(Alarm))]
struct AlarmClock {
    id: u64,
}

impl React<Started> for AlarmClock {
    fn key(event: &Started, _: &EventMeta) -> Instance<u64> {
        Instance::start(event.id)
    }
    fn react(&mut self, event: &Started, _: &EventMeta, out: &mut Reaction<Self>) {
        self.id = event.id;
        out.timer_after(DELAY, Alarm);
    }
}

impl OnTimer<Alarm> for AlarmClock {
    fn on_timer(&mut self, _: &Alarm, out: &mut Reaction<Self>) {
        out.send(Ring { id: self.id });
    }
}

impl Answer<Ring> for AlarmClock {
    type Aggregate = Bell;
    fn answer(&mut self, _: &Ring, _: &Outcome<Never>, out: &mut Reaction<Self>) {
        out.finish();
    }
}

fn runner(store: &PgStore) -> ProjectionRunner<Workflow<AlarmClock, PgStore>, PgStore> {
    let router = Router::new().with(Repository::<Bell, _>::new(store.clone()));
    let workflow = Workflow::<AlarmClock, _>::new(store.clone(), router)
        .with_poll_interval(Duration::from_millis(50));
    ProjectionRunner::new(store.clone(), workflow)
}

/// The child: runs the process manager live until killed.
#[test]
fn runner_child() {
    let Ok(args) = std::env::var(CHILD) else {
        return;
    };
    let (url, schema) = args.split_once(' ').unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = PgStoreOptions::new().with_schema(SchemaName::new(schema).unwrap());
        let store = PgStore::connect_with(url, options).await.unwrap();
        eprintln!("{RUNNING}");
        runner(&store).run(std::future::pending()).await.unwrap();
    });
}

/// Passes the child's stderr on to this process's, line by line, in a thread of its own; the
/// receiver gets a message at the child's [`RUNNING`] line, or an error when the child's
/// stderr ends without it.
fn running_line(stderr: ChildStderr) -> tokio::sync::oneshot::Receiver<()> {
    let (running, said) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut running = Some(running);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("{line}");
            if line == RUNNING
                && let Some(running) = running.take()
            {
                let _ = running.send(());
            }
        }
    });
    said
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_fire_each_timer_once_and_on_time() {
    let Some(database) = testing::database_or_skip(1) else {
        return;
    };
    let pool = database.pool().await.unwrap();
    let store = testing::fresh_store(&pool).await.unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "runner_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, format!("{} {}", database.url(), store.schema()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let said = running_line(child.stderr.take().unwrap());
    match tokio::time::timeout(Duration::from_secs(60), said).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => panic!(
            "the child's stderr ended before it said {RUNNING:?}: {:?}",
            child.wait()
        ),
        Err(_) => {
            let _ = child.kill();
            panic!("the child did not say {RUNNING:?} within 60 s");
        }
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let here = runner(&store);
    let live = tokio::spawn({
        let here = here.clone();
        async move {
            here.run(async {
                let _ = stopped.await;
            })
            .await
        }
    });
    let bells = Repository::<Bell, _>::new(store.clone());
    let start = Instant::now();
    let append = async |id: u64| {
        let stream = bells.stream_id(&id).unwrap();
        let started = es_core::event::encode_event(&es_core::JsonCodec, &Started { id }).unwrap();
        store
            .append(
                &stream,
                ExpectedVersion::NoStream,
                vec![NewEvent::new(started)],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for id in 0..INSTANCES / 2 {
        append(id).await;
    }
    // The child dies with whatever it was doing: timers it held fire here.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the child died of SIGKILL: {status}"
    );
    for id in INSTANCES / 2..INSTANCES {
        append(id).await;
    }
    // Every alarm rings once, whichever process fired it.
    let rang = loop {
        let log = store.read_all(Position::START, 10_000).await.unwrap();
        let mut rang: HashMap<String, Vec<&RecordedEvent>> = HashMap::new();
        let mut started = HashMap::new();
        for event in &log {
            match &*event.name {
                "tt.started" => {
                    started.insert(event.stream_id.to_string(), event.recorded_at);
                }
                "tt.rang" => rang
                    .entry(event.stream_id.to_string())
                    .or_default()
                    .push(event),
                _ => {}
            }
        }
        if rang.len() as u64 == INSTANCES {
            for (stream, rings) in &rang {
                assert_eq!(rings.len(), 1, "{stream} rang once");
                let late = rings[0]
                    .recorded_at
                    .duration_since(started[stream])
                    .unwrap();
                assert!(
                    late >= DELAY,
                    "{stream} rang {late:?} after it started, early"
                );
            }
            break rang.len();
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of {INSTANCES} alarms rang",
            rang.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(rang as u64, INSTANCES);
    stop.send(()).unwrap();
    live.await.unwrap().unwrap();
    // Nothing more rings later.
    tokio::time::sleep(DELAY * 2).await;
    let rings = store
        .read_all(Position::START, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|event| &*event.name == "tt.rang")
        .count();
    assert_eq!(rings as u64, INSTANCES, "each alarm rang once");
}
