//! Crashes: a child process appends from several tasks and reports each acknowledged append
//! on its standard output; it is killed with `SIGKILL` at a random moment after its first
//! acknowledgement, again and again on the same file. After each kill the file is reopened
//! and must hold every acknowledged event, no partial append, contiguous stream versions and
//! gap-free positions; then appends go on (the parent appends, and the next child continues
//! every stream where the file says it stands).
//!
//! The number of kills is 20 times `ES_TEST_SCALE` (default 1); run with `--nocapture` to see
//! the figures.

#![cfg(unix)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use es_core::codec::Encoded;
use es_core::{EventStore, ExpectedVersion, NewEvent, Position, StreamId, Version};
use es_sqlite::SqliteStore;
use serde::Deserialize;
use support::{Scratch, scaled, stream};

/// The environment variable that makes `crash_child` the appending child, naming the file.
const CHILD: &str = "ES_SQLITE_CRASH_CHILD";
/// The appending tasks of the child, each on streams of its own.
const TASKS: u64 = 6;
/// The streams each task appends to, in turn.
const STREAMS_PER_TASK: u64 = 3;

/// What every event's payload holds: its append (`batch`), its index in it and the append's
/// length, so that a partial append is visible.
#[derive(Debug, Deserialize)]
struct Part {
    batch: String,
    i: u64,
    len: u64,
}

fn stream_of(task: u64, k: u64) -> StreamId {
    stream(&format!("crash-{task}_{}", k % STREAMS_PER_TASK))
}

/// The child: appends until killed. Each task appends batches of 1 to 5 events to its
/// streams in turn, with the stream's exact version expected and a command id, and prints
/// `ack <stream> <version> <first> <last> <batch> end` once the append returned (the last
/// word marks a whole line).
#[test]
fn crash_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let store = SqliteStore::open(&path)
            .await
            .expect("the child opens the store");
        let run = std::process::id();
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..TASKS {
            let store = store.clone();
            tasks.spawn(async move {
                let mut versions = BTreeMap::new();
                for k in 0u64.. {
                    let stream = stream_of(task, k);
                    let version = match versions.get(&k.rem_euclid(STREAMS_PER_TASK)) {
                        Some(&version) => version,
                        None => store.stream_version(&stream).await.expect("a version"),
                    };
                    let len = 1 + (k * 7 + task) % 5;
                    let batch = format!("{run}-{task}-{k}");
                    let command = uuid::Uuid::now_v7();
                    let events = (0..len)
                        .map(|i| {
                            let mut event = NewEvent::new(Encoded {
                                name: "crash.part",
                                version: 1,
                                payload: format!(r#"{{"batch":"{batch}","i":{i},"len":{len}}}"#)
                                    .into_bytes()
                                    .into(),
                            });
                            event.metadata.command_id = Some(command);
                            event
                        })
                        .collect();
                    let appended = store
                        .append(&stream, ExpectedVersion::at(version), events)
                        .await
                        .expect("the child's append");
                    versions.insert(k.rem_euclid(STREAMS_PER_TASK), appended.stream_version);
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(
                        out,
                        "ack {stream} {} {} {} {batch} end",
                        appended.stream_version, appended.first_position, appended.last_position
                    );
                    let _ = out.flush();
                }
            });
        }
        // The first task to end has panicked (they append until killed): the child fails.
        while let Some(ended) = tasks.join_next().await {
            ended.expect("an appending task");
        }
    });
}

/// One acknowledged append, as the child reported it.
#[derive(Debug)]
struct Ack {
    stream: String,
    version: u64,
    first: u64,
    last: u64,
    batch: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut words = line.strip_prefix("ack ")?.split(' ');
    Some(Ack {
        stream: words.next()?.to_owned(),
        version: words.next()?.parse().ok()?,
        first: words.next()?.parse().ok()?,
        last: words.next()?.parse().ok()?,
        batch: words.next()?.to_owned(),
    })
    .filter(|_| words.next() == Some("end") && words.next().is_none())
}

/// A small random number generator (xorshift), seeded from the clock; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Runs one child until it has acknowledged an append, lets it run a random while more, kills
/// it with SIGKILL, and returns every append it acknowledged.
fn run_and_kill(path: &std::path::Path, rng: &mut Rng) -> Vec<Ack> {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD, path)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the child");
    let stdout = child.stdout.take().expect("the child's stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut acks = Vec::new();
    // Wait for the first acknowledgement (the child is then past opening), up to 60 s.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acks.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => acks.extend(parse_ack(&line)),
            Err(_) => {
                let _ = child.kill();
                panic!("the child acknowledged no append within 60 s");
            }
        }
    }
    std::thread::sleep(Duration::from_millis(rng.next() % 250));
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child was killed by SIGKILL, not ended otherwise: {status}"
    );
    reader.join().expect("the reader thread");
    // Only whole lines count (they end with `end`); an ack is printed after its append
    // returned, so every whole line is an acknowledged append.
    acks.extend(received.try_iter().filter_map(|line| parse_ack(&line)));
    acks
}

/// Reopens the file and checks everything; returns the number of events.
async fn check_file(path: &std::path::Path, acks: &[Ack]) -> u64 {
    let store = SqliteStore::open(path).await.expect("reopen after a kill");
    let log = store
        .read_all(Position::START, usize::MAX)
        .await
        .expect("read the whole log");
    // Gap-free positions, from 1.
    for (n, event) in (1u64..).zip(&log) {
        assert_eq!(event.position, Position(n), "positions have no holes");
    }
    // Contiguous versions and whole appends, stream by stream.
    let mut by_stream: BTreeMap<&str, Vec<&es_core::RecordedEvent>> = BTreeMap::new();
    for event in &log {
        by_stream
            .entry(event.stream_id.as_str())
            .or_default()
            .push(event);
    }
    let mut batches: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (stream, events) in &by_stream {
        let mut expected_i = 0;
        let mut current: Option<(String, u64)> = None;
        for (n, event) in (1u64..).zip(events) {
            assert_eq!(
                event.stream_version,
                Version(n),
                "{stream}: contiguous versions"
            );
            let part: Part = serde_json::from_slice(&event.payload).expect("a part");
            match &current {
                Some((batch, len)) if *batch == part.batch => {
                    assert_eq!(part.len, *len, "{stream}: one length per append");
                }
                _ => {
                    if let Some((batch, len)) = &current {
                        assert_eq!(expected_i, *len, "{stream}: append {batch} is whole");
                    }
                    expected_i = 0;
                    current = Some((part.batch.clone(), part.len));
                    batches.insert(part.batch.clone(), (event.position.0, event.position.0));
                }
            }
            assert_eq!(
                part.i, expected_i,
                "{stream}: the parts of an append in order"
            );
            expected_i += 1;
            if let Some(span) = batches.get_mut(&part.batch) {
                span.1 = event.position.0;
            }
        }
        if let Some((batch, len)) = &current {
            assert_eq!(
                expected_i, *len,
                "{stream}: the last append {batch} is whole"
            );
        }
    }
    // Every acknowledged append is there, where it was acknowledged.
    for ack in acks {
        let span = batches.get(&ack.batch);
        assert_eq!(
            span,
            Some(&(ack.first, ack.last)),
            "acknowledged append {} (stream {}, version {}) is stored where it was acknowledged",
            ack.batch,
            ack.stream,
            ack.version
        );
        let stream = stream(&ack.stream);
        let version = store.stream_version(&stream).await.expect("a version");
        assert!(
            version.0 >= ack.version,
            "{}: version {version} < acknowledged {}",
            ack.stream,
            ack.version
        );
    }
    // Appends go on.
    let extra = stream("crash-parent");
    let version = store.stream_version(&extra).await.expect("a version");
    let part = NewEvent::new(Encoded {
        name: "crash.part",
        version: 1,
        payload: format!(r#"{{"batch":"parent-{}","i":0,"len":1}}"#, log.len())
            .into_bytes()
            .into(),
    });
    let appended = store
        .append(&extra, ExpectedVersion::at(version), vec![part])
        .await
        .expect("appends go on after a crash");
    assert_eq!(appended.first_position, Position(log.len() as u64 + 1));
    store.close().await;
    log.len() as u64 + 1
}

#[test]
fn acknowledged_appends_survive_sigkill() {
    if std::env::var(CHILD).is_ok() {
        return;
    }
    let kills = scaled(20).max(20);
    let scratch = Scratch::new("crash");
    let path = scratch.path("crash.db");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
        | 1;
    println!("crash test: seed {seed:#x}, {kills} kills");
    let mut rng = Rng(seed);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let (mut acked, mut events) = (0usize, 0u64);
    let mut all_acks = Vec::new();
    for kill in 1..=kills {
        let acks = run_and_kill(&path, &mut rng);
        acked += acks.len();
        all_acks.extend(acks);
        // Every acknowledgement of every run so far still holds.
        events = runtime.block_on(check_file(&path, &all_acks));
        println!("kill {kill}: {acked} acknowledged appends so far, {events} events in the file");
    }
    println!(
        "crash test: {kills} SIGKILLs, {acked} acknowledged appends checked after each, {events} events"
    );
    assert!(
        acked >= kills as usize,
        "every child acknowledged at least one append"
    );
}
