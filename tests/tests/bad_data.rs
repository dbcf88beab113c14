//! Bad stored data, end to end through the runtime: every kind of stored event that cannot be
//! turned back into its type is a typed [`DecodeError`], never a panic.
//!
//! Each row of [`CASES`] plants one bad event (a raw name, schema version and payload, appended
//! with the store's `append`) after a good event of the same stream, then meets it through
//! `Repository::load`, `Repository::execute` (on a repository with the aggregate cached, and
//! on a fresh one) and `ProjectionRunner::catch_up`. Every path must return a `DecodeError`
//! naming the stream id, the stream version, the global position, the event name, the schema
//! version and the cause in a short message, and a failed `execute` must append nothing.
//! Hostile payloads are rows too: 100,000 levels of nesting, 16 MiB, a lone surrogate. (Decoding a single
//! event at the `EventSet` level is in `derive.rs`.)

use std::fmt::Debug;

use es_core::LoadError;
use es_core::error::{DecodeError, DecodeErrorKind};
use es_core::prelude::*;
use es_examples::user::views::UserDirectory;
use es_examples::user::{ChangeEmail, RegisterUser, User, UserId};
use es_memstore::MemStore;
use es_tests::plant;
use serde::{Deserialize, Serialize};

// ---- A small local domain: an event at version 2 with no upcaster ------------------------------

/// A note was written. Version 2, and its version 1 was not kept (no `upcast_from`), so stored
/// version 1 payloads have no reader.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "note.written", version = 2)]
pub struct NoteWritten {
    pub text: String,
}

#[derive(Command, Debug)]
pub struct Write {
    #[id]
    pub id: u32,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "note", id = u32, error = Never, events(NoteWritten), commands(Write))]
pub struct Note {
    texts: Vec<String>,
}

impl Apply<NoteWritten> for Note {
    fn apply(&mut self, e: &NoteWritten) {
        self.texts.push(e.text.clone());
    }
}

impl Handle<Write> for Note {
    fn handle(&self, cmd: &Write) -> Result<Vec<NoteEvent>, Never> {
        Ok(vec![
            NoteWritten {
                text: cmd.text.clone(),
            }
            .into(),
        ])
    }
}

/// Counts notes.
#[derive(Projection, Default, Debug)]
#[projection(name = "note-count", events(NoteWritten))]
pub struct NoteCount {
    notes: u32,
}

impl On<NoteWritten> for NoteCount {
    fn on(&mut self, _: &NoteWritten, _: &EventMeta) {
        self.notes += 1;
    }
}

// ---- The table ---------------------------------------------------------------------------------

/// The domain a row plants its bad event in.
#[derive(Debug, Clone, Copy)]
enum Domain {
    /// The example user domain: `user.created` is at version 2, upcast from version 1;
    /// `user.email_changed` is at version 1. Projection: `user-directory`.
    User,
    /// The local note domain: `note.written` is at version 2, with no upcaster. Projection:
    /// `note-count`.
    Note,
}

/// The cause a row expects.
#[derive(Debug, Clone, Copy)]
enum Cause {
    /// [`DecodeErrorKind::UnknownName`] with this `expected`.
    UnknownName(&'static str),
    /// [`DecodeErrorKind::UnsupportedVersion`], with this `current`.
    UnsupportedVersion(u32),
    /// [`DecodeErrorKind::Payload`].
    Payload,
}

/// A stored payload: literal bytes, or hostile ones made at run time.
#[derive(Debug, Clone, Copy)]
enum Payload {
    Text(&'static [u8]),
    /// `{"unknown":` and then `depth` nested arrays (an unknown field is still parsed).
    Nested {
        depth: usize,
    },
    /// `{"email":"aaa…` (unterminated), `len` bytes in all: the largest payload a store takes.
    Unterminated {
        len: usize,
    },
}
use Payload::Text;

impl Payload {
    fn bytes(self) -> Vec<u8> {
        match self {
            Self::Text(bytes) => bytes.to_vec(),
            Self::Nested { depth } => {
                let mut bytes = b"{\"unknown\":".to_vec();
                bytes.resize(bytes.len() + depth, b'[');
                bytes.resize(bytes.len() + depth, b']');
                bytes.push(b'}');
                bytes
            }
            Self::Unterminated { len } => {
                let mut bytes = b"{\"email\":\"".to_vec();
                bytes.resize(len, b'a');
                bytes
            }
        }
    }
}

/// One kind of bad stored data.
#[derive(Debug)]
struct Case {
    /// What is wrong, for failure messages.
    what: &'static str,
    domain: Domain,
    /// The stored event.
    name: &'static str,
    version: u32,
    payload: Payload,
    /// The expected cause, and a part of its text in the error message.
    cause: Cause,
    says: &'static str,
}

const CASES: &[Case] = &[
    // (1) A name no event type of the aggregate has.
    Case {
        what: "unknown event name",
        domain: Domain::User,
        name: "user.teleported",
        version: 1,
        payload: Text(b"{}"),
        cause: Cause::UnknownName("UserEvent"),
        says: "no event type of UserEvent is named so",
    },
    // (2) Payloads that do not decode.
    Case {
        what: "malformed JSON",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Text(br#"{"email":"#),
        cause: Cause::Payload,
        says: "the payload does not decode: EOF while parsing",
    },
    Case {
        what: "empty payload",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Text(b""),
        cause: Cause::Payload,
        says: "the payload does not decode: EOF while parsing a value",
    },
    Case {
        what: "valid JSON, a field of the wrong type",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Text(br#"{"email":42}"#),
        cause: Cause::Payload,
        says: "invalid type: integer `42`, expected a string",
    },
    Case {
        what: "valid JSON, a missing field",
        domain: Domain::User,
        name: "user.created",
        version: 2,
        payload: Text(br#"{"first_name":"Ada","email":"ada@example.com"}"#),
        cause: Cause::Payload,
        says: "missing field `last_name`",
    },
    Case {
        what: "invalid UTF-8 in a string",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Text(b"{\"email\":\"ada\xff\xfe@example.com\"}"),
        cause: Cause::Payload,
        says: "invalid unicode code point",
    },
    // Hostile payloads: they must fail fast, with a typed error and a short message.
    Case {
        what: "100,000 levels of nesting in an unknown field (skipped without recursion)",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Payload::Nested { depth: 100_000 },
        cause: Cause::Payload,
        says: "missing field `email` at line 1 column 200012",
    },
    Case {
        what: "16 MiB of unterminated string (the largest payload a store takes)",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Payload::Unterminated {
            len: es_core::store::limits::MAX_PAYLOAD_LEN,
        },
        cause: Cause::Payload,
        says: "EOF while parsing a string",
    },
    Case {
        what: "a lone UTF-16 surrogate escape",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Text(br#"{"email":"\ud800"}"#),
        cause: Cause::Payload,
        says: "unexpected end of hex escape",
    },
    Case {
        what: "trailing bytes after the value",
        domain: Domain::User,
        name: "user.email_changed",
        version: 1,
        payload: Text(br#"{"email":"ada@example.com"} {"#),
        cause: Cause::Payload,
        says: "trailing characters",
    },
    Case {
        what: "a version 2 payload stored as version 1 (decoded by the upcaster's type)",
        domain: Domain::User,
        name: "user.created",
        version: 1,
        payload: Text(br#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}"#),
        cause: Cause::Payload,
        says: "missing field `name`",
    },
    // (3) A schema version above the current one (written by a newer release).
    Case {
        what: "schema version above the current one",
        domain: Domain::User,
        name: "user.created",
        version: 3,
        payload: Text(br#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}"#),
        cause: Cause::UnsupportedVersion(2),
        says: "is at schema version 2; it reads older versions only through",
    },
    // (4) An older version of an event type that has no upcaster.
    Case {
        what: "older version, no upcaster",
        domain: Domain::Note,
        name: "note.written",
        version: 1,
        payload: Text(br#"{"text":"hello"}"#),
        cause: Cause::UnsupportedVersion(2),
        says: "is at schema version 2; it reads older versions only through",
    },
    // (5) Version 0: below every version, and below the oldest link of an upcast chain.
    Case {
        what: "version 0 of an event without upcaster",
        domain: Domain::User,
        name: "user.email_changed",
        version: 0,
        payload: Text(br#"{"email":"ada@example.com"}"#),
        cause: Cause::UnsupportedVersion(1),
        says: "is at schema version 1; it reads older versions only through",
    },
    Case {
        what: "version 0, below the oldest link of an upcast chain",
        domain: Domain::User,
        name: "user.created",
        version: 0,
        payload: Text(br#"{"name":"Ada Lovelace","email":"ada@example.com"}"#),
        // The error names the event type's version (`UserCreated`, 2), not the oldest link's.
        cause: Cause::UnsupportedVersion(2),
        says: "is at schema version 2; it reads older versions only through",
    },
];

/// Where every planted event lands: the second event of its stream, third of the store (after
/// a good event in another stream of the same aggregate, then one in its own).
const AT_VERSION: Version = Version(2);
const AT_POSITION: Position = Position(3);

// ---- Checks ------------------------------------------------------------------------------------

/// Checks that `err`, met on `path`, describes `case` planted in `stream`, and that `message`
/// (the Display of the error returned on that path) names all of it.
fn check(case: &Case, path: &str, stream: &StreamId, err: &DecodeError, message: &str) {
    let at = format!("{} (through {path})", case.what);
    assert_eq!(
        (
            err.stream_id.as_str(),
            err.stream_version,
            err.position,
            &*err.name,
            err.schema_version
        ),
        (
            stream.as_str(),
            AT_VERSION,
            AT_POSITION,
            case.name,
            case.version
        ),
        "{at}"
    );
    match (case.cause, &err.kind) {
        (Cause::UnknownName(expected), DecodeErrorKind::UnknownName { expected: found }) => {
            assert_eq!(*found, expected, "{at}");
        }
        (Cause::UnsupportedVersion(expected), DecodeErrorKind::UnsupportedVersion { current }) => {
            assert_eq!(*current, expected, "{at}");
        }
        (Cause::Payload, DecodeErrorKind::Payload(_)) => {}
        (expected, found) => panic!("{at}: expected {expected:?}, got {found:?}"),
    }
    assert!(
        message.len() < 1_000,
        "{at}: the message stays short whatever the payload, got {} bytes",
        message.len()
    );
    for part in [
        stream.as_str(),
        &format!("{:?}", case.name),
        &format!("(schema version {})", case.version),
        &format!("at version {AT_VERSION} "),
        &format!("(position {AT_POSITION})"),
        case.says,
    ] {
        assert!(message.contains(part), "{at}: {message:?} lacks {part:?}");
    }
}

/// Plants `case` in the stream of `target` (after `create(other)` and `create(target)`), then
/// checks what `load`, `execute(act(target))` and a catch-up of `projection` return.
async fn meet<A, P>(
    case: &Case,
    [other, target]: [A::Id; 2],
    create: impl Fn(A::Id) -> A::Command,
    act: impl Fn(A::Id) -> A::Command,
    projection: P,
) where
    A: Aggregate + Debug,
    P: Projection + Default,
{
    let store = MemStore::new();
    let cached = Repository::<A, _>::new(store.clone());
    cached.execute(create(other)).await.expect("good data");
    cached
        .execute(create(target.clone()))
        .await
        .expect("good data");
    let stream = cached.stream_id(&target).expect("a valid stream id");
    let planted = plant(
        &store,
        stream.as_str(),
        case.name,
        case.version,
        &case.payload.bytes(),
    )
    .await
    .expect("the store takes any bytes");
    assert_eq!(
        (planted.stream_version, planted.last_position),
        (AT_VERSION, AT_POSITION)
    );

    match &cached.load(&target).await {
        Err(err @ LoadError::Decode(decode)) => {
            check(case, "load", &stream, decode, &err.to_string());
        }
        other => panic!("{}: load gave {other:?}", case.what),
    }

    let fresh = Repository::<A, _>::new(store.clone());
    for (path, repository) in [("execute, cached", &cached), ("execute, fresh", &fresh)] {
        match &repository.execute(act(target.clone())).await {
            Err(err @ ExecuteError::Decode(decode)) => {
                check(case, path, &stream, decode, &err.to_string());
            }
            other => panic!("{}: {path} gave {other:?}", case.what),
        }
        assert_eq!(
            store
                .stream_version(&stream)
                .await
                .expect("the store works"),
            AT_VERSION,
            "{}: {path} appended to the stream",
            case.what
        );
        assert_eq!(store.len(), 3, "{}: {path} appended", case.what);
    }

    let name = P::NAME;
    let runner = ProjectionRunner::new(store.clone(), projection);
    match (case.cause, &runner.catch_up().await) {
        // A projection skips the names it does not listen to, without decoding them: an
        // unknown name is one of them.
        (Cause::UnknownName(_), Ok(reached)) => assert_eq!(*reached, AT_POSITION, "{}", case.what),
        (_, Err(err @ ProjectionError::Decode { projection, source })) => {
            assert_eq!(*projection, name, "{}", case.what);
            let message = err.to_string();
            assert!(message.contains(name), "{message:?} lacks {name:?}");
            check(case, "catch_up", &stream, source, &message);
            assert_eq!(
                runner.position(),
                Position(AT_POSITION.0 - 1),
                "{}: the runner stops at the last good event",
                case.what
            );
        }
        (_, other) => panic!("{}: catch_up gave {other:?}", case.what),
    }
}

async fn meet_case(case: &Case) {
    match case.domain {
        Domain::User => {
            let register = |user_id: UserId| RegisterUser {
                email: format!("{user_id}@example.com"),
                user_id,
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
            };
            let change_email = |user_id| ChangeEmail {
                user_id,
                email: "ada@new.example.com".into(),
            };
            meet::<User, _>(
                case,
                [UserId::new("bob"), UserId::new("ada")],
                |id| register(id).into(),
                |id| change_email(id).into(),
                UserDirectory::default(),
            )
            .await;
        }
        Domain::Note => {
            let write = |id| Write {
                id,
                text: "hello".into(),
            };
            meet::<Note, _>(
                case,
                [0, 1],
                |id| write(id).into(),
                |id| write(id).into(),
                NoteCount::default(),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn every_kind_of_bad_stored_data_is_a_typed_error_on_every_runtime_path() {
    for case in CASES {
        meet_case(case).await;
    }
}
