//! `es-inspect`: the inspector on a store named on the command line, for what needs no
//! domain types: streams, raw events, the tail, statistics, consumers' checkpoints and lag,
//! process managers' timers and parked instances.
//!
//! ```sh
//! es-inspect --sqlite app.db streams
//! es-inspect --postgres postgres://localhost/app projections --json
//! ```

use clap::Parser;
use es_cli::{Exit, InspectArgs};

/// The store and the inspector's arguments.
#[derive(Debug, Parser)]
#[command(
    name = "es-inspect",
    version,
    about = "Look into an es-core event store"
)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    command(group = clap::ArgGroup::new("store").required(true))
)]
struct Cli {
    /// The SQLite file of an es-sqlite store.
    #[cfg(feature = "sqlite")]
    #[arg(long, value_name = "FILE", group = "store")]
    sqlite: Option<std::path::PathBuf>,
    /// The URL of an es-postgres store's database.
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "URL", group = "store")]
    postgres: Option<String>,
    /// The schema of the es-postgres store's tables.
    #[cfg(feature = "postgres")]
    #[arg(long, value_name = "NAME", default_value = "es", requires = "postgres")]
    schema: String,
    #[command(flatten)]
    inspect: InspectArgs,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Exit {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return es_cli::clap_exit(&error),
    };
    run(cli).await
}

async fn run(cli: Cli) -> Exit {
    #[cfg(feature = "sqlite")]
    if let Some(path) = &cli.sqlite {
        if !path.exists() {
            eprintln!("error: no such file: {}", path.display());
            return Exit::NotFound;
        }
        // Read only: the file is never changed, and a file that is not a migrated store is
        // refused rather than set up.
        let options = es_sqlite::SqliteOptions::new().read_only();
        let store = match es_sqlite::SqliteStore::open_with(path, options).await {
            Ok(store) => store,
            Err(error) => {
                eprintln!("error: cannot open {}: {error}", path.display());
                return Exit::Failed;
            }
        };
        let exit = es_cli::Inspector::new(store.clone()).run(cli.inspect).await;
        store.close().await;
        return exit;
    }
    #[cfg(feature = "postgres")]
    if let Some(url) = &cli.postgres {
        let schema = match es_postgres::SchemaName::new(&cli.schema) {
            Ok(schema) => schema,
            Err(error) => {
                eprintln!("error: --schema {}: {error}", cli.schema);
                return Exit::Usage;
            }
        };
        let options = es_postgres::PgStoreOptions::new().with_schema(schema);
        let store = match es_postgres::PgStore::connect_with(url, options).await {
            Ok(store) => store,
            Err(error) => {
                eprintln!("error: cannot connect to the database: {error}");
                return Exit::Failed;
            }
        };
        return es_cli::Inspector::new(store).run(cli.inspect).await;
    }
    let _ = cli;
    eprintln!(
        "error: this es-inspect was built without a store: build it with the feature sqlite or postgres"
    );
    Exit::Usage
}
