//! The user directory as a PostgreSQL table (es-examples' `user::table`): what its pure `On`
//! impls record, and that the table answers exactly as the in-memory `UserDirectory` does
//! after the same commands, also after a rebuild.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::collections::BTreeSet;

use es_core::prelude::*;
use es_core::testing::projection;
use es_examples::user::table::{Change, DirectoryChanges, DirectoryTable};
use es_examples::user::views::UserDirectory;
use es_examples::user::{
    ChangeEmail, DeleteUser, EmailChanged, RegisterUser, RenameUser, User, UserCommand,
    UserCreated, UserDeleted, UserId, UserRenamed,
};
use es_postgres::{PgTables, testing};
use es_tests::Rng;

fn id(name: &str) -> UserId {
    UserId::new(name)
}

#[test]
fn on_records_one_change_per_event_in_order() {
    projection::<DirectoryChanges>()
        .given(
            "user-ada",
            UserCreated {
                first_name: "Ada".into(),
                last_name: "Lovelace".into(),
                email: "ada@example.com".into(),
            },
        )
        .given(
            "user-ada",
            EmailChanged {
                email: "ada@analytical.engine".into(),
            },
        )
        .given(
            "user-ada",
            UserRenamed {
                first_name: "Augusta Ada".into(),
                last_name: "King".into(),
            },
        )
        .given("user-bob", UserDeleted {})
        .then(DirectoryChanges {
            changes: vec![
                Change::Register {
                    id: id("ada"),
                    name: "Ada Lovelace".into(),
                    email: "ada@example.com".into(),
                },
                Change::ChangeEmail {
                    id: id("ada"),
                    email: "ada@analytical.engine".into(),
                },
                Change::Rename {
                    id: id("ada"),
                    name: "Augusta Ada King".into(),
                },
                Change::Remove { id: id("bob") },
            ],
        });
}

/// `count` commands on 30 users sharing a few addresses: registrations (repeated ones are
/// refused), email changes (some to a shared address), renames and deletions.
fn commands(count: usize) -> Vec<UserCommand> {
    const EMAILS: [&str; 4] = [
        "a@example.com",
        "shared@example.com",
        "b@example.com",
        "x@example.com",
    ];
    // Seeded: the command sequence is the same on every run.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..count)
        .map(|i| {
            let user = id(&format!("u{:02}", rng.below(30)));
            let email = EMAILS[rng.below(EMAILS.len() as u64) as usize].to_owned();
            match rng.below(20) {
                0..=7 => RegisterUser {
                    user_id: user,
                    first_name: format!("First{i}"),
                    last_name: format!("Last{i}"),
                    email,
                }
                .into(),
                8..=13 => ChangeEmail {
                    user_id: user,
                    email,
                }
                .into(),
                14..=18 => RenameUser {
                    user_id: user,
                    first_name: format!("Renamed{i}"),
                    last_name: String::new(),
                }
                .into(),
                _ => DeleteUser { user_id: user }.into(),
            }
        })
        .collect()
}

/// Asserts the table answers every lookup as the in-memory directory does.
async fn assert_same(table: &DirectoryTable, memory: &UserDirectory, users: &[UserId]) {
    assert_eq!(
        table.count().await.expect("count"),
        u64::try_from(memory.len()).expect("small")
    );
    let mut emails = BTreeSet::new();
    for user in users {
        let in_table = table.get(user).await.expect("get");
        assert_eq!(in_table.as_ref(), memory.get(user), "user {user}");
        if let Some(entry) = in_table {
            emails.insert(entry.email);
        }
    }
    emails.insert("nobody@example.com".to_owned());
    for email in &emails {
        assert_eq!(
            table.find_by_email(email).await.expect("find").as_ref(),
            memory.find_by_email(email),
            "email {email}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_table_answers_as_the_in_memory_directory() {
    let Some(database) = testing::database_or_skip(1) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let store = testing::fresh_store(&pool).await.expect("a fresh store");
    let table = DirectoryTable::new(&store);
    let users = Repository::<User, _>::new(store.clone());
    let commands = commands(300);
    let ids: BTreeSet<UserId> = commands
        .iter()
        .map(|command| command.aggregate_id().clone())
        .collect();
    let ids: Vec<UserId> = ids.into_iter().collect();

    let memory = ProjectionRunner::new(store.clone(), UserDirectory::default());
    let tables = ProjectionRunner::new(
        store.clone(),
        PgTables::<DirectoryChanges>::new(store.clone()),
    )
    .with_batch_size(7);
    let (mut applied, mut refused) = (0, 0);
    for (i, command) in commands.into_iter().enumerate() {
        match users.execute(command).await {
            Ok(_) => applied += 1,
            Err(ExecuteError::Domain(_) | ExecuteError::Invalid { .. }) => refused += 1,
            Err(other) => panic!("execute: {other}"),
        }
        // Compare now and then, so both are caught up piecemeal.
        if i % 50 == 49 {
            let reached = memory.catch_up().await.expect("in memory");
            assert_eq!(tables.catch_up().await.expect("table"), reached);
            let snapshot = memory.read().clone();
            assert_same(&table, &snapshot, &ids).await;
        }
    }
    assert!(
        applied > 50 && refused > 50,
        "{applied} applied, {refused} refused"
    );
    // Every kind of change happened, more than once.
    let log = store
        .read_all(Position::START, 10_000)
        .await
        .expect("the log");
    for name in [
        "user.created",
        "user.email_changed",
        "user.renamed",
        "user.deleted",
    ] {
        let seen = log.iter().filter(|event| &*event.name == name).count();
        assert!(seen > 5, "{name}: {seen}");
    }
    assert!(!memory.read().is_empty(), "some users are live at the end");

    let head = memory.catch_up().await.expect("in memory");
    assert_eq!(tables.rebuild().await.expect("rebuild"), head);
    let snapshot = memory.read().clone();
    assert_same(&table, &snapshot, &ids).await;
}
