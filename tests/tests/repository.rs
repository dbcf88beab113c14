//! `Repository` on the in-memory store: execute, load, version conflicts and retries, domain
//! errors and bad stored data leaving the store untouched.

use es_core::codec::{Encoded, JsonCodec};
use es_core::error::DecodeErrorKind;
use es_core::prelude::*;
use es_core::{EventSet, LoadError, RetryPolicy};
use es_examples::user::{
    ChangeEmail, DeleteUser, EmailChanged, RegisterUser, RenameUser, User, UserError, UserEvent,
    UserId,
};
use es_memstore::MemStore;
use es_tests::{interfering, plant};

fn register(id: &str) -> RegisterUser {
    RegisterUser {
        user_id: UserId::new(id),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        email: "ada@example.com".into(),
    }
}

fn change_email(id: &str, email: &str) -> ChangeEmail {
    ChangeEmail {
        user_id: UserId::new(id),
        email: email.into(),
    }
}

#[tokio::test]
async fn execute_appends_the_decided_events_and_load_replays_them() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let done = users.execute(register("ada")).await.unwrap();
    assert_eq!(done.stream_id.as_str(), "user-ada");
    assert_eq!(done.stream_version, Version(1));
    assert_eq!(done.last_position, Some(Position(1)));
    assert_eq!(done.attempts, 1);
    assert_eq!(done.events.len(), 1);

    users
        .execute(change_email("ada", "ada@new.org"))
        .await
        .unwrap();
    let user = users.load(&UserId::new("ada")).await.unwrap();
    assert!(user.exists());
    assert_eq!(user.version, Version(2));
    assert_eq!(user.state.email(), "ada@new.org");

    let stored = store.read_all(Position::START, 10).await.unwrap();
    let names: Vec<&str> = stored.iter().map(|e| &*e.name).collect();
    assert_eq!(names, ["user.created", "user.email_changed"]);
}

#[tokio::test]
async fn loading_a_missing_aggregate_gives_the_default_state_at_version_zero() {
    let users = Repository::<User, _>::new(MemStore::new());
    let nobody = users.load(&UserId::new("nobody")).await.unwrap();
    assert!(!nobody.exists());
    assert_eq!(nobody.version, Version::EMPTY);
    assert!(!nobody.state.is_registered());
}

#[tokio::test]
async fn refused_commands_return_the_domain_error_and_store_nothing() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    match users.execute(change_email("ghost", "a@b.cc")).await {
        Err(ExecuteError::Domain(UserError::NotFound)) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    // The command's own rules: every failing field, before the user is even loaded.
    let invalid = users
        .execute(RegisterUser {
            first_name: "   ".into(),
            email: "nope".into(),
            ..register("ada")
        })
        .await;
    match invalid {
        Err(ExecuteError::Invalid { command, errors }) => {
            assert_eq!(command, "RegisterUser");
            assert_eq!(errors.fields().collect::<Vec<_>>(), ["first_name", "email"]);
        }
        other => panic!("expected an invalid RegisterUser, got {other:?}"),
    }
    assert!(store.is_empty());

    users.execute(register("ada")).await.unwrap();
    users
        .execute(DeleteUser {
            user_id: UserId::new("ada"),
        })
        .await
        .unwrap();
    let before = store.len();
    let after_delete = users
        .execute(RenameUser {
            user_id: UserId::new("ada"),
            first_name: "Eve".into(),
            last_name: String::new(),
        })
        .await;
    assert!(matches!(
        after_delete,
        Err(ExecuteError::Domain(UserError::Deleted))
    ));
    assert_eq!(store.len(), before);
}

#[tokio::test]
async fn a_decision_without_events_appends_nothing() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    users.execute(register("ada")).await.unwrap();
    let same = users
        .execute(change_email("ada", "ada@example.com"))
        .await
        .unwrap();
    assert!(same.events.is_empty());
    assert_eq!(
        (same.stream_version, same.last_position),
        (Version(1), None)
    );
    assert_eq!(store.len(), 1);
}

fn interloper() -> Encoded {
    UserEvent::from(EmailChanged {
        email: "other@writer.io".into(),
    })
    .encode(&JsonCodec)
    .expect("the event encodes")
}

#[tokio::test]
async fn a_version_conflict_is_retried_on_fresh_state() {
    let store = MemStore::new();
    Repository::<User, _>::new(store.clone())
        .execute(register("ada"))
        .await
        .unwrap();
    // Two interfering writers: the first two appends conflict, the third succeeds.
    let racing = interfering(store.clone(), 2, interloper());
    let users = Repository::<User, _>::new(racing.clone());
    let done = users
        .execute(change_email("ada", "ada@final.org"))
        .await
        .unwrap();
    assert_eq!(done.attempts, 3);
    assert_eq!(racing.hooks.remaining(), 0);
    // 1 registration + 2 interlopers + the command's event, in that order.
    assert_eq!(done.stream_version, Version(4));
    let user = users.load(&UserId::new("ada")).await.unwrap();
    assert_eq!(user.state.email(), "ada@final.org");
}

#[tokio::test]
async fn conflicts_beyond_the_retry_budget_are_a_typed_error_and_write_nothing_of_the_command() {
    let store = MemStore::new();
    Repository::<User, _>::new(store.clone())
        .execute(register("ada"))
        .await
        .unwrap();
    let racing = interfering(store.clone(), 10, interloper());
    let users =
        Repository::<User, _>::new(racing).with_retry(RetryPolicy::CONFLICTS.with_max_attempts(3));
    let err = users
        .execute(change_email("ada", "ada@lost.org"))
        .await
        .unwrap_err();
    match &err {
        ExecuteError::Conflict {
            stream_id,
            attempts,
            expected,
            actual,
        } => {
            assert_eq!(stream_id.as_str(), "user-ada");
            assert_eq!(*attempts, 3);
            // Third attempt loaded at 3 (registration + 2 interlopers); the third
            // interloper made it 4.
            assert_eq!((*expected, *actual), (Version(3), Version(4)));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(err.to_string().contains("user-ada"), "{err}");
    let emails: Vec<String> = store
        .read_all(Position::START, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| String::from_utf8_lossy(&e.payload).into_owned())
        .collect();
    assert!(
        emails.iter().all(|p| !p.contains("ada@lost.org")),
        "{emails:?}"
    );
}

#[tokio::test]
async fn bad_stored_data_fails_load_and_execute_with_a_typed_error() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    users.execute(register("ada")).await.unwrap();
    plant(&store, "user-ada", "user.teleported", 1, b"{}")
        .await
        .unwrap();

    let err = users.load(&UserId::new("ada")).await.unwrap_err();
    match &err {
        LoadError::Decode(decode) => {
            assert!(matches!(decode.kind, DecodeErrorKind::UnknownName { .. }));
            assert_eq!(
                (decode.stream_version, &*decode.name),
                (Version(2), "user.teleported")
            );
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let before = store.len();
    let err = users
        .execute(change_email("ada", "a@b.cc"))
        .await
        .unwrap_err();
    assert!(matches!(err, ExecuteError::Decode(_)), "{err:?}");
    assert_eq!(store.len(), before);

    plant(&store, "user-bob", "user.created", 1, b"{\"name\":")
        .await
        .unwrap();
    let err = users.load(&UserId::new("bob")).await.unwrap_err();
    assert!(
        matches!(&err, LoadError::Decode(d) if matches!(d.kind, DecodeErrorKind::Payload(_))),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_id_that_makes_no_valid_stream_id_is_refused() {
    let users = Repository::<User, _>::new(MemStore::new());
    let err = users.execute(register(&"x".repeat(600))).await.unwrap_err();
    assert!(matches!(err, ExecuteError::InvalidStreamId(_)), "{err:?}");
    let err = users.load(&UserId::new("tab\there")).await.unwrap_err();
    assert!(matches!(err, LoadError::InvalidStreamId(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_on_one_aggregate_lose_no_update() {
    const TASKS: usize = 4;
    const PER_TASK: usize = 50;
    let store = MemStore::new();
    Repository::<User, _>::new(store.clone())
        .execute(register("ada"))
        .await
        .unwrap();
    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let users = Repository::<User, _>::new(store.clone())
                .with_retry(RetryPolicy::CONFLICTS.with_max_attempts(1001));
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    users
                        .execute(change_email("ada", &format!("t{t}-{i}@example.com")))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap();
    }
    let stream = store
        .read_stream(&StreamId::new("user-ada").unwrap(), Version(1), usize::MAX)
        .await
        .unwrap();
    let versions: Vec<u64> = stream.iter().map(|e| e.stream_version.0).collect();
    assert_eq!(
        versions,
        (1..=(1 + TASKS * PER_TASK) as u64).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn events_carry_the_command_metadata_and_inherit_the_correlation_id() {
    use es_core::CommandMeta;

    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let first = CommandMeta::new().with_header("actor", "admin");
    let (first_id, conversation) = (first.command_id, first.command_id);
    users.execute_with(register("ada"), first).await.unwrap();
    // A follow-up in the same conversation (say, caused by the first event).
    let second = CommandMeta::new().with_correlation_id(conversation);
    let second_id = second.command_id;
    users
        .execute_with(change_email("ada", "ada@new.org"), second)
        .await
        .unwrap();
    // A plain `execute` still gets a fresh command id.
    users
        .execute(change_email("ada", "ada@newer.org"))
        .await
        .unwrap();

    let stored = store.read_all(Position::START, 10).await.unwrap();
    let meta: Vec<_> = stored.iter().map(|e| &e.metadata).collect();
    assert_eq!(meta[0].command_id, Some(first_id));
    assert_eq!(meta[0].causation_id, Some(first_id));
    assert_eq!(meta[0].correlation_id, Some(first_id));
    assert_eq!(
        meta[0].headers.get("actor").map(String::as_str),
        Some("admin")
    );
    assert_eq!(meta[1].command_id, Some(second_id));
    assert_eq!(meta[1].causation_id, Some(second_id));
    assert_eq!(meta[1].correlation_id, Some(conversation), "inherited");
    assert!(meta[1].headers.is_empty());
    let third = meta[2].command_id.expect("execute assigns a command id");
    assert!(third != first_id && third != second_id);
    assert_eq!(meta[2].correlation_id, Some(third));
}

#[tokio::test]
async fn a_command_caused_by_an_event_continues_its_conversation() {
    use es_core::CommandMeta;

    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let opening = CommandMeta::new();
    let conversation = opening.command_id;
    users.execute_with(register("ada"), opening).await.unwrap();
    let first = store.read_all(Position::START, 10).await.unwrap().remove(0);
    assert_eq!(first.correlation_id(), conversation);

    let follow_up = CommandMeta::new().caused_by(&first);
    users
        .execute_with(change_email("ada", "ada@new.org"), follow_up)
        .await
        .unwrap();
    let second = store.read_all(first.position, 10).await.unwrap().remove(0);
    assert_eq!(second.metadata.causation_id, Some(first.event_id.0));
    assert_eq!(
        second.correlation_id(),
        conversation,
        "the same conversation"
    );

    // An event stored without a correlation id starts a conversation of its own.
    plant(
        &store,
        "user-bob",
        "user.email_changed",
        1,
        br#"{"email":"bob@example.com"}"#,
    )
    .await
    .unwrap();
    let planted = store.read_all(second.position, 10).await.unwrap().remove(0);
    assert_eq!(planted.metadata.correlation_id, None);
    assert_eq!(planted.correlation_id(), planted.event_id.0);
    let meta = CommandMeta::new().caused_by(&planted);
    assert_eq!(meta.correlation_id, Some(planted.event_id.0));
}

#[tokio::test]
async fn the_same_command_id_twice_appends_once_and_reports_the_first_outcome() {
    use es_core::CommandMeta;

    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let meta = CommandMeta::new();
    let first = users
        .execute_with(register("ada"), meta.clone())
        .await
        .unwrap();
    assert!(!first.duplicate);
    // The client retries (say, after a timeout): same command id, through another repository.
    let again = Repository::<User, _>::new(store.clone())
        .execute_with(register("ada"), meta.clone())
        .await
        .unwrap();
    assert!(
        again.duplicate,
        "reported as a duplicate, not as AlreadyRegistered"
    );
    assert!(again.events.is_empty());
    assert_eq!(
        (again.stream_version, again.last_position),
        (first.stream_version, first.last_position)
    );
    assert_eq!(store.len(), 1, "appended once");
    // A new command id is a new command: refused by the domain as usual.
    let other = users.execute(register("ada")).await;
    assert!(matches!(
        other,
        Err(ExecuteError::Domain(UserError::AlreadyRegistered))
    ));
    // The same id on another stream is another command.
    users.execute_with(register("bob"), meta).await.unwrap();
    assert_eq!(store.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_executions_of_one_command_id_append_once() {
    use es_core::CommandMeta;

    let store = MemStore::new();
    Repository::<User, _>::new(store.clone())
        .execute(register("ada"))
        .await
        .unwrap();
    let meta = CommandMeta::new();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let users = Repository::<User, _>::new(store.clone())
                .with_retry(RetryPolicy::CONFLICTS.with_max_attempts(101));
            let meta = meta.clone();
            tokio::spawn(async move {
                users
                    .execute_with(change_email("ada", "ada@once.org"), meta)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut fresh = 0;
    for task in tasks {
        if !task.await.unwrap().duplicate {
            fresh += 1;
        }
    }
    assert_eq!(fresh, 1, "exactly one execution appended");
    assert_eq!(store.len(), 2);
}
