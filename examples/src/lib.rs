//! Example domains for es-core, documented as a user's crate would be: `cargo doc -p
//! es-examples --open` shows the enums the derives generate ([`user::UserEvent`],
//! [`user::UserCommand`]) with their docs.
//!
//! - [`user`]: users with a name and an email, renamed, deleted; a directory and statistics
//!   as read models; two events at schema version 2, upcast from the version 1 that older
//!   releases stored. Run its scenario with `cargo run --example user`.
//! - [`bank`]: accounts with deposits and withdrawals, refusing overdrafts; a balance sheet as
//!   read model. Run its scenario with `cargo run --example bank`.
#![deny(missing_docs)]

pub mod bank;
pub mod user;
