//! The user domain on the in-memory store: a short scenario that prints each command, its
//! outcome, and then every stored event; then a stream as an older release wrote it (schema
//! version 1, the name in one string), loaded as the current version 2 (the name split in
//! two); then the read models: a user directory that follows the log live (a command, waiting
//! for the directory to see it, a query), and statistics caught up on demand.
//!
//! Run it with `cargo run --example user`; `cargo run --example user -- catalog --format html`
//! prints the domain's catalog instead (or `mermaid`, `dot`, `json`).
//!
//! With `--postgres` (`cargo run --example user -- --postgres`) the same scenario runs on
//! PostgreSQL (es-postgres): on the server of `DATABASE_URL` if it is set, otherwise on a
//! throwaway server started from the machine's PostgreSQL binaries (`initdb`, `pg_ctl`). The
//! directory is then a table, `user_directory`, written in the same transaction as its
//! checkpoint. The run uses a schema of its own and removes it at the end. It needs a Unix
//! machine: it sets up and removes the schema with es-postgres's test harness, which exists
//! on Unix only.
//!
//! With `--sqlite PATH` (`cargo run --example user -- --sqlite users.db`) the same scenario
//! runs on an SQLite file (es-sqlite), created if missing. The directory is then a table,
//! `user_directory`, in the same file, written in the same transaction as its checkpoint. The
//! file is kept: run the example again on it and the second run continues the history of the
//! first (its commands meet the users the first run left, the stored events of both runs are
//! listed, and the directory's runner resumes from its checkpoint).

use std::error::Error;
use std::time::Duration;

use es_core::codec::{Encoded, JsonCodec};
use es_core::prelude::*;
use es_core::projection::Target;
use es_core::{CommandSet, ExecuteError, NewEvent, RecordedEvent};
#[cfg(unix)]
use es_examples::postgres::Postgres;
use es_examples::user::sqlite_table::SqliteDirectory;
use es_examples::user::table::{DirectoryChanges, DirectoryTable};
use es_examples::user::views::{UserDirectory, UserStats};
use es_examples::user::{
    ChangeEmail, DeleteUser, RegisterUser, RenameUser, User, UserCommand, UserEvent, UserId,
};
use es_memstore::MemStore;
#[cfg(unix)]
use es_postgres::PgTables;
use es_sqlite::{SqliteStore, SqliteTables};

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(catalog) = es_examples::cli::catalog(&args, es_examples::user::catalog::catalog) {
        match catalog {
            Ok(text) => print!("{text}"),
            Err(error) => {
                eprintln!("error: {error}");
                std::process::exit(2);
            }
        }
        return Ok(());
    }
    if let Some(at) = args.iter().position(|arg| arg == "--sqlite") {
        let path = args
            .get(at + 1)
            .ok_or("--sqlite needs the path of the file: --sqlite PATH")?;
        on_sqlite(path).await
    } else if args.iter().any(|arg| arg == "--postgres") {
        on_postgres().await
    } else {
        println!("Store: in memory\n");
        let store = MemStore::new();
        let directory = ProjectionRunner::new(store.clone(), UserDirectory::default());
        scenario(store, directory.clone(), directory).await
    }
}

/// The `--sqlite PATH` run: the file is created if missing and kept, so a second run
/// continues the first's history.
async fn on_sqlite(path: &str) -> Result<(), BoxError> {
    let store = SqliteStore::open(path).await?;
    let earlier = store.read_all(Position::START, usize::MAX).await?.len();
    println!("Store: SQLite file {path}, {earlier} event(s) from earlier runs\n");
    // The directory's runner creates its table before its first batch, and resumes from its
    // checkpoint on a later run.
    let table = SqliteTables::<DirectoryChanges>::new(store.clone());
    let directory = ProjectionRunner::new(store.clone(), table);
    let outcome = scenario(store.clone(), directory, SqliteDirectory::new(&store)).await;
    store.close().await;
    outcome
}

/// The `--postgres` run.
#[cfg(unix)]
async fn on_postgres() -> Result<(), BoxError> {
    let postgres = Postgres::start("user_example").await?;
    println!(
        "Store: PostgreSQL {}, schema {}\n",
        postgres.place,
        postgres.store.schema()
    );
    let store = postgres.store.clone();
    // The directory's runner creates its table before its first batch.
    let table = PgTables::<DirectoryChanges>::new(store.clone());
    let directory = ProjectionRunner::new(store.clone(), table);
    let outcome = scenario(store.clone(), directory, DirectoryTable::new(&store)).await;
    // Whatever the outcome, leave nothing behind.
    postgres.remove().await?;
    outcome
}

/// The `--postgres` run, which needs es-postgres's test harness: Unix only.
#[cfg(not(unix))]
async fn on_postgres() -> Result<(), BoxError> {
    Err("--postgres needs a Unix machine: es_postgres::testing exists on Unix only".into())
}

/// The questions the scenario asks the user directory, wherever it lives.
trait Lookup {
    /// Where the directory is and how many live users it holds.
    async fn describe(&self) -> Result<String, BoxError>;

    /// `id (name)` of the live user with this email.
    async fn find_by_email(&self, email: &str) -> Result<Option<String>, BoxError>;
}

/// The directory in memory: its runner's state.
impl Lookup for ProjectionRunner<InMemory<UserDirectory>, MemStore> {
    async fn describe(&self) -> Result<String, BoxError> {
        Ok(format!("in memory, {} live users", self.read().len()))
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<String>, BoxError> {
        let directory = self.read();
        Ok(directory
            .find_by_email(email)
            .map(|id| format!("{id} ({})", directory.get(id).map_or("?", |e| &e.name))))
    }
}

/// The directory as a table in the SQLite file.
impl Lookup for SqliteDirectory {
    async fn describe(&self) -> Result<String, BoxError> {
        Ok(format!(
            "table user_directory, {} rows",
            self.count().await?
        ))
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<String>, BoxError> {
        let Some(id) = SqliteDirectory::find_by_email(self, email).await? else {
            return Ok(None);
        };
        let name = self
            .get(&id)
            .await?
            .map_or_else(|| "?".to_owned(), |e| e.name);
        Ok(Some(format!("{id} ({name})")))
    }
}

/// The directory as a table: SQL.
impl Lookup for DirectoryTable {
    async fn describe(&self) -> Result<String, BoxError> {
        Ok(format!(
            "table user_directory, {} rows",
            self.count().await?
        ))
    }

    async fn find_by_email(&self, email: &str) -> Result<Option<String>, BoxError> {
        let Some(id) = DirectoryTable::find_by_email(self, email).await? else {
            return Ok(None);
        };
        let name = self
            .get(&id)
            .await?
            .map_or_else(|| "?".to_owned(), |e| e.name);
        Ok(Some(format!("{id} ({name})")))
    }
}

/// The whole scenario, on `store`, with `directory` following it live and answering
/// through `lookup`.
async fn scenario<S, T>(
    store: S,
    directory: ProjectionRunner<T, S>,
    lookup: impl Lookup,
) -> Result<(), BoxError>
where
    S: EventStore,
    T: Target,
{
    let users = Repository::<User, _>::new(store.clone());
    let ada = UserId::new("ada");

    // The directory follows the log live, in its own task, until told to stop.
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
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
        }
        .into(),
        RegisterUser {
            user_id: ada.clone(),
            first_name: "Ada".into(),
            last_name: String::new(),
            email: "ada@example.com".into(),
        }
        .into(),
        RegisterUser {
            user_id: UserId::new("bob"),
            first_name: "  ".into(),
            last_name: "Bobson".into(),
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
            first_name: "Augusta Ada".into(),
            last_name: "King".into(),
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
            first_name: "Ada".into(),
            last_name: String::new(),
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
            Err(ExecuteError::Invalid { errors, .. }) => {
                println!("  invalid  {line:<20} -> {errors}");
            }
            Err(other) => return Err(other.into()),
        }
    }

    println!("\nStored events");
    println!(
        "  {:<10} {:>3} {:>4}  {:<22} payload",
        "stream", "ver", "pos", "event"
    );
    let mut head = Position::START;
    for event in store.read_all(Position::START, usize::MAX).await? {
        print_stored(&event);
        head = event.position;
    }

    let user = users.load(&ada).await?;
    println!(
        "\nLoaded {} at version {}: name {:?}, email {:?}, deleted: {}",
        user.stream_id,
        user.version,
        user.state.full_name(),
        user.state.email(),
        user.state.is_deleted()
    );

    // A stream as an older release wrote it: schema version 1, the name in one string. It is
    // appended as raw JSON through the store API (not by today's types, which write version
    // 2), and read back through the upcasters: each version 1 payload decodes as
    // `UserCreatedV1` / `UserRenamedV1` and converts to today's event with `From`.
    println!("\nWritten by an older release (schema version 1), read as version 2");
    let alan = UserId::new("alan");
    let stream = users.stream_id(&alan)?;
    // A file kept from an earlier run (`--sqlite`) holds the stream already.
    let earlier_run = store.stream_version(&stream).await? != Version(0);
    let written_by_v1 = |name: &'static str, json: &str| {
        NewEvent::new(Encoded {
            name,
            version: 1,
            payload: json.as_bytes().to_vec().into(),
        })
    };
    if earlier_run {
        println!("  (the stream was written by an earlier run on this file)");
    } else {
        store
            .append(
                &stream,
                ExpectedVersion::NoStream,
                vec![
                    written_by_v1(
                        "user.created",
                        r#"{"name":"Alan Mathison Turing","email":"alan@bletchley.park"}"#,
                    ),
                    written_by_v1("user.renamed", r#"{"name":"Alan Turing"}"#),
                ],
            )
            .await?;
    }
    for event in store.read_stream(&stream, Version(1), usize::MAX).await? {
        print_stored(&event);
        // The upcast event, under the stored payload.
        let upcast = UserEvent::decode(&JsonCodec, &event)?;
        println!("{:46}-> {upcast:?}", "");
    }
    let user = users.load(&alan).await?;
    println!(
        "  Repository::load -> {} at version {}: first name {:?}, last name {:?}, email {:?}",
        user.stream_id,
        user.version,
        user.state.first_name(),
        user.state.last_name(),
        user.state.email(),
    );

    println!("\nRead models");
    let grace = RegisterUser {
        user_id: UserId::new("grace"),
        first_name: "Grace".into(),
        last_name: "Hopper".into(),
        email: "grace@navy.mil".into(),
    };
    let mut registered = users.execute(grace).await;
    if let Err(ExecuteError::Domain(refusal)) = &registered {
        // A file kept from an earlier run (`--sqlite`) knows grace already: this run
        // registers a newcomer of its own, so each run adds to the history.
        println!("  refused  RegisterUser grace   -> {refusal}");
        let n = head.0 + 1;
        registered = users
            .execute(RegisterUser {
                user_id: UserId::new(format!("grace{n}")),
                first_name: "Grace".into(),
                last_name: format!("the {n}th"),
                email: format!("grace{n}@navy.mil"),
            })
            .await;
    }
    let done = registered?;
    let position = done
        .last_position
        .ok_or("registering a user appends an event")?;
    println!(
        "  ok       RegisterUser {:<7} -> appended at position {position}",
        done.stream_id.aggregate_id::<User>()?.to_string()
    );
    directory.wait_for(position, Duration::from_secs(5)).await?;
    println!(
        "  directory reached position {} ({})",
        directory.position(),
        lookup.describe().await?
    );
    for email in [
        "grace@navy.mil",
        "alan@bletchley.park",
        "ada@analytical.engine",
        "nobody@example.com",
    ] {
        match lookup.find_by_email(email).await? {
            Some(user) => println!("  find_by_email({email:?}) -> {user}"),
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

/// One line of the stored-events table.
fn print_stored(event: &RecordedEvent) {
    println!(
        "  {:<10} {:>3} {:>4}  {:<22} {}",
        event.stream_id.as_str(),
        event.stream_version.0,
        event.position.0,
        format!("{} v{}", event.name, event.schema_version),
        String::from_utf8_lossy(&event.payload)
    );
}
