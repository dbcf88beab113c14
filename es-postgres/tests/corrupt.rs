//! Corrupt rows: a stored value that no append or save of the store writes, planted by hand
//! (after dropping the constraint that keeps it out, where there is one), is
//! `StoreError::Corrupt` naming the table, the row and the column, never a panic and never
//! `StoreError::Backend`. Every test then checks that the error repeats (retrying does not
//! help) and that the store stays usable: other streams append and read back, and the row
//! reads again once repaired.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use es_core::snapshot::{Snapshot, SnapshotStore};
use es_core::store::CheckpointStore;
use es_core::{Appended, EventStore, ExpectedVersion, Position, StoreError, Version};
use es_postgres::PgStore;
use es_postgres::sqlx;
use uuid::Uuid;

mod support;
use support::{event, setup, stream, teardown, with_command};

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 12;

/// Runs `sql` (any number of statements) on the store's database, `{schema}` replaced.
async fn plant(store: &PgStore, sql: &str) {
    sqlx::raw_sql(&sql.replace("{schema}", store.schema().as_str()))
        .execute(store.pool())
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
}

/// Appends `count` events to `stream_id`.
async fn append(store: &PgStore, stream_id: &str, count: u64) -> Appended {
    let events = (0..count).map(event).collect();
    store
        .append(&stream(stream_id), ExpectedVersion::Any, events)
        .await
        .expect("append")
}

/// The location `{schema}.{rest}`, as the store names it.
fn at(store: &PgStore, rest: &str) -> String {
    format!("{}.{rest}", store.schema())
}

/// Asserts that `result` is `StoreError::Corrupt` at exactly `location`, with a problem that
/// mentions `problem`.
#[track_caller]
fn assert_corrupt<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    location: &str,
    problem: &str,
) {
    match result {
        Err(StoreError::Corrupt {
            location: found,
            problem: said,
        }) => {
            assert_eq!(found, location, "the location (problem: {said})");
            assert!(
                said.contains(problem),
                "{said:?} should mention {problem:?}"
            );
        }
        other => panic!("expected corrupt data at {location}, got {other:?}"),
    }
}

/// The store still appends and reads: a new stream of its own round-trips, and its version
/// is right.
async fn assert_usable(store: &PgStore) {
    let id = format!("usable-{}", Uuid::now_v7().simple());
    let appended = append(store, &id, 2).await;
    assert_eq!(appended.stream_version, Version(2));
    let read = store
        .read_stream(&stream(&id), Version(1), 10)
        .await
        .expect("a healthy stream reads");
    assert_eq!(read.len(), 2);
    assert_eq!(read[1].position, appended.last_position);
    let version = store
        .stream_version(&stream(&id))
        .await
        .expect("its version");
    assert_eq!(version, Version(2));
}

/// A negative stream version: every read of the row (the log, a subscription) is corrupt,
/// a page that ends before it reads, and the row reads again once repaired. (A read of the
/// stream, from version 1 on, does not meet it.)
#[tokio::test]
async fn a_negative_stream_version_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 2).await;
    let bad = appended.last_position.0;
    plant(
        &store,
        &format!(
            "ALTER TABLE {{schema}}.events DROP CONSTRAINT events_stream_version_check;
             UPDATE {{schema}}.events SET stream_version = -2 WHERE position = {bad}"
        ),
    )
    .await;
    let location = at(
        &store,
        &format!("events, position {bad}, column stream_version"),
    );
    for _ in 0..2 {
        assert_corrupt(
            store.read_all(Position::START, 10).await,
            &location,
            "-2 is negative",
        );
    }
    // The page before the row reads.
    let first = store
        .read_all(Position::START, 1)
        .await
        .expect("the first event");
    assert_eq!(first[0].position, appended.first_position);
    // A subscription stops at the page that holds the row, again and again, and goes on
    // from where it stood once the row is repaired.
    let mut subscription = store.subscribe(Position::START);
    for _ in 0..2 {
        assert_corrupt(subscription.next().await, &location, "negative");
    }
    assert_usable(&store).await;

    plant(
        &store,
        &format!("UPDATE {{schema}}.events SET stream_version = 2 WHERE position = {bad}"),
    )
    .await;
    let delivered = subscription.next().await.expect("the first event");
    assert_eq!(delivered.position, appended.first_position);
    let repaired = subscription.next().await.expect("the repaired event");
    assert_eq!(repaired.stream_version, Version(2));
    teardown(&store).await;
}

/// A negative position: the stream read names the row by that position.
#[tokio::test]
async fn a_negative_position_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    plant(
        &store,
        &format!(
            "UPDATE {{schema}}.events SET position = -7 WHERE position = {}",
            appended.first_position.0
        ),
    )
    .await;
    assert_corrupt(
        store.read_stream(&stream("a"), Version(1), 10).await,
        &at(&store, "events, position -7, column position"),
        "-7 is negative",
    );
    assert_usable(&store).await;
    teardown(&store).await;
}

/// A stream id and an event name that no append accepts (a control character, an empty
/// name).
#[tokio::test]
async fn an_invalid_stream_id_or_event_name_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    let bad = appended.first_position.0;
    plant(
        &store,
        &format!("UPDATE {{schema}}.events SET stream_id = E'bad\\x01id' WHERE position = {bad}"),
    )
    .await;
    assert_corrupt(
        store.read_all(Position::START, 10).await,
        &at(&store, &format!("events, position {bad}, column stream_id")),
        "control character",
    );
    plant(
        &store,
        &format!("UPDATE {{schema}}.events SET stream_id = 'a', name = '' WHERE position = {bad}"),
    )
    .await;
    assert_corrupt(
        store.read_all(Position::START, 10).await,
        &at(&store, &format!("events, position {bad}, column name")),
        "\"\" is not an event name",
    );
    assert_usable(&store).await;
    teardown(&store).await;
}

/// A schema version beyond `u32::MAX` (past the dropped check) is corrupt.
#[tokio::test]
async fn a_schema_version_beyond_u32_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    let bad = appended.first_position.0;
    plant(
        &store,
        &format!(
            "ALTER TABLE {{schema}}.events DROP CONSTRAINT events_schema_version_check;
             UPDATE {{schema}}.events SET schema_version = 4294967296 WHERE position = {bad}"
        ),
    )
    .await;
    assert_corrupt(
        store.read_stream(&stream("a"), Version(1), 10).await,
        &at(
            &store,
            &format!("events, position {bad}, column schema_version"),
        ),
        "4294967296 is not a schema version",
    );
    assert_usable(&store).await;
    teardown(&store).await;
}

/// Metadata that is JSON but not event metadata: an array, a command id that is no UUID.
#[tokio::test]
async fn metadata_that_is_not_metadata_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    let bad = appended.first_position.0;
    let location = at(&store, &format!("events, position {bad}, column metadata"));
    for metadata in ["[1, 2]", r#"{"command_id": "not a uuid"}"#] {
        plant(
            &store,
            &format!("UPDATE {{schema}}.events SET metadata = '{metadata}' WHERE position = {bad}"),
        )
        .await;
        assert_corrupt(
            store.read_all(Position::START, 10).await,
            &location,
            "not the metadata of an event",
        );
    }
    assert_usable(&store).await;
    plant(
        &store,
        &format!("UPDATE {{schema}}.events SET metadata = '{{}}' WHERE position = {bad}"),
    )
    .await;
    let read = store.read_all(Position::START, 1).await.expect("repaired");
    assert_eq!(read[0].metadata, es_core::Metadata::default());
    teardown(&store).await;
}

/// A recorded time that the store cannot read as microseconds since 1970 in an `i64`
/// (infinite, or `i64::MAX` microseconds, from which on PostgreSQL's `extract` rounds) is
/// corrupt; the microsecond before reads back exactly.
#[tokio::test]
async fn a_time_beyond_i64_microseconds_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    let bad = appended.first_position.0;
    let location = at(
        &store,
        &format!("events, position {bad}, column recorded_at"),
    );
    for time in ["infinity", "-infinity", "294247-01-10 04:00:54.775807+00"] {
        plant(
            &store,
            &format!("UPDATE {{schema}}.events SET recorded_at = '{time}' WHERE position = {bad}"),
        )
        .await;
        assert_corrupt(
            store.read_all(Position::START, 10).await,
            &location,
            "not a time microseconds since 1970 in an i64 can hold",
        );
    }
    assert_usable(&store).await;
    plant(
        &store,
        &format!(
            "UPDATE {{schema}}.events SET recorded_at = '294247-01-10 04:00:54.775806+00' \
             WHERE position = {bad}"
        ),
    )
    .await;
    let read = store
        .read_all(Position::START, 1)
        .await
        .expect("the last time that fits");
    let last = UNIX_EPOCH + Duration::from_micros(i64::MAX.unsigned_abs() - 1);
    assert_eq!(read[0].recorded_at, last);
    teardown(&store).await;
}

/// A NULL in a column the store reads (past the dropped `NOT NULL`) is corrupt.
#[tokio::test]
async fn a_null_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    let bad = appended.first_position.0;
    plant(
        &store,
        &format!(
            "ALTER TABLE {{schema}}.events ALTER COLUMN payload DROP NOT NULL;
             UPDATE {{schema}}.events SET payload = NULL WHERE position = {bad}"
        ),
    )
    .await;
    assert_corrupt(
        store.read_stream(&stream("a"), Version(1), 10).await,
        &at(&store, &format!("events, position {bad}, column payload")),
        "NULL",
    );
    assert_usable(&store).await;
    teardown(&store).await;
}

/// Negative versions of a whole stream: its version and the lookup of a command id are
/// corrupt, and so is the answer `append_one` gives to a repeated command (which writes
/// nothing).
#[tokio::test]
async fn a_stream_of_negative_versions_is_corrupt_to_its_version_and_command_lookups() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let command = Uuid::now_v7();
    store
        .append(
            &stream("n"),
            ExpectedVersion::NoStream,
            with_command(vec![event(0)], command),
        )
        .await
        .expect("append");
    plant(
        &store,
        "ALTER TABLE {schema}.events DROP CONSTRAINT events_stream_version_check;
         UPDATE {schema}.events SET stream_version = -1 WHERE stream_id = 'n'",
    )
    .await;
    assert_corrupt(
        store.stream_version(&stream("n")).await,
        &at(&store, "events, stream \"n\", column max(stream_version)"),
        "-1 is negative",
    );
    assert_corrupt(
        store.find_command(&stream("n"), command).await,
        &at(
            &store,
            &format!("events, stream \"n\", command id {command}, column max(stream_version)"),
        ),
        "-1 is negative",
    );
    let again = store
        .append(
            &stream("n"),
            ExpectedVersion::Any,
            with_command(vec![event(1)], command),
        )
        .await;
    assert_corrupt(
        again,
        &at(
            &store,
            "append_one(), its answer to an append to stream \"n\", column [2] (stream_version)",
        ),
        "-1 is negative",
    );
    let rows: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM {}.events WHERE stream_id = 'n'",
        store.schema()
    ))
    .fetch_one(store.pool())
    .await
    .expect("count");
    assert_eq!(rows, 1, "the repeated command wrote nothing");
    assert_usable(&store).await;
    teardown(&store).await;
}

/// Append functions that answer what this crate's migrations never define: an unknown
/// outcome from `append_one` and from `append`. Reads are unaffected.
#[tokio::test]
async fn an_unknown_answer_of_an_append_function_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let appended = append(&store, "a", 1).await;
    plant(
        &store,
        "CREATE OR REPLACE FUNCTION {schema}.append_one(
             p_stream_id text, p_expected bigint, p_command_id uuid, p_event_id uuid,
             p_name text, p_schema_version bigint, p_payload bytea, p_metadata text)
         RETURNS bigint[]
         LANGUAGE sql AS $$ SELECT ARRAY[9, 1, 1, 1]::bigint[] $$;
         CREATE OR REPLACE FUNCTION {schema}.append(
             p_stream_id text, p_expected bigint, p_command_id uuid, p_event_ids uuid[],
             p_names text[], p_schema_versions bigint[], p_payloads bytea[], p_metadata text[],
             OUT o_outcome text, OUT o_stream_version bigint, OUT o_first_position bigint,
             OUT o_last_position bigint)
         LANGUAGE sql AS $$ SELECT 'maybe', 1::bigint, 1::bigint, 1::bigint $$;",
    )
    .await;
    assert_corrupt(
        store
            .append(&stream("b"), ExpectedVersion::Any, vec![event(0)])
            .await,
        &at(
            &store,
            "append_one(), its answer to an append to stream \"b\", column [1] (outcome)",
        ),
        "the unknown outcome 9",
    );
    assert_corrupt(
        store
            .append(&stream("b"), ExpectedVersion::Any, vec![event(0), event(1)])
            .await,
        &at(
            &store,
            "append(), its answer to an append to stream \"b\", column o_outcome",
        ),
        "the unknown outcome \"maybe\"",
    );
    let read = store
        .read_all(Position::START, 10)
        .await
        .expect("reads work");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].position, appended.first_position);
    teardown(&store).await;
}

/// A `refuse` function whose answer is not what this crate's migrations define: each wrong
/// value is corrupt, naming the function, the command and the column.
#[tokio::test]
async fn a_wrong_answer_of_the_refuse_function_is_corrupt() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    plant(
        &store,
        "CREATE TABLE {schema}.planted (o text, v bigint, f bigint, l bigint, p bytea);
         CREATE OR REPLACE FUNCTION {schema}.refuse(
             p_stream_id text, p_expected bigint, p_command_id uuid, p_payload bytea,
             OUT o_outcome text, OUT o_stream_version bigint, OUT o_first_position bigint,
             OUT o_last_position bigint, OUT o_payload bytea)
         LANGUAGE sql AS $$ SELECT o, v, f, l, p FROM {schema}.planted $$;",
    )
    .await;
    let command = Uuid::now_v7();
    for (answer, column, problem) in [
        (
            "'maybe', 1, NULL, NULL, NULL",
            "o_outcome",
            "the unknown outcome \"maybe\"",
        ),
        (
            "'duplicate', 1, 1, 1, NULL",
            "o_outcome",
            "the unknown outcome \"duplicate\"",
        ),
        ("NULL, 1, 1, 1, NULL", "o_outcome", "NULL"),
        (
            "'conflict', NULL, NULL, NULL, NULL",
            "o_stream_version",
            "NULL",
        ),
        (
            "'appended', -1, 1, 1, NULL",
            "o_stream_version",
            "-1 is negative",
        ),
        ("'appended', 1, NULL, 1, NULL", "o_first_position", "NULL"),
        ("'appended', 1, 1, NULL, NULL", "o_last_position", "NULL"),
        (
            "'appended', 1, 1, -1, NULL",
            "o_last_position",
            "-1 is negative",
        ),
        ("'refused', 1, NULL, NULL, NULL", "o_payload", "NULL"),
    ] {
        plant(
            &store,
            &format!(
                "DELETE FROM {{schema}}.planted; INSERT INTO {{schema}}.planted VALUES ({answer})"
            ),
        )
        .await;
        assert_corrupt(
            store
                .refuse(
                    &stream("b"),
                    ExpectedVersion::Any,
                    command,
                    Bytes::from("no"),
                )
                .await,
            &at(
                &store,
                &format!("refuse(), stream \"b\", command id {command}, column {column}"),
            ),
            problem,
        );
    }
    assert_usable(&store).await;
    teardown(&store).await;
}

/// Corrupt snapshot columns (version, schema version, time): each is corrupt, and a newer
/// snapshot saved over the row reads back.
#[tokio::test]
async fn a_corrupt_snapshot_is_corrupt_until_a_newer_one_replaces_it() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    let snapshot = |version| Snapshot::new(stream("s"), Version(version), 1, Bytes::from("{}"));
    store.save_snapshot(snapshot(3)).await.expect("save");
    for (edit, column, problem) in [
        ("version = -1", "version", "-1 is negative"),
        (
            "version = 3, schema_version = -1",
            "schema_version",
            "-1 is not a schema version",
        ),
        (
            "schema_version = 1, taken_at = 'infinity'",
            "taken_at",
            "not a time",
        ),
    ] {
        plant(
            &store,
            &format!("UPDATE {{schema}}.snapshots SET {edit} WHERE stream_id = 's'"),
        )
        .await;
        assert_corrupt(
            store.load_snapshot(&stream("s")).await,
            &at(&store, &format!("snapshots, stream \"s\", column {column}")),
            problem,
        );
    }
    assert_usable(&store).await;
    let mut newer = snapshot(4);
    newer.taken_at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    store
        .save_snapshot(newer.clone())
        .await
        .expect("save over it");
    let loaded = store.load_snapshot(&stream("s")).await.expect("load");
    assert_eq!(loaded, Some(newer));
    teardown(&store).await;
}

/// A negative checkpoint is corrupt for its projection alone; saving one replaces it.
#[tokio::test]
async fn a_negative_checkpoint_is_corrupt_until_saved_again() {
    let Some((_pool, store)) = setup(TESTS).await else {
        return;
    };
    store.save_checkpoint("p", Position(5)).await.expect("save");
    store.save_checkpoint("q", Position(6)).await.expect("save");
    plant(
        &store,
        "UPDATE {schema}.checkpoints SET position = -1 WHERE projection = 'p'",
    )
    .await;
    for _ in 0..2 {
        assert_corrupt(
            store.load_checkpoint("p").await,
            &at(&store, "checkpoints, projection \"p\", column position"),
            "-1 is negative",
        );
    }
    let other = store
        .load_checkpoint("q")
        .await
        .expect("another projection");
    assert_eq!(other, Some(Position(6)));
    assert_usable(&store).await;
    store
        .save_checkpoint("p", Position(7))
        .await
        .expect("save over it");
    let loaded = store.load_checkpoint("p").await.expect("load");
    assert_eq!(loaded, Some(Position(7)));
    teardown(&store).await;
}
