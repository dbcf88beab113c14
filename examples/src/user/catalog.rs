//! The user domain's catalog: the user aggregate and its read models, for
//! `cargo run --example user -- catalog`.

use es_core::catalog::Catalog;

use super::User;
use super::table::DirectoryChanges;
use super::views::{UserDirectory, UserStats};

/// The user domain: users, the directory (in memory and as a table) and the statistics.
#[must_use]
pub fn catalog() -> Catalog {
    Catalog::new("Users")
        .aggregate::<User>()
        .projection::<UserDirectory>()
        .projection::<DirectoryChanges>()
        .projection::<UserStats>()
}
