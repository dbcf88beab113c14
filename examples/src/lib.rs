//! Example domains for es-core, documented as a user's crate would be: `cargo doc -p
//! es-examples --open` shows the enums the derives generate ([`user::UserEvent`],
//! [`user::UserCommand`]) with their docs.
//!
//! - [`user`]: users with a name and an email, renamed, deleted; a directory and statistics
//!   as read models; two events at schema version 2, upcast from the version 1 that older
//!   releases stored. Run its scenario with `cargo run --example user`.
//! - [`bank`]: accounts with deposits and withdrawals, refusing overdrafts; a balance sheet as
//!   read model. Run its scenario with `cargo run --example bank`.
//! - [`web`]: the bank as a JSON web service on axum, with read-your-writes reads. Run it with
//!   `cargo run --example web`.
//! - [`cli`]: `cargo run --example bank -- catalog --format html` (or `user`, and `mermaid`,
//!   `dot`, `json`) prints the domain's catalog instead of running the scenario.
//! - [`postgres`] (Unix only): the PostgreSQL store of the examples' `--postgres` mode.
#![deny(missing_docs)]

pub mod bank;
pub mod cli;
#[cfg(unix)]
pub mod postgres;
pub mod user;
pub mod web;
