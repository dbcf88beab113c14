//! The user domain on the in-memory store: a short scenario that prints each command, its
//! outcome, and then every stored event.
//!
//! Run it with `cargo run --example user`.

use std::error::Error;

use es_core::prelude::*;
use es_core::{CommandSet, ExecuteError};
use es_examples::user::{
    ChangeEmail, DeleteUser, RegisterUser, RenameUser, User, UserCommand, UserId,
};
use es_memstore::MemStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let ada = UserId::new("ada");

    let scenario: Vec<UserCommand> = vec![
        RegisterUser {
            user_id: ada.clone(),
            name: "Ada Lovelace".into(),
            email: "ada@example.com".into(),
        }
        .into(),
        RegisterUser {
            user_id: ada.clone(),
            name: "Ada".into(),
            email: "ada@example.com".into(),
        }
        .into(),
        RegisterUser {
            user_id: UserId::new("bob"),
            name: "  ".into(),
            email: "bob@example.com".into(),
        }
        .into(),
        ChangeEmail {
            user_id: ada.clone(),
            email: "ada-at-example.com".into(),
        }
        .into(),
        ChangeEmail {
            user_id: ada.clone(),
            email: "ada@analytical.engine".into(),
        }
        .into(),
        RenameUser {
            user_id: ada.clone(),
            name: "Augusta Ada King".into(),
        }
        .into(),
        ChangeEmail {
            user_id: UserId::new("carol"),
            email: "carol@example.com".into(),
        }
        .into(),
        DeleteUser {
            user_id: ada.clone(),
        }
        .into(),
        RenameUser {
            user_id: ada.clone(),
            name: "Ada".into(),
        }
        .into(),
    ];

    println!("Commands");
    for command in scenario {
        let line = format!("{} {}", command.name(), command.aggregate_id());
        match users.execute(command).await {
            Ok(done) => println!(
                "  ok       {line:<20} -> {} event(s), {} now at version {}",
                done.events.len(),
                done.stream_id,
                done.stream_version
            ),
            Err(ExecuteError::Domain(refusal)) => println!("  refused  {line:<20} -> {refusal}"),
            Err(other) => return Err(other.into()),
        }
    }

    println!("\nStored events");
    println!(
        "  {:<10} {:>3} {:>4}  {:<22} payload",
        "stream", "ver", "pos", "event"
    );
    for event in store.read_all(Position::START, usize::MAX).await? {
        println!(
            "  {:<10} {:>3} {:>4}  {:<22} {}",
            event.stream_id.as_str(),
            event.stream_version.0,
            event.position.0,
            format!("{} v{}", event.name, event.schema_version),
            String::from_utf8_lossy(&event.payload)
        );
    }

    let user = users.load(&ada).await?;
    println!(
        "\nLoaded {} at version {}: name {:?}, email {:?}, deleted: {}",
        user.stream_id,
        user.version,
        user.state.name(),
        user.state.email(),
        user.state.is_deleted()
    );
    Ok(())
}
