//! Bad days: files that are not stores, a newer schema, a new file opened by many at once, a
//! full disk, a read-only store, a damaged page, values edited by hand, a conflict inside a
//! group commit. Each is a typed error, nothing is half-written, and the store keeps working
//! where the fault allows.

mod support;

use std::path::Path;

use bytes::Bytes;
use es_core::codec::Encoded;
use es_core::process::{InstanceRow, ProcessStore, ProcessWork};
use es_core::projection::{Advance, Committed};
use es_core::{
    CheckpointStore, EventStore, ExpectedVersion, NewEvent, Position, StoreError, Version,
};
use es_sqlite::rusqlite::Connection;
use es_sqlite::{ErrorKind, OpenError, SqliteError, SqliteOptions, SqliteStore};
use support::{Scratch, event, scaled, stream};

fn kind(error: &StoreError) -> Option<ErrorKind> {
    match error {
        StoreError::Backend(source) => source.downcast_ref::<SqliteError>().map(SqliteError::kind),
        _ => None,
    }
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read the file")
}

/// A store at `path` holding `streams` streams of `per` events, closed.
async fn filled(path: &Path, streams: u64, per: u64, payload: usize) {
    let store = SqliteStore::open(path).await.expect("open");
    for s in 0..streams {
        let events = (0..per)
            .map(|n| {
                NewEvent::new(Encoded {
                    name: "filled",
                    version: 1,
                    payload: format!("{{\"n\":{n},\"pad\":\"{}\"}}", "x".repeat(payload))
                        .into_bytes()
                        .into(),
                })
            })
            .collect();
        store
            .append(
                &stream(&format!("fill-{s}")),
                ExpectedVersion::NoStream,
                events,
            )
            .await
            .expect("append");
    }
    store.close().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_untouched() {
    let scratch = Scratch::new("not-db");
    let path = scratch.path("notes.txt");
    std::fs::write(&path, "these are my notes, not a database\n".repeat(200)).expect("write");
    let before = bytes(&path);
    let error = SqliteStore::open(&path).await.expect_err("not a database");
    assert!(matches!(error, OpenError::NotADatabase { .. }), "{error:?}");
    assert!(error.to_string().contains("notes.txt"), "{error}");
    assert_eq!(bytes(&path), before, "the file is untouched");
}

#[tokio::test]
async fn another_programs_database_is_refused_untouched() {
    let scratch = Scratch::new("foreign");
    let path = scratch.path("other.db");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
            .expect("create");
    }
    let before = bytes(&path);
    let error = SqliteStore::open(&path)
        .await
        .expect_err("another program's");
    let OpenError::NotAnEventStore { found, .. } = &error else {
        panic!("expected NotAnEventStore, got {error:?}");
    };
    assert!(found.contains("1 table"), "{found}");
    assert_eq!(bytes(&path), before, "the file is untouched");
    assert!(!scratch.path("other.db-wal").exists(), "no WAL was created");
}

#[tokio::test]
async fn a_newer_schema_is_refused_untouched() {
    let scratch = Scratch::new("newer");
    let path = scratch.path("app.db");
    filled(&path, 2, 3, 10).await;
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute(
            "INSERT INTO es_migrations (version, applied_at) VALUES (99, 0)",
            [],
        )
        .expect("a migration from the future");
    }
    let before = bytes(&path);
    for options in [SqliteOptions::new(), SqliteOptions::new().read_only()] {
        let error = SqliteStore::open_with(&path, options)
            .await
            .expect_err("newer");
        assert!(
            matches!(
                error,
                OpenError::NewerSchema {
                    found: 99,
                    known,
                    ..
                } if known == SqliteStore::migration_versions().last().copied().unwrap_or(0)
            ),
            "{error:?}"
        );
    }
    assert_eq!(bytes(&path), before, "the file is untouched");
}

/// Many openers of one new file at once: each judges the file before taking the write lock,
/// and none may take the store another is creating for a foreign database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_file_opened_by_many_at_once_becomes_one_store() {
    let scratch = Scratch::new("openers");
    for round in 0..scaled(30) {
        let path = scratch.path(&format!("round-{round}.db"));
        let opening: Vec<_> = (0..8)
            .map(|_| tokio::spawn(SqliteStore::open(path.clone())))
            .collect();
        let mut stores = Vec::new();
        for open in opening {
            let opened = open.await.expect("an opening task");
            stores.push(opened.unwrap_or_else(|e| panic!("round {round}: {e}")));
        }
        let appended = stores[0]
            .append(
                &stream("openers-1"),
                ExpectedVersion::NoStream,
                vec![event("opened", 1)],
            )
            .await
            .expect("append");
        for store in &stores {
            let events = store.read_all(Position::START, 10).await.expect("read");
            assert_eq!(events.len(), 1, "round {round}: one store, one log");
            assert_eq!(events[0].position, appended.last_position);
        }
        for store in stores {
            store.close().await;
        }
        let conn = Connection::open(&path).expect("open");
        let migrations: i64 = conn
            .query_row("SELECT count(*) FROM es_migrations", [], |row| row.get(0))
            .expect("count the migrations");
        assert_eq!(
            usize::try_from(migrations).ok(),
            Some(SqliteStore::migration_versions().len()),
            "round {round}: each migration applied once"
        );
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_append_alone_and_writes_nothing() {
    let scratch = Scratch::new("full");
    let path = scratch.path("app.db");
    let options = SqliteOptions::new().with_size_limit(256 * 1024);
    let store = SqliteStore::open_with(&path, options).await.expect("open");
    let small = stream("small-1");
    store
        .append(&small, ExpectedVersion::NoStream, vec![event("small", 1)])
        .await
        .expect("a small append fits");

    // Appends queued together share a group commit: the one that does not fit fails alone.
    // Another connection holds the file's write lock while they queue, so that they form one
    // group, the big one in the middle. (SQLite rolls the whole transaction back on a full
    // disk: the appends before the big one run again.)
    let blocker = Connection::open(&path).expect("another connection");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let big_stream = stream("big-1");
    let mut appends = Vec::new();
    for n in 0..17u64 {
        let store = store.clone();
        let (target, events) = if n == 8 {
            let big = NewEvent::new(Encoded {
                name: "big",
                version: 1,
                payload: vec![b'x'; 1024 * 1024].into(),
            });
            (big_stream.clone(), vec![big])
        } else {
            (stream(&format!("small-{}", n + 2)), vec![event("small", n)])
        };
        appends.push(tokio::spawn(async move {
            store
                .append(&target, ExpectedVersion::NoStream, events)
                .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    blocker
        .execute_batch("COMMIT")
        .expect("release the write lock");
    for (n, append) in appends.into_iter().enumerate() {
        let outcome = append.await.expect("a task");
        if n == 8 {
            let refused = outcome.expect_err("a megabyte does not fit in 256 KiB");
            assert_eq!(kind(&refused), Some(ErrorKind::DiskFull), "{refused:?}");
        } else {
            outcome.expect("the small appends fit");
        }
    }
    assert_eq!(
        store.stream_version(&big_stream).await.expect("version"),
        Version(0),
        "nothing of the refused append was written"
    );
    let log = store.read_all(Position::START, 100).await.expect("read");
    assert_eq!(log.len(), 17, "the 17 small appends, and nothing else");
    for (n, event) in (1u64..).zip(&log) {
        assert_eq!(
            event.position,
            Position(n),
            "no hole where the refused append was"
        );
    }
    // The store goes on.
    store
        .append(
            &small,
            ExpectedVersion::at(Version(1)),
            vec![event("small", 2)],
        )
        .await
        .expect("appends go on");
    store.close().await;

    // With room, the append goes through.
    let store = SqliteStore::open(&path)
        .await
        .expect("reopen without a limit");
    let big = NewEvent::new(Encoded {
        name: "big",
        version: 1,
        payload: vec![b'x'; 1024 * 1024].into(),
    });
    store
        .append(&big_stream, ExpectedVersion::NoStream, vec![big])
        .await
        .expect("fits now");
    store.close().await;
}

#[tokio::test]
async fn a_read_only_store_reads_and_refuses_every_write() {
    let scratch = Scratch::new("read-only");
    let path = scratch.path("app.db");
    filled(&path, 3, 4, 10).await;
    let before = bytes(&path);
    let store = SqliteStore::open_with(&path, SqliteOptions::new().read_only())
        .await
        .expect("open read-only");
    let log = store
        .read_all(Position::START, 100)
        .await
        .expect("reads work");
    assert_eq!(log.len(), 12);
    let refused = store
        .append(
            &stream("fill-0"),
            ExpectedVersion::Any,
            vec![event("more", 1)],
        )
        .await
        .expect_err("read-only");
    assert_eq!(kind(&refused), Some(ErrorKind::ReadOnly), "{refused:?}");
    let refused = store
        .save_checkpoint("p", Position(3))
        .await
        .expect_err("read-only");
    assert_eq!(kind(&refused), Some(ErrorKind::ReadOnly), "{refused:?}");
    assert_eq!(
        store
            .read_all(Position::START, 100)
            .await
            .expect("reads")
            .len(),
        12
    );
    store.close().await;
    assert_eq!(bytes(&path), before, "the file is untouched");

    let missing = scratch.path("missing.db");
    let error = SqliteStore::open_with(&missing, SqliteOptions::new().read_only())
        .await
        .expect_err("nothing to read");
    assert!(matches!(error, OpenError::ReadOnly { .. }), "{error:?}");
    assert!(!missing.exists(), "a read-only open creates nothing");
}

#[tokio::test]
async fn a_damaged_page_is_corrupt_naming_the_file_and_other_reads_go_on() {
    let scratch = Scratch::new("damaged");
    let path = scratch.path("app.db");
    filled(&path, 40, 50, 200).await;
    // Overwrite pages in the second half of the file (the log's leaves) with garbage.
    let mut data = bytes(&path);
    let page = 4096;
    let pages = data.len() / page;
    assert!(pages > 20, "a file of {pages} pages");
    for p in (pages / 2)..(pages / 2 + 4) {
        for (i, byte) in data[p * page..(p + 1) * page].iter_mut().enumerate() {
            *byte = (i * 31 % 251) as u8;
        }
    }
    std::fs::write(&path, &data).expect("damage the file");

    let store = match SqliteStore::open(&path).await {
        Ok(store) => store,
        Err(error) => {
            // Damage found while opening is a typed error too.
            assert!(matches!(error, OpenError::Corrupt { .. }), "{error:?}");
            return;
        }
    };
    let mut after = Position::START;
    let error = loop {
        match store.read_all(after, 100).await {
            Ok(page) if page.is_empty() => panic!("the whole log read despite the damage"),
            Ok(page) => after = page.last().map_or(after, |e| e.position),
            Err(error) => break error,
        }
    };
    let StoreError::Corrupt { location, problem } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert!(location.contains("app.db"), "{location}");
    assert!(!problem.is_empty());
    // The first streams are on pages before the damage.
    let first = store
        .read_stream(&stream("fill-0"), Version(1), 100)
        .await
        .expect("a stream before the damage reads");
    assert_eq!(first.len(), 50);
}

#[tokio::test]
async fn values_edited_by_hand_are_corrupt_naming_table_row_and_column() {
    let scratch = Scratch::new("edited");
    let path = scratch.path("app.db");
    filled(&path, 1, 5, 1).await;
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "UPDATE es_events SET headers = 'not json' WHERE position = 2;
             UPDATE es_events SET event_id = x'0102' WHERE position = 4;",
        )
        .expect("edit");
    }
    let store = SqliteStore::open(&path).await.expect("open");
    let first = store
        .read_all(Position::START, 1)
        .await
        .expect("position 1 is fine");
    assert_eq!(first.len(), 1);
    for (after, column) in [(1, "headers"), (3, "event_id")] {
        let error = store
            .read_all(Position(after), 1)
            .await
            .expect_err("an edited value");
        let StoreError::Corrupt { location, .. } = &error else {
            panic!("expected Corrupt, got {error:?}");
        };
        assert!(
            location.ends_with(&format!(
                "es_events, position {}, column {column}",
                after + 1
            )),
            "{location}"
        );
    }
    // The rest of the store works: appends, and reads that do not meet the values.
    store
        .append(
            &stream("other-1"),
            ExpectedVersion::NoStream,
            vec![event("x", 1)],
        )
        .await
        .expect("appends go on");
    assert_eq!(
        store.read_all(Position(4), 10).await.expect("after").len(),
        2
    );
    store.close().await;
}

/// A process manager's checkpoint edited by hand to a value no save writes: its work is not
/// committed as if the checkpoint were at the start of the log.
#[tokio::test]
async fn a_process_checkpoint_edited_by_hand_commits_nothing() {
    let scratch = Scratch::new("edited-process-checkpoint");
    let path = scratch.path("app.db");
    let store = SqliteStore::open(&path).await.expect("open");
    store
        .save_checkpoint("billing", Position(3))
        .await
        .expect("save a checkpoint");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("UPDATE es_checkpoints SET position = -1 WHERE projection = 'billing'")
            .expect("edit");
    }
    let mut work = ProcessWork::default();
    work.advance = Some(Advance::new(Position::START, Position(2)));
    work.instances.push(InstanceRow::new(
        "order-1".to_owned(),
        Bytes::from_static(b"{}"),
        false,
        0,
        None,
    ));
    let committed = store
        .commit_process("billing", work)
        .await
        .expect("a commit");
    assert_eq!(
        committed,
        Committed::Moved,
        "the checkpoint is not at the start"
    );
    let written = store
        .load_instances("billing", &["order-1".to_owned()])
        .await
        .expect("load");
    assert!(written.is_empty(), "nothing was written: {written:?}");
    store.close().await;
}

/// Positions edited by hand below zero: the next position is not taken as if the log were
/// empty; appends fail, and so does opening the file, naming the damage.
#[tokio::test]
async fn a_negative_last_position_is_corrupt_not_an_empty_log() {
    let scratch = Scratch::new("negative-position");
    let path = scratch.path("app.db");
    filled(&path, 1, 2, 1).await;
    let store = SqliteStore::open(&path).await.expect("open");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch("UPDATE es_events SET position = -position")
            .expect("edit");
    }
    let error = store
        .append(
            &stream("other-1"),
            ExpectedVersion::NoStream,
            vec![event("x", 1)],
        )
        .await
        .expect_err("the last position is negative");
    let StoreError::Corrupt { location, problem } = &error else {
        panic!("expected Corrupt, got {error:?}");
    };
    assert!(location.contains("es_events"), "{location}");
    assert!(problem.contains("-1"), "{problem}");
    store.close().await;
    let error = SqliteStore::open(&path)
        .await
        .expect_err("the last position is negative");
    assert!(matches!(error, OpenError::Corrupt { .. }), "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflict_in_a_group_commit_fails_that_caller_alone() {
    let scratch = Scratch::new("group-conflict");
    let path = scratch.path("app.db");
    let store = SqliteStore::open(&path).await.expect("open");
    let hot = stream("hot-1");
    // Another connection holds the file's write lock while the appends queue, so that they
    // form one group. The writer takes the first job alone and waits with it for the lock: a
    // checkpoint save goes first, so that every append queues behind it.
    let blocker = Connection::open(&path).expect("another connection");
    blocker
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let first = tokio::spawn({
        let store = store.clone();
        async move { store.save_checkpoint("first", Position(0)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // 16 appends race for version 1 of one stream, 16 others append to streams of their own.
    let mut racing = Vec::new();
    for n in 0..32u64 {
        let store = store.clone();
        racing.push(tokio::spawn(async move {
            let target = if n % 2 == 0 {
                stream("hot-1")
            } else {
                stream(&format!("own-{n}"))
            };
            store
                .append(&target, ExpectedVersion::NoStream, vec![event("race", n)])
                .await
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    blocker
        .execute_batch("COMMIT")
        .expect("release the write lock");
    first
        .await
        .expect("a task")
        .expect("the checkpoint is saved");
    let mut won = 0;
    for (n, append) in racing.into_iter().enumerate() {
        match append.await.expect("a task") {
            Ok(_) => won += usize::from(n % 2 == 0),
            Err(StoreError::Conflict {
                stream_id, actual, ..
            }) => {
                assert_eq!(n % 2, 0, "only appends to the hot stream conflict");
                assert_eq!(stream_id, hot);
                assert_eq!(actual, Version(1));
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "one append to the hot stream wins");
    let log = store.read_all(Position::START, 100).await.expect("read");
    assert_eq!(log.len(), 17, "the winner and the 16 others");
    store.close().await;
}

#[tokio::test]
async fn a_closed_store_refuses_every_call_as_stopped() {
    let scratch = Scratch::new("closed");
    let store = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("open");
    store
        .append(
            &stream("a-1"),
            ExpectedVersion::NoStream,
            vec![event("x", 1)],
        )
        .await
        .expect("append");
    let other = store.clone();
    store.close().await;
    let append = other
        .append(&stream("a-1"), ExpectedVersion::Any, vec![event("x", 2)])
        .await
        .expect_err("closed");
    assert_eq!(kind(&append), Some(ErrorKind::Stopped), "{append:?}");
    let read = other
        .read_all(Position::START, 10)
        .await
        .expect_err("closed");
    assert_eq!(kind(&read), Some(ErrorKind::Stopped), "{read:?}");
    // The file holds what was appended before the close.
    let reopened = SqliteStore::open(scratch.path("app.db"))
        .await
        .expect("reopen");
    assert_eq!(
        reopened
            .read_all(Position::START, 10)
            .await
            .expect("read")
            .len(),
        1
    );
    reopened.close().await;
}
