//! The tests, run one after the other by [`run_all`].

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::process::{ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use es_core::prelude::*;
use es_core::process::{ProcessManager, ProcessStore, Router, Workflow};
use es_core::store::Inspect;
use es_examples::bank::balance_table::balance_rows;
use es_examples::bank::process::{TransferProcess, workflow};
use es_examples::bank::transfer::{RequestTransfer, Transfer, TransferId};
use es_examples::bank::views::Balances;
use es_examples::bank::{Account, AccountId, Deposit, OpenAccount};
use es_sqlite::SqliteStore;
use serde_json::Value;

use crate::catalog::catalog_is_the_domains_in_each_format;
use crate::fill::{bank_day, fresh_file, many_events, remove_files};
#[cfg(unix)]
use crate::run::es_inspect_postgres;
use crate::run::{bank_inspect, bank_inspect_on_terminal, es_inspect};

/// Each test function with its name.
macro_rules! named {
    ($($test:ident),* $(,)?) => {
        vec![$((stringify!($test), $test as fn())),*]
    };
}

/// Runs every test, or those whose names contain one of the arguments; the first failure
/// panics, which fails the program.
pub(crate) fn run_all() -> ExitCode {
    let mut tests: Vec<(&str, fn())> = named![
        streams_lists_every_stream_with_its_version,
        events_are_raw_standalone_and_decoded_with_the_bank_types,
        what_does_not_exist_is_not_found,
        usage_errors_exit_with_2,
        stats_count_what_the_store_holds,
        projections_show_checkpoint_head_and_lag,
        processes_show_timers,
        a_parked_instance_is_listed_and_retried,
        tail_shows_events_appended_after_it_started,
        rebuild_when_piped_writes_lines_and_restores_the_table,
        colour_only_on_a_terminal_without_no_color,
        catalog_is_the_domains_in_each_format,
    ];
    #[cfg(unix)]
    tests.extend(named![es_inspect_on_postgres]);
    tests.extend(named![rebuild_on_a_terminal_shows_progress]);
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .collect();
    for (name, test) in tests {
        if !filter.is_empty() && !filter.iter().any(|wanted| name.contains(wanted.as_str())) {
            continue;
        }
        let started = Instant::now();
        test();
        println!(
            "test {name} ... ok ({:.1} s)",
            started.elapsed().as_secs_f64()
        );
    }
    remove_files();
    ExitCode::SUCCESS
}

pub(crate) fn block_on<T>(future: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(future)
}

/// A store of the bank's day in a fresh file: its path, and the store, open.
fn bank_file(name: &str) -> (std::path::PathBuf, SqliteStore) {
    let path = fresh_file(name);
    let store = block_on(bank_day(&path));
    (path, store)
}

fn streams_lists_every_stream_with_its_version() {
    let (path, store) = bank_file("streams.db");
    let stored = block_on(store.streams(None, 1000)).expect("streams");
    let json = es_inspect(&path, &["streams", "--json"]).json();
    let listed = json["streams"].as_array().expect("a list");
    assert_eq!(listed.len(), stored.len());
    for (listed, stored) in listed.iter().zip(&stored) {
        assert_eq!(listed["stream"], stored.id.as_str());
        assert_eq!(listed["version"], stored.version.0);
        assert_eq!(listed["last_position"], stored.last_position.0);
    }
    assert_eq!(json["more"], false);

    let paged = es_inspect(&path, &["streams", "--limit", "2", "--json"]).json();
    assert_eq!(paged["streams"].as_array().expect("a list").len(), 2);
    assert_eq!(paged["more"], true);

    let table = es_inspect(&path, &["streams"]);
    assert_eq!(table.code, 0);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(lines[0].starts_with("STREAM"), "{}", table.stdout);
    assert_eq!(lines.len(), stored.len() + 1);
    // Each row: the stream, then its version where the VERSION column ends.
    let version_end = lines[0].find("VERSION").expect("a VERSION column") + "VERSION".len();
    for (line, stream) in lines[1..].iter().zip(&stored) {
        assert!(line.starts_with(stream.id.as_str()));
        assert!(
            line[..version_end].ends_with(&stream.version.0.to_string()),
            "{line}"
        );
    }
}

fn events_are_raw_standalone_and_decoded_with_the_bank_types() {
    let (path, store) = bank_file("events.db");
    let stream = StreamId::new("account-1").expect("a stream id");
    let stored = block_on(store.read_stream(&stream, Version(1), 100)).expect("read");

    let raw = es_inspect(&path, &["events", "account-1", "--json"]).json();
    let events = raw["events"].as_array().expect("a list");
    assert_eq!(events.len(), stored.len());
    for (listed, stored) in events.iter().zip(&stored) {
        assert_eq!(listed["name"], &*stored.name);
        assert_eq!(listed["position"], stored.position.0);
        let payload: Value = serde_json::from_slice(&stored.payload).expect("JSON");
        assert_eq!(listed["payload"], payload);
        assert!(listed.get("decoded").is_none());
    }

    let decoded = bank_inspect(&path, &["events", "account-1", "--json"]).json();
    let first = &decoded["events"][0];
    assert_eq!(first["name"], "account.opened");
    let text = first["decoded"].as_str().expect("decoded text");
    assert!(
        text.contains("AccountOpened") && text.contains("Alice"),
        "{text}"
    );
    let forced_raw = bank_inspect(&path, &["events", "account-1", "--raw", "--json"]).json();
    assert!(forced_raw["events"][0].get("decoded").is_none());

    let table = bank_inspect(&path, &["events", "account-1", "--from", "2"]);
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert_eq!(
        table.stdout.lines().count(),
        stored.len(),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("account.deposited v1"),
        "{}",
        table.stdout
    );
}

fn what_does_not_exist_is_not_found() {
    let (path, _store) = bank_file("missing.db");
    let ran = es_inspect(&path, &["events", "account-404"]);
    assert_eq!(ran.code, 3);
    assert_eq!(ran.stdout, "");
    assert_eq!(ran.stderr, "error: no stream account-404\n");

    let ran = es_inspect(&path, &["projections", "no-such-projection"]);
    assert_eq!(ran.code, 3);
    assert!(ran.stderr.contains("no-such-projection"), "{}", ran.stderr);

    let ran = bank_inspect(&path, &["rebuild", "no-such-projection"]);
    assert_eq!(ran.code, 3);
    assert!(
        ran.stderr.contains("registered: balance-sheet"),
        "{}",
        ran.stderr
    );
    // The standalone binary has no projection to rebuild.
    assert_eq!(es_inspect(&path, &["rebuild", "balance-sheet"]).code, 3);

    let unknown = Uuid::now_v7().to_string();
    let name = TransferProcess::NAME;
    let ran = bank_inspect(&path, &["processes", name, "--retry", &unknown]);
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(ran.stderr.contains(&unknown), "{}", ran.stderr);

    let ran = es_inspect(&fresh_file("never-created.db"), &["streams"]);
    assert_eq!(ran.code, 3);
}

fn usage_errors_exit_with_2() {
    let (path, _store) = bank_file("usage.db");
    let ran = es_inspect(&path, &["events"]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("STREAM"), "{}", ran.stderr);
    assert_eq!(es_inspect(&path, &["no-such-command"]).code, 2);
    // The standalone binary has no catalog; `--retry` needs one process name.
    let ran = es_inspect(&path, &["catalog"]);
    assert_eq!(ran.code, 2);
    assert!(
        ran.stderr.starts_with("error: no catalog"),
        "{}",
        ran.stderr
    );
    assert_eq!(bank_inspect(&path, &["processes", "--retry", "x"]).code, 2);
    // A key that is not a transfer id.
    let name = TransferProcess::NAME;
    assert_eq!(
        bank_inspect(&path, &["processes", name, "--retry", "x"]).code,
        2
    );
    let help = es_inspect(&path, &["--help"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.contains("rebuild"), "{}", help.stdout);
}

fn stats_count_what_the_store_holds() {
    let (path, store) = bank_file("stats.db");
    let all = block_on(store.read_all(Position::START, 10_000)).expect("read");
    let json = es_inspect(&path, &["stats", "--json"]).json();
    assert_eq!(json["events"], all.len());
    let deposits = all
        .iter()
        .filter(|e| &*e.name == "account.deposited")
        .count();
    let by_event = json["by_event"].as_array().expect("a list");
    let listed = by_event
        .iter()
        .find(|row| row["name"] == "account.deposited")
        .expect("deposits");
    assert_eq!(listed["events"], deposits);
    let sum: u64 = by_event
        .iter()
        .map(|row| row["events"].as_u64().expect("a count"))
        .sum();
    assert_eq!(sum, all.len() as u64);
    let accounts = json["by_aggregate"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|row| row["aggregate"] == "account")
        .expect("accounts")
        .clone();
    assert_eq!(accounts["streams"], 3);
    let by_time: u64 = json["by_time"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|row| row["events"].as_u64().expect("a count"))
        .sum();
    assert_eq!(by_time, all.len() as u64);
    let table = es_inspect(&path, &["stats"]);
    assert!(
        table
            .stdout
            .starts_with(&format!("{} events in", all.len())),
        "{}",
        table.stdout
    );
}

fn projections_show_checkpoint_head_and_lag() {
    let (path, store) = bank_file("projections.db");
    let head = block_on(store.head()).expect("head");
    let stored = block_on(store.checkpoints()).expect("checkpoints");
    let json = es_inspect(&path, &["projections", "--json"]).json();
    assert_eq!(json["head"], head.0);
    let listed = json["projections"].as_array().expect("a list");
    assert_eq!(listed.len(), stored.len());
    for (row, stored) in listed.iter().zip(&stored) {
        assert_eq!(row["name"], stored.name.as_str());
        assert_eq!(row["checkpoint"], stored.position.0);
        assert_eq!(row["lag"], head.0 - stored.position.0);
    }
    let sheet = es_inspect(&path, &["projections", "balance-sheet", "--json"]).json();
    assert_eq!(sheet["projections"][0]["lag"], 0);
    // Events after the checkpoint are lag.
    let accounts = Repository::<Account, _>::new(store.clone());
    block_on(accounts.execute(Deposit {
        account: AccountId(2),
        amount: 5,
    }))
    .expect("deposited");
    let sheet = bank_inspect(&path, &["projections", "balance-sheet", "--json"]).json();
    assert_eq!(sheet["projections"][0]["lag"], 1);
    assert_eq!(sheet["projections"][0]["registered"], true);
}

fn processes_show_timers() {
    let (path, store) = bank_file("processes.db");
    let name = TransferProcess::NAME;
    let now = SystemTime::now();
    let later = now + Duration::from_secs(3600);
    let timers = block_on(store.due_timers(name, later, 100)).expect("timers");
    // The transfer into the frozen account waits for its retry (in 30 s) and its deadline.
    assert_eq!(timers.len(), 2);
    // Standalone, unnamed: found by its timers.
    let json = es_inspect(&path, &["processes", "--json"]).json();
    let process = &json["processes"][0];
    assert_eq!(process["name"], name);
    let listed = process["timers"].as_array().expect("a list");
    assert_eq!(listed.len(), timers.len());
    for (listed, stored) in listed.iter().zip(&timers) {
        assert_eq!(listed["key"], stored.key.as_str());
        assert_eq!(listed["timer"], stored.name.as_str());
        assert_eq!(listed["due"], stored.due <= now);
    }
    assert_eq!(
        process["due_timers"],
        timers.iter().filter(|t| t.due <= now).count()
    );
    assert_eq!(process["parked"].as_array().expect("a list").len(), 0);
    // Registered in the bank's inspector: listed without being named.
    let registered = bank_inspect(&path, &["processes", "--json"]).json();
    assert_eq!(registered["processes"][0]["name"], name);
    let table = bank_inspect(&path, &["processes"]);
    assert!(
        table
            .stdout
            .lines()
            .any(|line| line.starts_with("PROCESS") && line.contains("TIMERS"))
    );
    assert!(table.stdout.contains(&timers[0].key), "{}", table.stdout);
    assert_eq!(es_inspect(&path, &["processes", "no-such-process"]).code, 3);
}

fn a_parked_instance_is_listed_and_retried() {
    let (path, store) = bank_file("parked.db");
    let name = TransferProcess::NAME;
    let transfers = Repository::<Transfer, _>::new(store.clone());
    let transfer = TransferId::new();
    let request = RequestTransfer {
        transfer,
        from: AccountId(1),
        to: AccountId(2),
        amount: 100,
    };
    block_on(transfers.execute(request)).expect("requested");
    // A runner whose router reaches no aggregate: the new transfer's first command cannot be
    // sent, and its instance is parked.
    let cut_off = Workflow::<TransferProcess, _>::new(store.clone(), Router::new());
    block_on(ProjectionRunner::new(store.clone(), cut_off).catch_up()).expect("caught up");
    let parked = block_on(store.parked_instances(name)).expect("parked");
    assert_eq!(parked.len(), 1);
    let key = parked[0].key.clone();
    let error = parked[0]
        .parked
        .as_ref()
        .expect("a parked record")
        .error
        .clone();

    let json = es_inspect(&path, &["processes", name, "--json"]).json();
    let listed = &json["processes"][0]["parked"];
    assert_eq!(listed.as_array().expect("a list").len(), 1);
    assert_eq!(listed[0]["key"], key.as_str());
    assert_eq!(listed[0]["error"], error.as_str());
    assert_eq!(listed[0]["retry_asked"], false);
    let table = es_inspect(&path, &["processes", name]);
    assert!(table.stdout.contains("PARKED SINCE"), "{}", table.stdout);

    // The key as listed (JSON), or bare.
    let bare = key.trim_matches('"');
    assert_eq!(bare, transfer.0.to_string());
    let ran = bank_inspect(&path, &["processes", name, "--retry", bare]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let parked = block_on(store.parked_instances(name)).expect("parked");
    assert!(
        parked[0]
            .parked
            .as_ref()
            .expect("still parked until a runner retries")
            .retry
    );
    let json = es_inspect(&path, &["processes", name, "--json"]).json();
    assert_eq!(json["processes"][0]["parked"][0]["retry_asked"], true);

    // A runner with the whole router carries it out.
    let process = ProjectionRunner::new(store.clone(), workflow(&store));
    block_on(process.catch_up()).expect("caught up");
    assert!(
        block_on(store.parked_instances(name))
            .expect("parked")
            .is_empty()
    );
    let state = block_on(transfers.load(&transfer)).expect("loaded").state;
    assert_eq!(format!("{:?}", state.status()), "Completed");
}

fn tail_shows_events_appended_after_it_started() {
    let (path, store) = bank_file("tail.db");
    let head = block_on(store.head()).expect("head");
    let mut tail = std::process::Command::new(env!("CARGO_BIN_EXE_es-inspect"))
        .arg("--sqlite")
        .arg(&path)
        .args(["tail", "--json", "--after", &head.0.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("es-inspect runs");
    let stdout = tail.stdout.take().expect("its output");
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let accounts = Repository::<Account, _>::new(store.clone());
    for amount in [11, 22, 33] {
        block_on(accounts.execute(Deposit {
            account: AccountId(2),
            amount,
        }))
        .expect("deposited");
    }
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("a line of the tail");
        let event: Value = serde_json::from_str(&line).expect("one JSON object per line");
        seen.push(event);
    }
    tail.kill().expect("the tail stops");
    let _ = tail.wait();
    for (event, (amount, position)) in seen.iter().zip([(11, 1), (22, 2), (33, 3)]) {
        assert_eq!(event["stream"], "account-2");
        assert_eq!(event["name"], "account.deposited");
        assert_eq!(event["payload"]["amount"], amount);
        assert_eq!(event["position"], head.0 + position);
    }
    // `--count` stops by itself; from the start of the log, the first events.
    let ran = es_inspect(&path, &["tail", "--after", "0", "--count", "2"]);
    assert_eq!(ran.code, 0);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0].starts_with("1 ") && lines[0].contains("account-1@1 account.opened"),
        "{}",
        lines[0]
    );
}

fn rebuild_when_piped_writes_lines_and_restores_the_table() {
    let (path, store) = bank_file("rebuild-piped.db");
    let head = block_on(store.head()).expect("head");
    let fresh = ProjectionRunner::new(store.clone(), Balances::default());
    block_on(fresh.catch_up()).expect("caught up");
    let expected = fresh.read().open.clone();
    block_on(store.close());
    // Spoil the table: the rebuild must bring it back.
    let conn = es_sqlite::rusqlite::Connection::open(&path).expect("the file opens");
    conn.execute("UPDATE bank_balances SET balance = -1", [])
        .expect("spoiled");
    drop(conn);

    let ran = bank_inspect(&path, &["rebuild", "balance-sheet"]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(!ran.stdout.contains('\r'), "{:?}", ran.stdout);
    let last = ran.stdout.lines().last().expect("a summary");
    assert!(
        last.starts_with(&format!("rebuilt balance-sheet to position {}", head.0)),
        "{last}"
    );
    let store = block_on(SqliteStore::open(&path)).expect("the store opens");
    assert_eq!(block_on(balance_rows(&store)).expect("rows"), expected);

    let json = bank_inspect(&path, &["rebuild", "balance-sheet", "--json"]).json();
    assert_eq!(json["projection"], "balance-sheet");
    assert_eq!(json["position"], head.0);
}

fn colour_only_on_a_terminal_without_no_color() {
    let (path, store) = bank_file("colour.db");
    block_on(store.close());
    let piped = bank_inspect(&path, &["projections"]);
    assert!(!piped.stdout.contains('\x1b'), "{:?}", piped.stdout);
    let terminal = bank_inspect_on_terminal(&path, &["projections"], &[]);
    assert!(
        terminal.stdout.contains("\x1b[1mNAME\x1b[0m"),
        "{:?}",
        terminal.stdout
    );
    let no_color = bank_inspect_on_terminal(&path, &["projections"], &[("NO_COLOR", "1")]);
    assert!(no_color.stdout.contains("NAME"), "{:?}", no_color.stdout);
    assert!(!no_color.stdout.contains('\x1b'), "{:?}", no_color.stdout);
}

/// `es-inspect --postgres URL --schema NAME`, on a throwaway server (or `DATABASE_URL`'s);
/// skipped when there is none.
#[cfg(unix)]
fn es_inspect_on_postgres() {
    use es_postgres::testing;
    let Some(database) = testing::database_or_skip(1) else {
        return;
    };
    // One runtime for the whole test: the pool's connections belong to the runtime that
    // opened them, and a runtime per call would shut them down between calls.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let store = runtime.block_on(async {
        let pool = database.pool().await.expect("a pool");
        let store = testing::fresh_store(&pool).await.expect("a store");
        let accounts = Repository::<Account, _>::new(store.clone());
        let account = AccountId(1);
        accounts
            .execute(OpenAccount {
                account,
                owner: "Ada".into(),
            })
            .await
            .expect("opened");
        accounts
            .execute(Deposit { account, amount: 5 })
            .await
            .expect("deposited");
        store
            .save_checkpoint("audit", Position(1))
            .await
            .expect("saved");
        store
    });
    let (url, schema) = (database.url(), store.schema().as_str());
    let streams = es_inspect_postgres(url, schema, &["streams", "--json"]).json();
    assert_eq!(streams["streams"][0]["stream"], "account-1");
    assert_eq!(streams["streams"][0]["version"], 2);
    let events = es_inspect_postgres(url, schema, &["events", "account-1", "--json"]).json();
    assert_eq!(events["events"][1]["payload"]["amount"], 5);
    let projections = es_inspect_postgres(url, schema, &["projections", "--json"]).json();
    assert_eq!(projections["projections"][0]["name"], "audit");
    assert_eq!(projections["projections"][0]["lag"], 1);
    assert_eq!(
        es_inspect_postgres(url, schema, &["events", "account-2"]).code,
        3
    );
    runtime
        .block_on(testing::drop_schema(&store))
        .expect("dropped");
}

/// The number of events of the terminal rebuild: 1,000,000 times `ES_TEST_SCALE` (default 1).
fn scale() -> u64 {
    std::env::var("ES_TEST_SCALE")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(1)
}

fn rebuild_on_a_terminal_shows_progress() {
    let events = 1_000_000 * scale();
    let path = fresh_file("rebuild-terminal.db");
    let started = Instant::now();
    let store = block_on(many_events(&path, events));
    let head = block_on(store.head()).expect("head");
    assert_eq!(head.0, events);
    println!(
        "  filled {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    block_on(store.close());

    let started = Instant::now();
    let ran = bank_inspect_on_terminal(&path, &["rebuild", "balance-sheet"], &[]);
    println!(
        "  rebuilt on a terminal in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(ran.code, 0, "{}", ran.stdout);
    let updates: Vec<&str> = ran
        .stdout
        .split('\r')
        .filter(|part| part.contains("% "))
        .collect();
    assert!(updates.len() >= 3, "few progress updates: {:?}", ran.stdout);
    assert!(
        updates
            .iter()
            .any(|update| update.contains("events/s") && update.contains("ETA"))
    );
    assert!(
        updates.iter().any(|update| update.starts_with("[#")),
        "no bar: {updates:?}"
    );
    assert!(
        ran.stdout
            .contains(&format!("rebuilt balance-sheet to position {events}"))
    );

    let store = block_on(SqliteStore::open(&path)).expect("the store opens");
    let fresh = ProjectionRunner::new(store.clone(), Balances::default()).with_batch_size(10_000);
    block_on(fresh.catch_up()).expect("caught up");
    let expected = fresh.read().open.clone();
    assert_eq!(expected.len(), 100);
    assert_eq!(block_on(balance_rows(&store)).expect("rows"), expected);
}
