//! Stream ids of aggregates: `"{aggregate name}-{id}"`, where the aggregate name holds no `-`,
//! so that two aggregates never share a stream even when ids hold `-` themselves; and the
//! typed id read back from a stream id (`aggregate_id::<A>()`), as projections do.

use std::collections::BTreeMap;

use es_core::envelope::{AggregateIdError, InvalidStreamId, StreamIdProblem};
use es_core::names::{NameKind, NameProblem};
use es_core::prelude::*;
use es_core::projection::EventMeta;
use es_core::{ExecuteError, LoadError};
use es_memstore::MemStore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

#[derive(Command, Debug)]
pub struct NoteTicket {
    #[id]
    pub id: Uuid,
    pub text: String,
}

/// Aggregate `ticket`, with UUID ids (which hold `-`).
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "ticket", id = Uuid, error = Never, events(Noted), commands(NoteTicket))]
pub struct Ticket;

impl Apply<Noted> for Ticket {
    fn apply(&mut self, _: &Noted) {}
}

impl Handle<NoteTicket> for Ticket {
    fn handle(&self, cmd: &NoteTicket) -> Result<Vec<TicketEvent>, Never> {
        Ok(vec![
            Noted {
                text: cmd.text.clone(),
            }
            .into(),
        ])
    }
}

#[derive(Command, Debug)]
pub struct NoteCounter {
    #[id]
    pub id: u64,
}

/// Aggregate `counter`, with number ids.
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "counter", id = u64, error = Never, events(Noted), commands(NoteCounter))]
pub struct Counter;

impl Apply<Noted> for Counter {
    fn apply(&mut self, _: &Noted) {}
}

impl Handle<NoteCounter> for Counter {
    fn handle(&self, _: &NoteCounter) -> Result<Vec<CounterEvent>, Never> {
        Ok(Vec::new())
    }
}

/// The notes of each user, learnt from the stream of each event; notes of other aggregates
/// are counted apart.
#[derive(Projection, Default, Debug)]
#[projection(name = "user-notes", events(Noted))]
pub struct UserNotes {
    by_user: BTreeMap<String, Vec<String>>,
    others: Vec<String>,
}

impl On<Noted> for UserNotes {
    fn on(&mut self, event: &Noted, meta: &EventMeta) {
        match meta.aggregate_id::<User>() {
            Ok(user) => self
                .by_user
                .entry(user)
                .or_default()
                .push(event.text.clone()),
            Err(error) => self.others.push(error.to_string()),
        }
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

fn stream(id: &str) -> StreamId {
    StreamId::new(id).expect("a valid stream id")
}

#[test]
fn the_id_of_an_aggregate_stream_is_read_back_typed() {
    let id = Uuid::now_v7();
    assert_eq!(
        StreamId::for_aggregate("ticket", &id)
            .unwrap()
            .aggregate_id::<Ticket>(),
        Ok(id)
    );
    assert_eq!(stream("counter-42").aggregate_id::<Counter>(), Ok(42));
    // Ids may hold `-`: everything after the aggregate name and its `-` is the id.
    assert_eq!(
        stream("user-admin-1").aggregate_id::<User>(),
        Ok("admin-1".to_owned())
    );
    assert_eq!(stream("user--").aggregate_id::<User>(), Ok("-".to_owned()));
}

#[test]
fn another_aggregates_stream_is_named_as_such() {
    for other in [
        "ticket-1",
        "users-1",
        "user",
        "use",
        "counter-user-1",
        "User-1",
    ] {
        let refused = stream(other).aggregate_id::<User>();
        assert_eq!(
            refused,
            Err(AggregateIdError::OtherAggregate {
                stream_id: stream(other),
                aggregate: "user",
            }),
            "{other}"
        );
    }
    let refused = stream("ticket-1").aggregate_id::<User>().unwrap_err();
    assert_eq!(
        refused.to_string(),
        "stream ticket-1 is not a stream of aggregate `user`, whose streams are named \
         `user-{id}`"
    );
}

#[test]
fn an_id_that_does_not_parse_is_named_with_the_parse_error() {
    let refused = stream("counter-seven").aggregate_id::<Counter>();
    assert_eq!(
        refused,
        Err(AggregateIdError::Unparsable {
            stream_id: stream("counter-seven"),
            aggregate: "counter",
            id: "seven".to_owned(),
            message: "invalid digit found in string".to_owned(),
        })
    );
    assert_eq!(
        refused.unwrap_err().to_string(),
        "stream counter-seven of aggregate `counter`: the id \"seven\" does not parse: invalid \
         digit found in string"
    );
    let refused = stream("ticket-not-a-uuid").aggregate_id::<Ticket>();
    assert!(
        matches!(&refused, Err(AggregateIdError::Unparsable { id, message, .. })
            if id == "not-a-uuid" && message.starts_with("invalid character")),
        "{refused:?}"
    );
    // An empty id is the id type's to accept or not.
    assert_eq!(stream("user-").aggregate_id::<User>(), Ok(String::new()));
    assert!(matches!(
        stream("counter-").aggregate_id::<Counter>(),
        Err(AggregateIdError::Unparsable { .. })
    ));
}

#[tokio::test]
async fn a_projection_learns_the_instance_of_each_event_from_its_envelope() {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let tickets = Repository::<Ticket, _>::new(store.clone());
    let ticket = Uuid::now_v7();
    users.execute(note("admin-1", "first")).await.unwrap();
    users.execute(note("ada", "hello")).await.unwrap();
    tickets
        .execute(NoteTicket {
            id: ticket,
            text: "ticket note".into(),
        })
        .await
        .unwrap();
    users.execute(note("admin-1", "second")).await.unwrap();

    let log = store.read_all(Position::START, 10).await.unwrap();
    assert_eq!(log[0].aggregate_id::<User>(), Ok("admin-1".to_owned()));
    assert_eq!(log[2].aggregate_id::<Ticket>(), Ok(ticket));

    let runner = ProjectionRunner::new(store.clone(), UserNotes::default());
    runner.catch_up().await.unwrap();
    let notes = runner.read();
    assert_eq!(notes.by_user["admin-1"], ["first", "second"]);
    assert_eq!(notes.by_user["ada"], ["hello"]);
    assert_eq!(
        notes.others,
        [format!(
            "stream ticket-{ticket} is not a stream of aggregate `user`, whose streams are named \
             `user-{{id}}`"
        )]
    );
}
