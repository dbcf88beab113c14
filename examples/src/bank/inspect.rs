//! The inspector mounted in the bank example: `cargo run --example bank -- inspect --sqlite
//! FILE <subcommand>`. It registers what needs the bank's types: its event sets (so `events`
//! and `tail` decode payloads), the balance sheet's table (so `rebuild balance-sheet`
//! works), the transfer process manager (so `processes transfer --retry KEY` works) and the
//! domain's catalog (so `catalog --format html` works).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser as _;
use es_cli::{Exit, InspectArgs, Inspector};
use es_core::ProjectionRunner;
use es_sqlite::{SqliteStore, SqliteTables};

use super::AccountEvent;
use super::balance_table::BalanceRows;
use super::process::workflow;
use super::transfer::TransferEvent;

/// The command line of `bank inspect`: the store's file, then the inspector's arguments.
#[derive(Debug, clap::Parser)]
#[command(name = "bank inspect", about = "Look into the bank's SQLite store")]
pub struct InspectBank {
    /// The SQLite file of the bank's store.
    #[arg(long, value_name = "FILE")]
    pub sqlite: PathBuf,
    /// The subcommand and its arguments.
    #[command(flatten)]
    pub inspect: InspectArgs,
}

/// The inspector of the bank's store, with the bank's types registered.
#[must_use]
pub fn inspector(store: &SqliteStore) -> Inspector<SqliteStore> {
    let balance_sheet = ProjectionRunner::new(
        store.clone(),
        SqliteTables::<BalanceRows>::new(store.clone()),
    );
    let transfers = ProjectionRunner::new(store.clone(), workflow(store));
    Inspector::new(store.clone())
        .events::<AccountEvent>()
        .events::<TransferEvent>()
        .projection(balance_sheet)
        .process(&transfers)
        .catalog(super::catalog::catalog())
}

/// Runs `bank inspect` on `args` (the first is the command's name, `inspect`, shown in the
/// help as `bank inspect`): opens the file (which must exist), runs the subcommand, closes the
/// store.
pub async fn main(args: impl IntoIterator<Item = OsString>) -> Exit {
    let args = std::iter::once(OsString::from("bank inspect")).chain(args.into_iter().skip(1));
    let cli = match InspectBank::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => return es_cli::clap_exit(&error),
    };
    if !cli.sqlite.exists() {
        eprintln!("error: no such file: {}", cli.sqlite.display());
        return Exit::NotFound;
    }
    let store = match SqliteStore::open(&cli.sqlite).await {
        Ok(store) => store,
        Err(error) => {
            eprintln!("error: cannot open {}: {error}", cli.sqlite.display());
            return Exit::Failed;
        }
    };
    let exit = inspector(&store).run(cli.inspect).await;
    store.close().await;
    exit
}
