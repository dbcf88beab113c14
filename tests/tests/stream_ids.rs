//! Stream ids of aggregates: `"{aggregate name}-{id}"`, where the aggregate name holds no `-`,
//! so that two aggregates never share a stream even when ids hold `-` themselves.

use es_core::envelope::{InvalidStreamId, StreamIdProblem};
use es_core::names::{NameKind, NameProblem};
use es_core::prelude::*;
use es_core::{ExecuteError, LoadError};
use es_memstore::MemStore;
use serde::{Deserialize, Serialize};

#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "user.noted")]
pub struct Noted {
    pub text: String,
}

#[derive(Command, Debug)]
pub struct Note {
    #[id]
    pub id: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

/// Aggregate `user`, with string ids such as `admin-1`.
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "user", id = String, error = Never, events(Noted), commands(Note))]
pub struct User {
    notes: Vec<String>,
}

impl Apply<Noted> for User {
    fn apply(&mut self, event: &Noted) {
        self.notes.push(event.text.clone());
    }
}

impl Handle<Note> for User {
    fn handle(&self, cmd: &Note) -> Result<Vec<UserEvent>, Never> {
        Ok(vec![
            Noted {
                text: cmd.text.clone(),
            }
            .into(),
        ])
    }
}

/// The same aggregate under the name `user-admin`, written by hand since the derive refuses
/// that name: its instance `1` would have written to `user-admin-1`, the stream of the
/// instance `admin-1` of `user`.
#[derive(Default, Debug)]
pub struct UserAdmin(User);

impl Aggregate for UserAdmin {
    const NAME: &'static str = "user-admin";
    type Id = String;
    type Event = UserEvent;
    type Command = UserCommand;
    type Error = Never;

    fn apply_event(&mut self, event: &UserEvent) {
        self.0.apply_event(event);
    }

    fn handle_command(&self, command: &UserCommand) -> Result<Vec<UserEvent>, Never> {
        self.0.handle_command(command)
    }
}

fn note(id: &str, text: &str) -> Note {
    Note {
        id: id.into(),
        text: text.into(),
    }
}

fn separator_refused(error: &InvalidStreamId) -> bool {
    matches!(
        &error.problem,
        StreamIdProblem::AggregateName { name, error }
            if name == "user-admin"
                && error.kind == NameKind::Aggregate
                && error.problem == NameProblem::Separator { at: 4 }
    )
}

#[test]
fn an_aggregate_name_with_the_separator_makes_no_stream_id() {
    let stream = StreamId::for_aggregate("user", &"admin-1").unwrap();
    assert_eq!(stream.as_str(), "user-admin-1");

    let refused = StreamId::for_aggregate("user-admin", &1).unwrap_err();
    assert!(separator_refused(&refused), "{refused:?}");
    assert_eq!(refused.preview, "user-admin-1");
    assert!(
        refused
            .to_string()
            .starts_with("invalid stream id \"user-admin-1\": the aggregate name \"user-admin\" is refused: aggregate name holds `-`"),
        "{refused}"
    );
}

#[test]
fn every_aggregate_name_outside_the_rule_is_refused() {
    for (name, problem) in [
        ("", NameProblem::Empty),
        (
            "user admin",
            NameProblem::BadCharacter { found: ' ', at: 4 },
        ),
        ("_user", NameProblem::BadStart { found: '_' }),
    ] {
        let refused = StreamId::for_aggregate(name, &1).unwrap_err();
        assert!(
            matches!(&refused.problem, StreamIdProblem::AggregateName { error, .. } if error.problem == problem),
            "{name:?}: {refused:?}"
        );
    }
}

#[tokio::test]
async fn the_two_aggregates_that_shared_a_stream_no_longer_can() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let admins = Repository::<UserAdmin, _>::new(store.clone());

    let done = users.execute(note("admin-1", "from user")).await.unwrap();
    assert_eq!(done.stream_id.as_str(), "user-admin-1");

    // `user-admin`'s instance `1` is refused before anything is read or written.
    let refused = admins.execute(note("1", "from user-admin")).await;
    assert!(
        matches!(&refused, Err(ExecuteError::InvalidStreamId(error)) if separator_refused(error)),
        "{refused:?}"
    );
    let refused = admins.load(&"1".to_owned()).await;
    assert!(
        matches!(&refused, Err(LoadError::InvalidStreamId(error)) if separator_refused(error)),
        "{refused:?}"
    );

    let log = store.read_all(Position::START, 10).await.unwrap();
    assert_eq!(log.len(), 1, "only the user's event is stored");
    let user = users.load(&"admin-1".to_owned()).await.unwrap();
    assert_eq!(user.state.notes, ["from user"]);
}
