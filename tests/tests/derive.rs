//! What the derives generate, exercised through the user domain: dispatch, conversions, the
//! JSON wire shape, codec round trips and typed decode errors.

use es_core::codec::{Codec, JsonCodec};
use es_core::error::DecodeErrorKind;
use es_core::prelude::*;
use es_core::{EventDescriptor, RecordedEvent};
use es_examples::user::views::{UserDirectory, UserStats};
use es_examples::user::{
    ChangeEmail, DeleteUser, EmailChanged, RegisterUser, RenameUser, User, UserCommand,
    UserCreated, UserCreatedV1, UserDeleted, UserError, UserEvent, UserId, UserRenamed,
    UserRenamedV1,
};
use es_memstore::MemStore;

fn created() -> UserCreated {
    UserCreated {
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: "ada@example.com".into(),
    }
}

#[test]
fn event_derive_carries_name_and_version() {
    assert_eq!(
        (UserCreated::NAME, UserCreated::VERSION),
        ("user.created", 2)
    );
    // The version 1 shapes keep the wire name, one version lower.
    assert_eq!(
        (UserCreatedV1::NAME, UserCreatedV1::VERSION),
        ("user.created", 1)
    );
    assert_eq!(
        (
            UserRenamedV1::NAME,
            UserRenamedV1::VERSION,
            UserRenamed::VERSION
        ),
        ("user.renamed", 1, 2)
    );
    assert_eq!(EmailChanged::NAME, "user.email_changed");
    assert_eq!(
        UserEvent::EVENTS,
        [
            EventDescriptor {
                name: "user.created",
                version: 2
            },
            EventDescriptor {
                name: "user.email_changed",
                version: 1
            },
            EventDescriptor {
                name: "user.renamed",
                version: 2
            },
            EventDescriptor {
                name: "user.deleted",
                version: 1
            },
        ]
    );
    assert_eq!(<User as Aggregate>::NAME, "user");
}

#[test]
fn projection_derive_lists_its_events_with_their_versions() {
    assert_eq!(UserDirectory::NAME, "user-directory");
    // In the order of `events(..)`: the upcast events at their current version.
    assert_eq!(
        UserDirectory::EVENTS,
        [
            EventDescriptor::of::<UserCreated>(),
            EventDescriptor::of::<EmailChanged>(),
            EventDescriptor::of::<UserRenamed>(),
            EventDescriptor::of::<UserDeleted>(),
        ]
    );
    assert_eq!(
        (
            UserDirectory::EVENTS[0].name,
            UserDirectory::EVENTS[0].version
        ),
        ("user.created", 2)
    );
    assert_eq!(
        UserStats::EVENTS,
        [
            EventDescriptor {
                name: "user.created",
                version: 2
            },
            EventDescriptor {
                name: "user.email_changed",
                version: 1
            },
            EventDescriptor {
                name: "user.deleted",
                version: 1
            },
        ]
    );
}

#[test]
fn command_derive_reads_the_id_field_and_the_enum_dispatches_it() {
    let cmd = RenameUser {
        user_id: UserId::new("ada"),
        first_name: "Ada".into(),
        last_name: String::new(),
    };
    assert_eq!(cmd.aggregate_id(), &UserId::new("ada"));
    assert_eq!(RenameUser::NAME, "RenameUser");
    let any: UserCommand = DeleteUser {
        user_id: UserId::new("bob"),
    }
    .into();
    assert!(matches!(any, UserCommand::DeleteUser(_)));
    assert_eq!(any.name(), "DeleteUser");
    assert_eq!(any.aggregate_id(), &UserId::new("bob"));
}

#[test]
fn aggregate_dispatches_each_event_to_its_apply_impl() {
    let mut user = User::default();
    for event in [
        UserEvent::from(created()),
        EmailChanged {
            email: "a@b.io".into(),
        }
        .into(),
        UserRenamed {
            first_name: "Augusta Ada".into(),
            last_name: "King".into(),
        }
        .into(),
    ] {
        user.apply_event(&event);
    }
    assert_eq!(
        (user.first_name(), user.last_name(), user.email()),
        ("Augusta Ada", "King", "a@b.io")
    );
    assert_eq!(user.full_name(), "Augusta Ada King");
    assert!(!user.is_deleted());
    user.apply_event(&UserDeleted {}.into());
    assert!(user.is_deleted());
}

#[test]
fn aggregate_dispatches_each_command_to_its_handle_impl() {
    let user = User::default();
    let register: UserCommand = RegisterUser {
        user_id: UserId::new("ada"),
        first_name: " Ada ".into(),
        last_name: "Lovelace ".into(),
        email: "ada@example.com".into(),
    }
    .into();
    let events = user.handle_command(&register).unwrap();
    assert_eq!(events, [UserEvent::UserCreated(created())]);

    let change: UserCommand = ChangeEmail {
        user_id: UserId::new("ada"),
        email: "new@example.com".into(),
    }
    .into();
    assert_eq!(user.handle_command(&change), Err(UserError::NotFound));
}

#[test]
fn events_have_the_documented_json_wire_shape() {
    let encoded = UserEvent::from(created()).encode(&JsonCodec).unwrap();
    assert_eq!(encoded.name, "user.created");
    assert_eq!(encoded.version, 2);
    assert_eq!(
        std::str::from_utf8(&encoded.payload).unwrap(),
        r#"{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"}"#
    );
    let deleted = UserEvent::from(UserDeleted {}).encode(&JsonCodec).unwrap();
    assert_eq!(&deleted.payload[..], b"{}");
}

/// Every variant of the generated enum survives encode + store + decode unchanged.
#[tokio::test]
async fn every_event_round_trips_through_the_store() {
    let store = MemStore::new();
    let events = vec![
        UserEvent::from(created()),
        EmailChanged {
            email: "x@y.zz".into(),
        }
        .into(),
        UserRenamed {
            first_name: "Ünïcødé ✓".into(),
            last_name: String::new(),
        }
        .into(),
        UserDeleted {}.into(),
    ];
    let batch = events
        .iter()
        .map(|e| NewEvent::new(e.encode(&JsonCodec).unwrap()))
        .collect();
    let stream = StreamId::new("user-rt").unwrap();
    store
        .append(&stream, ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    let read = store.read_stream(&stream, Version(1), 10).await.unwrap();
    let decoded: Vec<UserEvent> = read
        .iter()
        .map(|r| UserEvent::decode(&JsonCodec, r).unwrap())
        .collect();
    assert_eq!(decoded, events);
}

use es_core::NewEvent;

fn recorded(name: &str, version: u32, payload: &[u8]) -> RecordedEvent {
    RecordedEvent {
        stream_id: StreamId::new("user-bad").expect("valid stream id"),
        stream_version: Version(7),
        position: Position(42),
        event_id: es_core::EventId::new(),
        recorded_at: std::time::SystemTime::now(),
        name: name.into(),
        schema_version: version,
        payload: payload.to_vec().into(),
        metadata: es_core::Metadata::default(),
    }
}

#[test]
fn bad_stored_data_gives_typed_errors_naming_where_it_is() {
    let unknown = UserEvent::decode(&JsonCodec, &recorded("user.exploded", 1, b"{}")).unwrap_err();
    assert!(matches!(
        unknown.kind,
        DecodeErrorKind::UnknownName {
            expected: "UserEvent"
        }
    ));
    assert_eq!(
        (
            unknown.stream_id.as_str(),
            unknown.stream_version,
            unknown.position,
            &*unknown.name
        ),
        ("user-bad", Version(7), Position(42), "user.exploded")
    );
    let message = unknown.to_string();
    for part in [
        "user.exploded",
        "user-bad",
        "version 7",
        "position 42",
        "UserEvent",
    ] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }

    let newer = UserEvent::decode(&JsonCodec, &recorded("user.created", 3, b"{}")).unwrap_err();
    assert!(matches!(
        newer.kind,
        DecodeErrorKind::UnsupportedVersion { current: 2 }
    ));
    assert_eq!(newer.schema_version, 3);

    for payload in [&b"{\"first_name\":1}"[..], b"not json", b"\xff\xfe", b""] {
        let err = UserEvent::decode(&JsonCodec, &recorded("user.renamed", 2, payload)).unwrap_err();
        assert!(matches!(err.kind, DecodeErrorKind::Payload(_)), "{err}");
        assert!(err.to_string().contains("user.renamed"), "{err}");
    }
}

#[test]
fn the_codec_round_trips_and_refuses_garbage() {
    let bytes = JsonCodec.encode(&created()).unwrap();
    let back: UserCreated = JsonCodec.decode(&bytes).unwrap();
    assert_eq!(back, created());
    assert!(
        JsonCodec
            .decode::<UserCreated>(b"{\"first_name\":\"x\"}")
            .is_err()
    );
}
