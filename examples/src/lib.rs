//! Example domains for es-core, documented as a user's crate would be: `cargo doc -p
//! es-examples --open` shows the enums the derives generate ([`user::UserEvent`],
//! [`user::UserCommand`]) with their docs.
//!
//! - [`user`]: users with a name and an email, renamed, deleted. Run its scenario with
//!   `cargo run --example user`.
#![deny(missing_docs)]

pub mod user;
