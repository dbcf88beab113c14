//! The user domain on the in-memory store: a short scenario that prints each command, its
//! outcome, and then every stored event; then the read models: a user directory that follows
//! the log live (a command, waiting for the directory to see it, a query), and statistics
//! caught up on demand.
//!
//! Run it with `cargo run --example user`.

use std::error::Error;
use std::time::Duration;

use es_core::prelude::*;
use es_core::{CommandSet, ExecuteError};
use es_examples::user::views::{UserDirectory, UserStats};
use es_examples::user::{
    ChangeEmail, DeleteUser, RegisterUser, RenameUser, User, UserCommand, UserId,
};
use es_memstore::MemStore;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let store = MemStore::new();
    let users = Repository::<User, _>::new(store.clone());
    let ada = UserId::new("ada");

    // The directory follows the log live, in its own task, until told to stop.
    let directory = ProjectionRunner::new(store.clone(), UserDirectory::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let live = tokio::spawn({
        let directory = directory.clone();
        async move {
            directory
                .run(async {
                    let _ = stopped.await;
                })
                .await
        }
    });

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

    println!("\nRead models");
    let grace = RegisterUser {
        user_id: UserId::new("grace"),
        name: "Grace Hopper".into(),
        email: "grace@navy.mil".into(),
    };
    let done = users.execute(grace).await?;
    let position = done
        .last_position
        .ok_or("registering a user appends an event")?;
    println!("  ok       RegisterUser grace   -> appended at position {position}");
    directory.wait_for(position, Duration::from_secs(5)).await?;
    println!("  directory reached position {}", directory.position());
    for email in [
        "grace@navy.mil",
        "ada@analytical.engine",
        "nobody@example.com",
    ] {
        let found = directory.read().find_by_email(email).cloned();
        match found {
            Some(id) => println!("  find_by_email({email:?}) -> {id}"),
            None => println!("  find_by_email({email:?}) -> no live user"),
        }
    }

    let stats = ProjectionRunner::new(store.clone(), UserStats::default());
    let reached = stats.catch_up().await?;
    let counts = *stats.read();
    println!(
        "  user-stats at position {reached}: {} registered, {} deleted, {} active, {} email change(s)",
        counts.registered,
        counts.deleted,
        counts.active(),
        counts.email_changes
    );

    let _ = stop.send(());
    let stopped_at = live.await??;
    println!("  directory stopped cleanly at position {stopped_at}");
    Ok(())
}
