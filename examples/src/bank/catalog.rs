//! The bank domain's catalog: its aggregates, read models and workflow, for the diagram in
//! the README and `cargo run --example bank -- catalog`.

use es_core::catalog::Catalog;

use super::Account;
use super::process::TransferProcess;
use super::transfer::Transfer;
use super::views::{Accounts, Balances, Transfers};

/// The bank domain: accounts and transfers, the balance sheet, account and transfer views,
/// and the transfer workflow.
#[must_use]
pub fn catalog() -> Catalog {
    Catalog::new("Bank")
        .aggregate::<Account>()
        .aggregate::<Transfer>()
        .projection::<Balances>()
        .projection::<Accounts>()
        .projection::<Transfers>()
        .process::<TransferProcess>()
}
