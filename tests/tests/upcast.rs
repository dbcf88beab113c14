//! Schema evolution: events stored under old versions decode as the current type through a
//! chain of `upcast_from` types and `From` conversions; stored data is never rewritten.

use es_core::codec::JsonCodec;
use es_core::error::DecodeErrorKind;
use es_core::error::PayloadError;
use es_core::event::Event;
use es_core::prelude::*;
use es_memstore::MemStore;
use es_tests::plant;
use serde::{Deserialize, Serialize};

/// Version 1: one name field.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "person.registered")]
pub struct PersonRegisteredV1 {
    pub name: String,
}

/// Version 2: the name split in two.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "person.registered", version = 2, upcast_from = PersonRegisteredV1)]
pub struct PersonRegisteredV2 {
    pub given_name: String,
    pub family_name: String,
}

impl From<PersonRegisteredV1> for PersonRegisteredV2 {
    fn from(v1: PersonRegisteredV1) -> Self {
        let (given, family) = v1.name.split_once(' ').unwrap_or((&v1.name, ""));
        Self {
            given_name: given.to_owned(),
            family_name: family.to_owned(),
        }
    }
}

/// Version 3, the current one: an email joined, optional for older people.
#[derive(Event, Debug, Clone, PartialEq, Serialize, Deserialize)]
#[event(name = "person.registered", version = 3, upcast_from = PersonRegisteredV2)]
pub struct PersonRegistered {
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
}

impl From<PersonRegisteredV2> for PersonRegistered {
    fn from(v2: PersonRegisteredV2) -> Self {
        Self {
            given_name: v2.given_name,
            family_name: v2.family_name,
            email: None,
        }
    }
}

#[derive(Command, Debug)]
pub struct Register {
    #[id]
    pub id: u32,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "person", id = u32, error = Never, events(PersonRegistered), commands(Register))]
pub struct Person {
    names: Vec<String>,
}

impl Apply<PersonRegistered> for Person {
    fn apply(&mut self, e: &PersonRegistered) {
        self.names.push(format!(
            "{} {} <{}>",
            e.given_name,
            e.family_name,
            e.email.as_deref().unwrap_or("-")
        ));
    }
}

impl Handle<Register> for Person {
    fn handle(&self, _: &Register) -> Result<Vec<PersonEvent>, Never> {
        Ok(vec![
            PersonRegistered {
                given_name: "Grace".into(),
                family_name: "Hopper".into(),
                email: Some("grace@navy.mil".into()),
            }
            .into(),
        ])
    }
}

#[test]
fn each_version_decodes_as_the_current_type_through_the_chain() {
    let v1 = br#"{"name":"Ada Lovelace"}"#;
    let v2 = br#"{"given_name":"Alan","family_name":"Turing"}"#;
    let v3 = br#"{"given_name":"Grace","family_name":"Hopper","email":"g@navy.mil"}"#;
    let decode =
        |version, payload: &[u8]| PersonRegistered::decode_payload(&JsonCodec, version, payload);
    assert_eq!(
        decode(1, v1).unwrap(),
        PersonRegistered {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            email: None
        }
    );
    assert_eq!(
        decode(2, v2).unwrap(),
        PersonRegistered {
            given_name: "Alan".into(),
            family_name: "Turing".into(),
            email: None
        }
    );
    assert_eq!(decode(3, v3).unwrap().email.as_deref(), Some("g@navy.mil"));
    // A version above the current one, or below the oldest, has no reader.
    assert!(matches!(
        decode(4, v3),
        Err(PayloadError::UnsupportedVersion {
            found: 4,
            current: 3
        })
    ));
    assert!(matches!(
        decode(0, v1),
        Err(PayloadError::UnsupportedVersion {
            found: 0,
            current: 3
        })
    ));
    // A payload that does not match its declared version is a codec error, not a guess.
    assert!(matches!(decode(2, v1), Err(PayloadError::Codec(_))));
}

#[tokio::test]
async fn a_stream_written_with_old_versions_loads_as_the_current_type_and_is_not_rewritten() {
    let store = MemStore::new();
    plant(
        &store,
        "person-1",
        "person.registered",
        1,
        br#"{"name":"Ada Lovelace"}"#,
    )
    .await
    .unwrap();
    plant(
        &store,
        "person-1",
        "person.registered",
        2,
        br#"{"given_name":"Alan","family_name":"Turing"}"#,
    )
    .await
    .unwrap();
    let people = Repository::<Person, _>::new(store.clone());
    people.execute(Register { id: 1 }).await.unwrap();

    let person = people.load(&1).await.unwrap();
    assert_eq!(
        person.state.names,
        [
            "Ada Lovelace <->",
            "Alan Turing <->",
            "Grace Hopper <grace@navy.mil>"
        ]
    );
    // The stored bytes and versions are exactly as written.
    let stored = store.read_all(Position::START, 10).await.unwrap();
    let versions: Vec<u32> = stored.iter().map(|e| e.schema_version).collect();
    assert_eq!(versions, [1, 2, 3]);
    assert_eq!(&stored[0].payload[..], br#"{"name":"Ada Lovelace"}"#);

    plant(&store, "person-1", "person.registered", 9, b"{}")
        .await
        .unwrap();
    let err = people.load(&1).await.unwrap_err();
    assert!(
        matches!(&err, es_core::LoadError::Decode(d) if matches!(d.kind, DecodeErrorKind::UnsupportedVersion { current: 3 }) && d.schema_version == 9),
        "{err}"
    );
}

/// The example user domain evolved `user.created` and `user.renamed` to version 2 (the name in
/// two parts): streams an older release wrote with version 1 load as version 2, with the name
/// split at its last space, and keep working with today's commands and read models.
#[tokio::test]
async fn a_user_stream_written_with_version_1_loads_with_the_name_split() {
    use es_examples::user::views::UserDirectory;
    use es_examples::user::{RenameUser, User, UserId};

    let store = MemStore::new();
    let v1_created = br#"{"name":"Augusta Ada King","email":"ada@example.com"}"#;
    plant(&store, "user-ada", "user.created", 1, v1_created)
        .await
        .unwrap();
    plant(
        &store,
        "user-plato",
        "user.created",
        1,
        br#"{"name":"Plato","email":"plato@academy.gr"}"#,
    )
    .await
    .unwrap();
    let users = Repository::<User, _>::new(store.clone());
    let ada = users.load(&UserId::new("ada")).await.unwrap();
    assert_eq!(ada.version, Version(1));
    assert!(ada.state.is_registered());
    assert_eq!(
        (
            ada.state.first_name(),
            ada.state.last_name(),
            ada.state.email()
        ),
        ("Augusta Ada", "King", "ada@example.com")
    );
    let plato = users.load(&UserId::new("plato")).await.unwrap();
    assert_eq!(
        (plato.state.first_name(), plato.state.last_name()),
        ("Plato", ""),
        "a single word is a first name"
    );

    // A version 1 rename upcasts the same way.
    plant(
        &store,
        "user-ada",
        "user.renamed",
        1,
        br#"{"name":"Ada Lovelace"}"#,
    )
    .await
    .unwrap();
    let ada = users.load(&UserId::new("ada")).await.unwrap();
    assert_eq!(
        (ada.version, ada.state.first_name(), ada.state.last_name()),
        (Version(2), "Ada", "Lovelace")
    );

    // Today's commands decide on the upcast state: renaming to the same name changes nothing,
    // another name appends a version 2 event after the version 1 ones.
    let same = users
        .execute(RenameUser {
            user_id: UserId::new("ada"),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
        })
        .await
        .unwrap();
    assert!(same.events.is_empty(), "{:?}", same.events);
    users
        .execute(RenameUser {
            user_id: UserId::new("ada"),
            first_name: "Ada".into(),
            last_name: "King".into(),
        })
        .await
        .unwrap();
    let stored = store
        .read_stream(&StreamId::new("user-ada").unwrap(), Version(1), 10)
        .await
        .unwrap();
    let versions: Vec<(&str, u32)> = stored
        .iter()
        .map(|e| (&*e.name, e.schema_version))
        .collect();
    assert_eq!(
        versions,
        [
            ("user.created", 1),
            ("user.renamed", 1),
            ("user.renamed", 2)
        ]
    );
    assert_eq!(&stored[0].payload[..], v1_created, "never rewritten");

    // Read models see the upcast events too.
    let directory = ProjectionRunner::new(store.clone(), UserDirectory::default());
    directory.catch_up().await.unwrap();
    let directory = directory.read();
    let entry = |id: &str| directory.get(&UserId::new(id)).unwrap().name.clone();
    assert_eq!(
        (entry("ada"), entry("plato")),
        ("Ada King".into(), "Plato".into())
    );
    assert_eq!(
        directory.find_by_email("plato@academy.gr"),
        Some(&UserId::new("plato"))
    );
}
