//! The user domain: users are registered with a name (first and last) and an email, can
//! change their email, be renamed and be deleted. Commands are checked before anything is
//! stored, in two steps: each command's own rules (a blank first name, a malformed email) are
//! validation, run before the user is loaded and reported field by field as
//! [`ValidationErrors`]; rules that need the user's state (acting on a missing or deleted
//! user) are the aggregate's decisions, refused with a [`UserError`].
//!
//! # Schema evolution
//!
//! Older releases stored a user's name as one string. [`UserCreated`] and [`UserRenamed`] are
//! now at schema version 2, with the name in two parts; the version 1 shapes are kept as
//! [`UserCreatedV1`] and [`UserRenamedV1`], so streams written by older releases still load:
//! each version 1 payload decodes as the old type and converts to the new one with `From`,
//! which splits the name at its last space (see [`UserCreated`]). Stored data is never
//! rewritten.

pub mod catalog;
pub mod sqlite_table;
pub mod table;
pub mod views;

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

/// The id of a user, such as `"ada"`; its stream is `user-ada`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UserId(pub String);

impl UserId {
    /// A user id from anything string-like.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The inverse of `Display`, so that a projection reads the id back from a stream id
/// (`meta.aggregate_id::<User>()`). Every string is a user id.
impl FromStr for UserId {
    type Err = Infallible;

    fn from_str(id: &str) -> Result<Self, Infallible> {
        Ok(Self::new(id))
    }
}

// ---- Events: facts, named for the wire -------------------------------------------------------

/// A user was registered: schema version 2, with the name in two parts.
///
/// Payloads of version 1 ([`UserCreatedV1`], a single `name`) are upcast on load by
/// `From<UserCreatedV1>`, which splits the name at its last space: `"Ada Lovelace"` becomes
/// first name `"Ada"` and last name `"Lovelace"`, `"Augusta Ada King"` becomes `"Augusta Ada"`
/// and `"King"`, and a single word such as `"Plato"` is a first name with an empty last name.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.created", version = 2, upcast_from = UserCreatedV1)]
pub struct UserCreated {
    /// The user's first name (given name); never blank.
    pub first_name: String,
    /// The user's last name (family name); empty for users known by one name.
    pub last_name: String,
    /// The user's email address.
    pub email: String,
}

/// A user was registered, as stored by older releases: schema version 1 of `"user.created"`,
/// with the whole name in one string.
///
/// No longer produced; kept so that streams written with version 1 still load, upcast to
/// [`UserCreated`].
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreatedV1 {
    /// The user's whole name, such as `"Ada Lovelace"`.
    pub name: String,
    /// The user's email address.
    pub email: String,
}

impl From<UserCreatedV1> for UserCreated {
    /// Splits the version 1 name at its last space (see [`UserCreated`]).
    fn from(v1: UserCreatedV1) -> Self {
        let (first_name, last_name) = split_name(&v1.name);
        Self {
            first_name,
            last_name,
            email: v1.email,
        }
    }
}

/// A user's email address changed.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.email_changed")]
pub struct EmailChanged {
    /// The new address; must look like `local@domain.tld`.
    pub email: String,
}

/// A user was renamed: schema version 2, with the name in two parts.
///
/// Payloads of version 1 ([`UserRenamedV1`], a single `name`) are upcast on load by
/// `From<UserRenamedV1>`, which splits the name as [`UserCreated`]'s upcast does.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.renamed", version = 2, upcast_from = UserRenamedV1)]
pub struct UserRenamed {
    /// The new first name; never blank.
    pub first_name: String,
    /// The new last name; may be empty.
    pub last_name: String,
}

/// A user was renamed, as stored by older releases: schema version 1 of `"user.renamed"`,
/// with the whole new name in one string.
///
/// No longer produced; kept so that streams written with version 1 still load, upcast to
/// [`UserRenamed`].
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.renamed")]
pub struct UserRenamedV1 {
    /// The new whole name.
    pub name: String,
}

impl From<UserRenamedV1> for UserRenamed {
    /// Splits the version 1 name at its last space (see [`UserCreated`]).
    fn from(v1: UserRenamedV1) -> Self {
        let (first_name, last_name) = split_name(&v1.name);
        Self {
            first_name,
            last_name,
        }
    }
}

/// The upcast rule for names stored whole by version 1 events: trimmed, then split at the
/// last whitespace into first name and last name; a single word is a first name with an
/// empty last name.
fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) => (first.trim_end().to_owned(), last.to_owned()),
        None => (name.to_owned(), String::new()),
    }
}

/// A user's whole name, for display: the first name, then the last name if there is one.
fn full_name(first_name: &str, last_name: &str) -> String {
    if last_name.is_empty() {
        first_name.to_owned()
    } else {
        format!("{first_name} {last_name}")
    }
}

/// A user was deleted; nothing can be done to it afterwards.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.deleted")]
pub struct UserDeleted {}

// ---- Commands: intentions, addressed by `#[id]` --------------------------------------------------

/// Register a new user.
#[derive(Command, Debug)]
#[command(validate = check_register)]
pub struct RegisterUser {
    /// The new user's id.
    #[id]
    pub user_id: UserId,
    /// The first name; must not be blank.
    pub first_name: String,
    /// The last name; may be empty (for users known by one name).
    pub last_name: String,
    /// The email address; must look like `local@domain.tld`.
    pub email: String,
}

/// Change a user's email address.
#[derive(Command, Debug)]
#[command(validate = check_change_email)]
pub struct ChangeEmail {
    /// The user.
    #[id]
    pub user_id: UserId,
    /// The new address.
    pub email: String,
}

/// Rename a user.
#[derive(Command, Debug)]
#[command(validate = check_rename)]
pub struct RenameUser {
    /// The user.
    #[id]
    pub user_id: UserId,
    /// The new first name; must not be blank.
    pub first_name: String,
    /// The new last name; may be empty.
    pub last_name: String,
}

/// Delete a user.
#[derive(Command, Debug)]
pub struct DeleteUser {
    /// The user.
    #[id]
    pub user_id: UserId,
}

/// Why a user command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum UserError {
    /// A user with this id already exists (or existed).
    #[error("user already registered")]
    AlreadyRegistered,
    /// No user has this id.
    #[error("no such user")]
    NotFound,
    /// The user was deleted.
    #[error("the user was deleted")]
    Deleted,
}

// ---- The aggregate ---------------------------------------------------------------------------

/// A user: the consistency boundary for one user's name and email.
#[derive(Aggregate, Default, Debug, Clone)]
#[aggregate(
    name = "user",
    id = UserId,
    error = UserError,
    events(UserCreated, EmailChanged, UserRenamed, UserDeleted),
    commands(RegisterUser, ChangeEmail, RenameUser, DeleteUser),
    event_derive(Clone, PartialEq)
)]
pub struct User {
    registered: bool,
    deleted: bool,
    first_name: String,
    last_name: String,
    email: String,
}

impl User {
    /// Whether the user was registered (and maybe deleted since).
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether the user was deleted.
    pub fn is_deleted(&self) -> bool {
        self.deleted
    }

    /// The first name.
    pub fn first_name(&self) -> &str {
        &self.first_name
    }

    /// The last name; empty for a user known by one name.
    pub fn last_name(&self) -> &str {
        &self.last_name
    }

    /// The whole name, for display: first name, then last name if there is one.
    pub fn full_name(&self) -> String {
        full_name(&self.first_name, &self.last_name)
    }

    /// The email address.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// A user that can be acted on: registered and not deleted.
    fn live(&self) -> Result<(), UserError> {
        match (self.registered, self.deleted) {
            (false, _) => Err(UserError::NotFound),
            (true, true) => Err(UserError::Deleted),
            (true, false) => Ok(()),
        }
    }
}

// ---- Validation: each command's own rules ---------------------------------------------------

/// The rule for first names: not blank (the last name may be empty).
const BLANK_FIRST_NAME: &str = "must not be blank";
/// The rule for email addresses.
const MALFORMED_EMAIL: &str = "must look like local@domain.tld";

fn check_register(cmd: &RegisterUser) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if cmd.first_name.trim().is_empty() {
        errors.add("first_name", BLANK_FIRST_NAME);
    }
    if !is_plausible_email(&cmd.email) {
        errors.add("email", MALFORMED_EMAIL);
    }
    errors.into_result()
}

fn check_change_email(cmd: &ChangeEmail) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if !is_plausible_email(&cmd.email) {
        errors.add("email", MALFORMED_EMAIL);
    }
    errors.into_result()
}

fn check_rename(cmd: &RenameUser) -> Result<(), ValidationErrors> {
    let mut errors = ValidationErrors::new();
    if cmd.first_name.trim().is_empty() {
        errors.add("first_name", BLANK_FIRST_NAME);
    }
    errors.into_result()
}

/// An email address of the form `local@domain.tld`: one `@`, a non-empty local part, a
/// domain with a dot inside it, no whitespace.
fn is_plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    let domain_ok = domain
        .split_once('.')
        .is_some_and(|(host, tld)| !host.is_empty() && !tld.is_empty() && !tld.ends_with('.'));
    !local.is_empty() && domain_ok && !domain.contains('@') && !email.contains(char::is_whitespace)
}

impl Apply<UserCreated> for User {
    fn apply(&mut self, event: &UserCreated) {
        self.registered = true;
        self.first_name.clone_from(&event.first_name);
        self.last_name.clone_from(&event.last_name);
        self.email.clone_from(&event.email);
    }
}

impl Apply<EmailChanged> for User {
    fn apply(&mut self, event: &EmailChanged) {
        self.email.clone_from(&event.email);
    }
}

impl Apply<UserRenamed> for User {
    fn apply(&mut self, event: &UserRenamed) {
        self.first_name.clone_from(&event.first_name);
        self.last_name.clone_from(&event.last_name);
    }
}

impl Apply<UserDeleted> for User {
    fn apply(&mut self, _: &UserDeleted) {
        self.deleted = true;
    }
}

impl Handle<RegisterUser> for User {
    fn handle(&self, cmd: &RegisterUser) -> Result<Vec<UserEvent>, UserError> {
        if self.registered {
            return Err(UserError::AlreadyRegistered);
        }
        Ok(vec![
            UserCreated {
                first_name: cmd.first_name.trim().to_owned(),
                last_name: cmd.last_name.trim().to_owned(),
                email: cmd.email.clone(),
            }
            .into(),
        ])
    }
}

impl Handle<ChangeEmail> for User {
    fn handle(&self, cmd: &ChangeEmail) -> Result<Vec<UserEvent>, UserError> {
        self.live()?;
        if cmd.email == self.email {
            return Ok(vec![]); // Nothing changes: no event.
        }
        Ok(vec![
            EmailChanged {
                email: cmd.email.clone(),
            }
            .into(),
        ])
    }
}

impl Handle<RenameUser> for User {
    fn handle(&self, cmd: &RenameUser) -> Result<Vec<UserEvent>, UserError> {
        self.live()?;
        let (first_name, last_name) = (cmd.first_name.trim(), cmd.last_name.trim());
        if (first_name, last_name) == (self.first_name(), self.last_name()) {
            return Ok(vec![]);
        }
        Ok(vec![
            UserRenamed {
                first_name: first_name.to_owned(),
                last_name: last_name.to_owned(),
            }
            .into(),
        ])
    }
}

impl Handle<DeleteUser> for User {
    fn handle(&self, _: &DeleteUser) -> Result<Vec<UserEvent>, UserError> {
        self.live()?;
        Ok(vec![UserDeleted {}.into()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_1_name_splits_at_its_last_space() {
        for (whole, first, last) in [
            ("Ada Lovelace", "Ada", "Lovelace"),
            ("Augusta Ada King", "Augusta Ada", "King"),
            ("Plato", "Plato", ""),
            ("  Grace   Hopper ", "Grace", "Hopper"),
            ("", "", ""),
        ] {
            assert_eq!(
                split_name(whole),
                (first.to_owned(), last.to_owned()),
                "{whole:?}"
            );
        }
        assert_eq!(full_name("Ada", "Lovelace"), "Ada Lovelace");
        assert_eq!(full_name("Plato", ""), "Plato");
    }

    #[test]
    fn email_check_accepts_plain_addresses_and_refuses_the_rest() {
        assert!(is_plausible_email("ada@example.com"));
        assert!(is_plausible_email("a.b+c@mail.example.org"));
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "ada@.com",
            "ada@example.",
            "a b@example.com",
            "a@b@c.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad:?}");
        }
    }
}
