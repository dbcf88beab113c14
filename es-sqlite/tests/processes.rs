//! Two processes on one file: a child process appends while this process follows the log with
//! a live subscription; every event arrives once, in order. The two open (and so create and
//! migrate) the new file at the same moment.

#![cfg(unix)]

mod support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use es_core::{EventStore, ExpectedVersion, Position, Version};
use es_sqlite::{SqliteOptions, SqliteStore};
use support::{Scratch, event, scaled, stream};

/// The environment variable that makes `appender_child` the appending child: `<path>`.
const CHILD: &str = "ES_SQLITE_APPENDER_CHILD";
/// The child's appending tasks; each appends to a stream of its own.
const TASKS: u64 = 4;

fn per_task() -> u64 {
    scaled(250)
}

/// The child: `TASKS` tasks append `per_task()` single events each, to a stream of their own,
/// with the exact version expected, pausing now and then so the subscriber is live.
#[test]
fn appender_child() {
    let Ok(path) = std::env::var(CHILD) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let store = SqliteStore::open(&path)
            .await
            .expect("the child opens the store");
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let store = store.clone();
                tokio::spawn(async move {
                    let stream = stream(&format!("proc-{task}"));
                    for n in 1..=per_task() {
                        store
                            .append(
                                &stream,
                                ExpectedVersion::at(Version(n - 1)),
                                vec![event("proc.appended", n)],
                            )
                            .await
                            .expect("the child's append");
                        if n % 50 == 0 {
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("an appending task");
        }
        store.close().await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_subscription_sees_another_process_appends_once_in_order() {
    let scratch = Scratch::new("processes");
    let path = scratch.path("shared.db");
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "appender_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the appending child");
    // Opened at the same moment as the child opens it: both create and migrate.
    let options = SqliteOptions::new().with_poll_interval(Duration::from_millis(10));
    let store = SqliteStore::open_with(&path, options)
        .await
        .expect("this process opens the store");
    let total = TASKS * per_task();
    let mut subscription = store.subscribe(Position::START);
    let mut next_n = vec![1u64; TASKS as usize];
    let start = Instant::now();
    for expected in 1..=total {
        let event = tokio::time::timeout(Duration::from_secs(30), subscription.next())
            .await
            .unwrap_or_else(|_| panic!("event {expected} of {total} did not arrive in 30 s"))
            .expect("a live event");
        assert_eq!(
            event.position,
            Position(expected),
            "in order, no gap, no repeat"
        );
        let task: usize = event
            .stream_id
            .as_str()
            .strip_prefix("proc-")
            .and_then(|task| task.parse().ok())
            .expect("a stream of the child");
        let payload: serde_json::Value = serde_json::from_slice(&event.payload).expect("JSON");
        assert_eq!(
            payload["n"], next_n[task],
            "each stream's events once, in order"
        );
        assert_eq!(event.stream_version, Version(next_n[task]));
        next_n[task] += 1;
    }
    let status = child.wait().expect("the child ends");
    assert!(status.success(), "the appending child failed: {status}");
    // Nothing more arrives: every event was delivered once.
    let extra = tokio::time::timeout(Duration::from_millis(200), subscription.next()).await;
    assert!(extra.is_err(), "no event after the last: {extra:?}");
    println!(
        "{total} events appended by another process, delivered live in {:?}",
        start.elapsed()
    );
    store.close().await;
}
