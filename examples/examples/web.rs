//! The bank as a JSON web service (see the `es_examples::web` module docs for the routes).
//!
//! ```sh
//! cargo run --example web                      # SQLite file bank.db, on 127.0.0.1:3000
//! cargo run --example web -- other.db          # another SQLite file
//! cargo run --example web -- --postgres        # PostgreSQL: DATABASE_URL, or a throwaway server
//! cargo run --example web -- --addr 127.0.0.1:8080
//! ```
//!
//! The SQLite file is created if missing and kept: a second run serves the accounts of the
//! first (the read models are rebuilt from the log at start). With `--postgres` the service
//! runs on a schema of its own, removed when it stops (see `es_examples::postgres`). Stop it
//! with Ctrl-C. `RUST_LOG=debug` also shows es-core's spans.
//!
//! ```sh
//! curl -s localhost:3000/accounts -d '{"account": 1, "owner": "Ada"}'
//! curl -s localhost:3000/accounts/1/deposits -d '{"amount": 10000}'
//! curl -s localhost:3000/accounts -d '{"account": 2, "owner": "Grace"}'
//! curl -s localhost:3000/transfers -d '{"from": 1, "to": 2, "amount": 2500}'
//! curl -s 'localhost:3000/accounts/2?min_position=5'
//! curl -s localhost:3000/accounts/1/withdrawals -d '{"amount": -3}'   # 422, field amount
//! ```

use std::error::Error;

use es_core::process::ProcessStore;
use es_examples::web::{self, Bank};
use es_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tracing::Level;

type BoxError = Box<dyn Error + Send + Sync>;

/// Where the service listens unless `--addr` says otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:3000";

/// The SQLite file unless a path is given.
const DEFAULT_FILE: &str = "bank.db";

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let level = match std::env::var("RUST_LOG").as_deref() {
        Ok("debug") => Level::DEBUG,
        Ok("trace") => Level::TRACE,
        Ok("warn") => Level::WARN,
        _ => Level::INFO,
    };
    tracing_subscriber::fmt().with_max_level(level).init();

    let mut args = std::env::args().skip(1);
    let (mut addr, mut postgres, mut file) = (DEFAULT_ADDR.to_owned(), false, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--postgres" => postgres = true,
            "--addr" => {
                addr = args
                    .next()
                    .ok_or("--addr needs an address: --addr HOST:PORT")?
            }
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}").into()),
            path => file = Some(path.to_owned()),
        }
    }
    let listener = TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;

    if postgres {
        on_postgres(listener).await
    } else {
        let path = file.as_deref().unwrap_or(DEFAULT_FILE);
        let store = SqliteStore::open(path).await?;
        tracing::info!(%addr, store = %format!("SQLite file {path}"), "listening");
        let served = run(store.clone(), listener).await;
        store.close().await;
        served
    }
}

/// The `--postgres` run: the schema is removed when the service stops.
#[cfg(unix)]
async fn on_postgres(listener: TcpListener) -> Result<(), BoxError> {
    let postgres = es_examples::postgres::Postgres::start("bank_web").await?;
    let place = format!(
        "PostgreSQL {}, schema {}",
        postgres.place,
        postgres.store.schema()
    );
    tracing::info!(addr = %listener.local_addr()?, store = %place, "listening");
    let served = run(postgres.store.clone(), listener).await;
    postgres.remove().await?;
    served
}

/// The `--postgres` run, which needs es-postgres's test harness: Unix only.
#[cfg(not(unix))]
async fn on_postgres(_: TcpListener) -> Result<(), BoxError> {
    Err("--postgres needs a Unix machine: es_postgres::testing exists on Unix only".into())
}

/// Serves the bank on `store` until Ctrl-C.
async fn run<S: ProcessStore>(store: S, listener: TcpListener) -> Result<(), BoxError> {
    let shutdown = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No signal handler: serve until killed.
            std::future::pending::<()>().await;
        }
        tracing::info!("stopping");
    };
    web::serve(Bank::new(store), listener, shutdown).await?;
    Ok(())
}
