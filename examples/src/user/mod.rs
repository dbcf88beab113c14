//! The user domain: users are registered with a name and an email, can change their email,
//! be renamed and be deleted. Commands are checked before anything is stored: an empty name,
//! a malformed email, or acting on a missing or deleted user is refused with a [`UserError`].

pub mod views;

use std::fmt;

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

// ---- Events: facts, named for the wire -------------------------------------------------------

/// A user was registered.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.created")]
pub struct UserCreated {
    /// The user's display name.
    pub name: String,
    /// The user's email address.
    pub email: String,
}

/// A user's email address changed.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.email_changed")]
pub struct EmailChanged {
    /// The new address.
    pub email: String,
}

/// A user was renamed.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.renamed")]
pub struct UserRenamed {
    /// The new display name.
    pub name: String,
}

/// A user was deleted; nothing can be done to it afterwards.
#[derive(Event, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[event(name = "user.deleted")]
pub struct UserDeleted {}

// ---- Commands: intentions, addressed by `#[id]` --------------------------------------------------

/// Register a new user.
#[derive(Command, Debug)]
pub struct RegisterUser {
    /// The new user's id.
    #[id]
    pub user_id: UserId,
    /// The display name; must not be blank.
    pub name: String,
    /// The email address; must look like `local@domain.tld`.
    pub email: String,
}

/// Change a user's email address.
#[derive(Command, Debug)]
pub struct ChangeEmail {
    /// The user.
    #[id]
    pub user_id: UserId,
    /// The new address.
    pub email: String,
}

/// Rename a user.
#[derive(Command, Debug)]
pub struct RenameUser {
    /// The user.
    #[id]
    pub user_id: UserId,
    /// The new display name; must not be blank.
    pub name: String,
}

/// Delete a user.
#[derive(Command, Debug)]
pub struct DeleteUser {
    /// The user.
    #[id]
    pub user_id: UserId,
}

/// Why a user command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    /// The name is empty or only whitespace.
    #[error("the name must not be blank")]
    BlankName,
    /// The email address is not of the form `local@domain.tld`.
    #[error("malformed email address {0:?}")]
    MalformedEmail(String),
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
    name: String,
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

    /// The display name.
    pub fn name(&self) -> &str {
        &self.name
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

/// Checks a display name: not blank. Returns it trimmed.
fn valid_name(name: &str) -> Result<String, UserError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(UserError::BlankName);
    }
    Ok(name.to_owned())
}

/// Checks an email address: one `@`, a non-empty local part, a domain with a dot inside it,
/// no whitespace.
fn valid_email(email: &str) -> Result<String, UserError> {
    let malformed = || UserError::MalformedEmail(email.to_owned());
    let (local, domain) = email.split_once('@').ok_or_else(malformed)?;
    let domain_ok = domain
        .split_once('.')
        .is_some_and(|(host, tld)| !host.is_empty() && !tld.is_empty() && !tld.ends_with('.'));
    if local.is_empty() || !domain_ok || domain.contains('@') || email.contains(char::is_whitespace)
    {
        return Err(malformed());
    }
    Ok(email.to_owned())
}

impl Apply<UserCreated> for User {
    fn apply(&mut self, event: &UserCreated) {
        self.registered = true;
        self.name.clone_from(&event.name);
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
        self.name.clone_from(&event.name);
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
        let name = valid_name(&cmd.name)?;
        let email = valid_email(&cmd.email)?;
        Ok(vec![UserCreated { name, email }.into()])
    }
}

impl Handle<ChangeEmail> for User {
    fn handle(&self, cmd: &ChangeEmail) -> Result<Vec<UserEvent>, UserError> {
        self.live()?;
        let email = valid_email(&cmd.email)?;
        if email == self.email {
            return Ok(vec![]); // Nothing changes: no event.
        }
        Ok(vec![EmailChanged { email }.into()])
    }
}

impl Handle<RenameUser> for User {
    fn handle(&self, cmd: &RenameUser) -> Result<Vec<UserEvent>, UserError> {
        self.live()?;
        let name = valid_name(&cmd.name)?;
        if name == self.name {
            return Ok(vec![]);
        }
        Ok(vec![UserRenamed { name }.into()])
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
    fn email_check_accepts_plain_addresses_and_refuses_the_rest() {
        assert!(valid_email("ada@example.com").is_ok());
        assert!(valid_email("a.b+c@mail.example.org").is_ok());
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
            assert_eq!(
                valid_email(bad),
                Err(UserError::MalformedEmail(bad.to_owned())),
                "{bad:?}"
            );
        }
    }
}
