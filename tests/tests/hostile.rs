//! Hostile input through the runtime: stream ids that are empty, too long or hold control
//! characters, events bigger than a store takes, batches longer than a store takes. Each is a
//! typed error naming what was wrong, and nothing is written; input at a limit exactly is
//! accepted. (Hostile stored payloads, such as deep nesting or 16 MiB of garbage, are rows of
//! `bad_data.rs`; the store-level refusals are checks of the contract suite.)
//!
//! The limits (documented in the README's "Limits" section):
//! - stream id: 1 to `StreamId::MAX_LEN` (512) bytes, no control characters;
//! - payload: `limits::MAX_PAYLOAD_LEN` (16 MiB) per event;
//! - batch: `limits::MAX_BATCH_LEN` (10,000) events per append, so per command;
//! - bytes: `limits::MAX_BATCH_BYTES` (64 MiB) of payloads per append;
//! - event name: `limits::MAX_EVENT_NAME_LEN` (255) bytes, within `es_core::names`' rule.

use es_core::envelope::{InvalidStreamId, StreamIdProblem};
use es_core::prelude::*;
use es_core::store::{Limit, limits};
use es_core::{LoadError, StoreError};
use es_memstore::MemStore;
use serde::{Deserialize, Serialize};

/// Some bytes were stored (as a JSON string of `len` characters).
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "blob.stored")]
pub struct Stored {
    pub text: String,
}

/// Store `count` events of `len` characters each in blob `id`.
#[derive(Command, Debug)]
pub struct Store {
    #[id]
    pub id: String,
    pub len: usize,
    pub count: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "blob", id = String, error = Never, events(Stored), commands(Store))]
pub struct Blob {
    bytes: usize,
    events: usize,
}

impl Apply<Stored> for Blob {
    fn apply(&mut self, event: &Stored) {
        self.bytes += event.text.len();
        self.events += 1;
    }
}

impl Handle<Store> for Blob {
    fn handle(&self, cmd: &Store) -> Result<Vec<BlobEvent>, Never> {
        let text = "x".repeat(cmd.len);
        Ok((0..cmd.count)
            .map(|_| Stored { text: text.clone() }.into())
            .collect())
    }
}

/// `{"text":""}`: what a `Stored` payload holds besides its text.
const ENVELOPE_LEN: usize = 11;

fn store_cmd(id: impl Into<String>, len: usize, count: usize) -> Store {
    Store {
        id: id.into(),
        len,
        count,
    }
}

/// An aggregate id whose `Display` fails.
struct Unprintable;

impl std::fmt::Display for Unprintable {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        Err(std::fmt::Error)
    }
}

/// Whether a refusal names the expected problem.
type IsProblem = fn(&StreamIdProblem) -> bool;

#[tokio::test]
async fn bad_stream_ids_are_typed_errors_and_write_nothing() {
    let store = MemStore::new();
    let repository = Repository::<Blob, _>::new(store.clone());
    // `blob-` is 5 bytes: an id of MAX_LEN - 5 bytes makes a stream id of exactly MAX_LEN.
    let longest = "a".repeat(StreamId::MAX_LEN - 5);
    let cases: [(&str, String, IsProblem); 5] = [
        (
            "one byte too long",
            format!("{longest}a"),
            |p| matches!(p, StreamIdProblem::TooLong { len } if *len == StreamId::MAX_LEN + 1),
        ),
        (
            "a megabyte long",
            "a".repeat(1 << 20),
            |p| matches!(p, StreamIdProblem::TooLong { len } if *len == (1 << 20) + 5),
        ),
        ("a newline", "ada\nbob".into(), |p| {
            matches!(p, StreamIdProblem::ControlCharacter)
        }),
        ("a NUL byte", "ada\0".into(), |p| {
            matches!(p, StreamIdProblem::ControlCharacter)
        }),
        // Not ASCII: past the fast check for printable ASCII, still a control character.
        ("a C1 control (NEL)", "zo\u{eb}\u{85}".into(), |p| {
            matches!(p, StreamIdProblem::ControlCharacter)
        }),
    ];
    for (what, id, problem) in cases {
        match repository.execute(store_cmd(id.clone(), 1, 1)).await {
            Err(ExecuteError::InvalidStreamId(InvalidStreamId {
                preview,
                problem: found,
            })) => {
                assert!(problem(&found), "{what}: {found:?}");
                assert!(
                    preview.chars().count() <= 65,
                    "{what}: the preview is cut, got {} characters",
                    preview.chars().count()
                );
            }
            other => panic!("{what}: execute gave {other:?}"),
        }
        match repository.load(&id).await {
            Err(LoadError::InvalidStreamId(error)) => {
                assert!(problem(&error.problem), "{what}: {error:?}");
                assert!(error.to_string().len() < 200, "{what}: {error}");
            }
            other => panic!("{what}: load gave {other:?}"),
        }
    }
    assert_eq!(store.len(), 0, "nothing was written");

    // An empty stream id cannot come from an aggregate (the name prefix), only directly.
    let empty = StreamId::new("").expect_err("empty");
    assert_eq!(empty.problem, StreamIdProblem::Empty);

    // Printable characters beyond ASCII are accepted.
    let accented = repository
        .execute(store_cmd("zo\u{eb} \u{4e2d}", 1, 1))
        .await
        .expect("a printable non-ASCII id");
    assert_eq!(accented.stream_id.as_str(), "blob-zo\u{eb} \u{4e2d}");

    // An id whose `Display` fails is refused with a typed error, not a panic.
    let unprintable = StreamId::for_aggregate("blob", &Unprintable).expect_err("unprintable");
    assert_eq!(unprintable.problem, StreamIdProblem::Unprintable);
    assert_eq!(unprintable.preview, "blob-");

    // At the limit exactly, the id is accepted.
    let executed = repository
        .execute(store_cmd(longest.clone(), 1, 1))
        .await
        .expect("a stream id of MAX_LEN bytes");
    assert_eq!(executed.stream_id.as_str().len(), StreamId::MAX_LEN);
    let loaded = repository.load(&longest).await.expect("loads");
    assert_eq!((loaded.version, loaded.state.events), (Version(1), 1));
}

#[tokio::test]
async fn an_event_over_the_payload_limit_is_refused_whole() {
    let store = MemStore::new();
    let repository = Repository::<Blob, _>::new(store.clone());
    repository
        .execute(store_cmd("big", 1, 1))
        .await
        .expect("a small event");

    // Two events, the second one byte over the limit: the whole command is refused.
    let over = limits::MAX_PAYLOAD_LEN - ENVELOPE_LEN + 1;
    match repository.execute(store_cmd("big", over, 2)).await {
        Err(ExecuteError::Store(StoreError::LimitExceeded {
            stream_id,
            limit: Limit::PayloadLen,
            max,
            actual,
        })) => {
            assert_eq!(stream_id.as_str(), "blob-big");
            assert_eq!(
                (max, actual),
                (limits::MAX_PAYLOAD_LEN, over + ENVELOPE_LEN)
            );
        }
        other => panic!("an oversized event: {other:?}"),
    }
    assert_eq!(store.len(), 1, "nothing of the refused command was written");

    // At the limit exactly, the event is stored, read back and decoded.
    let at = limits::MAX_PAYLOAD_LEN - ENVELOPE_LEN;
    repository
        .execute(store_cmd("big", at, 1))
        .await
        .expect("an event of exactly MAX_PAYLOAD_LEN bytes");
    let fresh = Repository::<Blob, _>::new(store.clone());
    let loaded = fresh.load(&"big".to_owned()).await.expect("loads");
    assert_eq!(
        (loaded.version, loaded.state.bytes),
        (Version(2), 1 + at),
        "the largest event reads back whole"
    );
}

#[tokio::test]
async fn a_command_over_the_batch_limit_is_refused_whole() {
    let store = MemStore::new();
    let repository = Repository::<Blob, _>::new(store.clone());
    match repository
        .execute(store_cmd("many", 0, limits::MAX_BATCH_LEN + 1))
        .await
    {
        Err(ExecuteError::Store(StoreError::LimitExceeded {
            limit: Limit::BatchLen,
            max,
            actual,
            ..
        })) => assert_eq!(
            (max, actual),
            (limits::MAX_BATCH_LEN, limits::MAX_BATCH_LEN + 1)
        ),
        other => panic!("too many events: {other:?}"),
    }
    assert_eq!(store.len(), 0, "nothing was written");
    let executed = repository
        .execute(store_cmd("many", 0, limits::MAX_BATCH_LEN))
        .await
        .expect("a batch of exactly MAX_BATCH_LEN events");
    assert_eq!(
        executed.stream_version,
        Version(u64::try_from(limits::MAX_BATCH_LEN).expect("fits"))
    );
    let loaded = Repository::<Blob, _>::new(store)
        .load(&"many".to_owned())
        .await
        .expect("loads");
    assert_eq!(loaded.state.events, limits::MAX_BATCH_LEN);
}

#[tokio::test]
async fn a_command_over_the_bytes_limit_is_refused_whole() {
    let store = MemStore::new();
    let repository = Repository::<Blob, _>::new(store.clone());
    // Five events, each well under the payload limit, one byte each over a fifth of the
    // bytes limit together.
    let fifth = limits::MAX_BATCH_BYTES / 5 + 1;
    match repository
        .execute(store_cmd("heavy", fifth - ENVELOPE_LEN, 5))
        .await
    {
        Err(ExecuteError::Store(StoreError::LimitExceeded {
            limit: Limit::BatchBytes,
            max,
            actual,
            ..
        })) => assert_eq!((max, actual), (limits::MAX_BATCH_BYTES, 5 * fifth)),
        other => panic!("too many bytes: {other:?}"),
    }
    assert_eq!(store.len(), 0, "nothing was written");

    // Four events of the largest payload: the bytes limit exactly.
    let quarter = limits::MAX_BATCH_BYTES / 4;
    let executed = repository
        .execute(store_cmd("heavy", quarter - ENVELOPE_LEN, 4))
        .await
        .expect("exactly MAX_BATCH_BYTES of payloads");
    assert_eq!(executed.stream_version, Version(4));
}
