//! Command validation: `#[command(validate = fn)]`, `#[command(garde)]` and both together;
//! refusals list every failing field, run before the aggregate decides, and store nothing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use es_core::prelude::*;
use es_core::testing::{Refusal, given};
use es_memstore::MemStore;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "member.joined")]
struct Joined {
    name: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "member.touched")]
struct Touched {}

/// garde's rules, then a plain function's.
#[derive(Command, garde::Validate, Debug, Clone)]
#[command(garde, validate = check_join)]
struct Join {
    #[id]
    #[garde(skip)]
    member: u64,
    #[garde(length(min = 1, max = 20))]
    name: String,
    #[garde(range(min = 18))]
    age: u8,
    #[garde(inner(length(min = 1)))]
    tags: Vec<String>,
    #[garde(skip)]
    email: String,
}

fn check_join(cmd: &Join) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if !cmd.email.contains('@') {
        errors.add("email", "must contain an `@`");
    }
    if cmd.name == "admin" {
        errors.add("name", "is reserved");
    }
    errors.into_result()
}

/// A plain function only, with a rule about the whole command.
#[derive(Command, Debug)]
#[command(validate = check_rename)]
struct Rename {
    #[id]
    member: u64,
    old: String,
    new: String,
}

fn check_rename(cmd: &Rename) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if cmd.old == cmd.new {
        errors.add("", "the new name must differ from the old one");
    }
    errors.into_result()
}

/// garde only.
#[derive(Command, garde::Validate, Debug)]
#[command(garde)]
struct Nickname {
    #[id]
    #[garde(skip)]
    member: u64,
    #[garde(length(min = 2))]
    nick: String,
}

/// No rules.
#[derive(Command, Debug)]
struct Touch {
    #[id]
    member: u64,
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("never")]
struct Never;

/// How many times any `Handle` impl of `Member` ran, to show invalid commands never reach it.
static DECISIONS: AtomicUsize = AtomicUsize::new(0);

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "member", id = u64, error = Never,
            events(Joined, Touched), commands(Join, Rename, Nickname, Touch))]
struct Member {
    name: String,
}

impl Apply<Joined> for Member {
    fn apply(&mut self, e: &Joined) {
        self.name.clone_from(&e.name);
    }
}
impl Apply<Touched> for Member {
    fn apply(&mut self, _: &Touched) {}
}

fn decide(events: Vec<MemberEvent>) -> Result<Vec<MemberEvent>, Never> {
    DECISIONS.fetch_add(1, Ordering::SeqCst);
    Ok(events)
}

impl Handle<Join> for Member {
    fn handle(&self, cmd: &Join) -> Result<Vec<MemberEvent>, Never> {
        decide(vec![
            Joined {
                name: cmd.name.clone(),
            }
            .into(),
        ])
    }
}
impl Handle<Rename> for Member {
    fn handle(&self, cmd: &Rename) -> Result<Vec<MemberEvent>, Never> {
        decide(vec![
            Joined {
                name: cmd.new.clone(),
            }
            .into(),
        ])
    }
}
impl Handle<Nickname> for Member {
    fn handle(&self, _: &Nickname) -> Result<Vec<MemberEvent>, Never> {
        decide(vec![Touched {}.into()])
    }
}
impl Handle<Touch> for Member {
    fn handle(&self, _: &Touch) -> Result<Vec<MemberEvent>, Never> {
        decide(vec![Touched {}.into()])
    }
}

fn bad_join() -> Join {
    Join {
        member: 1,
        name: String::new(),
        age: 12,
        tags: vec!["ok".into(), String::new()],
        email: "nobody".into(),
    }
}

fn good_join() -> Join {
    Join {
        member: 1,
        name: "Ada".into(),
        age: 36,
        tags: vec!["math".into()],
        email: "ada@example.com".into(),
    }
}

#[tokio::test]
async fn validation_failures_name_every_bad_field_and_store_nothing() {
    let store = MemStore::new();
    let members = Repository::<Member, _>::new(store.clone());
    let before = DECISIONS.load(Ordering::SeqCst);

    let err = members
        .execute(bad_join())
        .await
        .expect_err("every rule is broken");
    let ExecuteError::Invalid { command, errors } = &err else {
        panic!("expected ExecuteError::Invalid, got {err:?}");
    };
    assert_eq!(*command, "Join");
    // garde's fields in the order garde reports them (with the path into the list), then the
    // function's.
    assert_eq!(
        errors.fields().collect::<Vec<_>>(),
        ["age", "name", "tags[1]", "email"]
    );
    assert_eq!(
        errors.iter().last().map(|e| e.message.as_str()),
        Some("must contain an `@`")
    );
    let shown = err.to_string();
    assert!(shown.starts_with("invalid command Join: age: "), "{shown}");
    for field in ["name", "age", "tags[1]", "email"] {
        assert!(shown.contains(&format!("{field}: ")), "{field} in {shown}");
    }

    // Nothing was decided, nothing was stored.
    assert_eq!(DECISIONS.load(Ordering::SeqCst), before);
    assert!(
        store
            .read_all(Position::START, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let stream = members.stream_id(&1).unwrap();
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version::EMPTY);
}

#[tokio::test]
async fn a_valid_command_is_decided_and_appended() {
    let store = MemStore::new();
    let members = Repository::<Member, _>::new(store.clone());
    let done = members.execute(good_join()).await.unwrap();
    assert_eq!(done.stream_version, Version(1));
    assert_eq!(members.load(&1).await.unwrap().state.name, "Ada");
}

#[tokio::test]
async fn each_hook_runs_alone_and_commands_without_rules_accept_everything() {
    let members = Repository::<Member, _>::new(MemStore::new());

    let rename = Rename {
        member: 2,
        old: "Ada".into(),
        new: "Ada".into(),
    };
    match members.execute(rename).await {
        Err(ExecuteError::Invalid { command, errors }) => {
            assert_eq!(command, "Rename");
            assert_eq!(errors.fields().collect::<Vec<_>>(), [""]);
            assert_eq!(
                errors.to_string(),
                "the new name must differ from the old one"
            );
        }
        other => panic!("expected an invalid Rename, got {other:?}"),
    }

    let nick = Nickname {
        member: 2,
        nick: "a".into(),
    };
    match members.execute(nick).await {
        Err(ExecuteError::Invalid { command, errors }) => {
            assert_eq!(command, "Nickname");
            assert_eq!(errors.fields().collect::<Vec<_>>(), ["nick"]);
        }
        other => panic!("expected an invalid Nickname, got {other:?}"),
    }

    assert!(members.execute(Touch { member: 2 }).await.is_ok());
    assert_eq!(Touch { member: 2 }.validate(), Ok(()));
}

#[test]
fn the_command_enum_dispatches_validation_to_each_command() {
    let direct = bad_join().validate().unwrap_err();
    let through_enum = MemberCommand::from(bad_join()).validate().unwrap_err();
    assert_eq!(direct, through_enum);
    assert_eq!(MemberCommand::from(good_join()).validate(), Ok(()));
    assert_eq!(MemberCommand::from(Touch { member: 1 }).validate(), Ok(()));
}

#[test]
fn the_function_adds_to_gardes_errors_for_the_same_field() {
    let admin = Join {
        name: "admin".into(),
        ..good_join()
    };
    let errors = admin.validate().unwrap_err();
    assert_eq!(errors.fields().collect::<Vec<_>>(), ["name"]);
    let too_long_admin = Join {
        name: "admin".repeat(5),
        ..good_join()
    };
    // Too long for garde, and not exactly "admin" for the function: one error.
    assert_eq!(
        too_long_admin
            .validate()
            .unwrap_err()
            .fields()
            .collect::<Vec<_>>(),
        ["name"]
    );
}

#[test]
fn the_test_kit_validates_before_deciding() {
    given::<Member>([])
        .when(bad_join())
        .then_invalid(["age", "name", "tags[1]", "email"]);
    let when = given::<Member>([]).when(Nickname {
        member: 1,
        nick: "x".into(),
    });
    assert!(matches!(when.outcome(), Err(Refusal::Invalid(errors)) if errors.len() == 1));

    let message = catch_unwind(AssertUnwindSafe(|| {
        given::<Member>([]).when(bad_join()).then_invalid(["name"]);
    }))
    .expect_err("the fields differ");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains(r#"expected invalid fields: ["name"]"#)
            && message.contains(r#"actual invalid fields: ["age", "name", "tags[1]", "email"]"#),
        "{message}"
    );

    let message = catch_unwind(AssertUnwindSafe(|| {
        given::<Member>([]).when(good_join()).then_invalid(["name"]);
    }))
    .expect_err("the command is valid");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("but the command succeeded with:"),
        "{message}"
    );

    let message = catch_unwind(AssertUnwindSafe(|| {
        given::<Member>([]).when(bad_join()).then([]);
    }))
    .expect_err("the command is invalid");
    let message = message
        .downcast_ref::<String>()
        .expect("a formatted message");
    assert!(
        message.contains("but the command was invalid: age: lower than 18; name: "),
        "{message}"
    );
}
