//! PostgreSQL for the examples' `--postgres` mode: a migrated store in a schema of the run's
//! own, on the server of `DATABASE_URL` if it is set, otherwise on a throwaway server started
//! from the machine's PostgreSQL binaries (`initdb`, `pg_ctl`) with es-postgres's test
//! harness, which exists on Unix only.

use std::error::Error;

use es_postgres::testing::{self, TestServer};
use es_postgres::{PgStore, PgStoreOptions, SchemaName};

type BoxError = Box<dyn Error + Send + Sync>;

/// The PostgreSQL of a `--postgres` run. Call [`remove`](Self::remove) at the end: dropped
/// without it, the schema stays on a `DATABASE_URL` server.
#[derive(Debug)]
pub struct Postgres {
    /// The migrated store, in the run's schema.
    pub store: PgStore,
    /// Where the server is, for people: `at DATABASE_URL` or `on a throwaway server at ...`.
    pub place: String,
    /// The throwaway server, stopped and deleted when dropped; `None` with `DATABASE_URL`.
    server: Option<TestServer>,
}

impl Postgres {
    /// A migrated store in the schema `{prefix}_{process id}`, emptied first (a leftover of
    /// an earlier run with the same process id would not be fresh).
    ///
    /// # Errors
    /// When no server can be started or reached, or the schema not set up.
    pub async fn start(prefix: &str) -> Result<Self, BoxError> {
        let schema = SchemaName::new(format!("{prefix}_{}", std::process::id()))?;
        let (url, server) = match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => (url, None),
            _ => {
                let server = TestServer::start()
                    .map_err(|error| format!("{error}; install PostgreSQL or set DATABASE_URL"))?;
                (server.url().to_owned(), Some(server))
            }
        };
        let place = match &server {
            Some(server) => format!("on a throwaway server at 127.0.0.1:{}", server.port()),
            None => "at DATABASE_URL".to_owned(),
        };
        let store = PgStore::connect_with(&url, PgStoreOptions::new().with_schema(schema)).await?;
        testing::drop_schema(&store).await?;
        store.migrate().await?;
        Ok(Self {
            store,
            place,
            server,
        })
    }

    /// Drops the run's schema, then the throwaway server, if any.
    ///
    /// # Errors
    /// When the schema cannot be dropped.
    pub async fn remove(self) -> Result<(), BoxError> {
        testing::drop_schema(&self.store).await?;
        self.store.pool().close().await;
        drop(self.server);
        Ok(())
    }
}
