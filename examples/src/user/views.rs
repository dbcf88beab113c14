//! Read models of the user domain, built from its events by projections.

use std::collections::{BTreeMap, BTreeSet};

use es_core::prelude::*;

use super::{EmailChanged, User, UserCreated, UserDeleted, UserId, UserRenamed, full_name};

/// The user whose stream delivered `meta` (`"user-ada"` → `ada`), or `None` for a stream
/// that is not a user's. The `user.*` events are only ever appended by [`User`], so the
/// views skip such an event.
pub(crate) fn user_id(meta: &EventMeta) -> Option<UserId> {
    meta.aggregate_id::<User>().ok()
}

/// Finds live users by email address.
///
/// Emails are not unique across users (each user is its own aggregate, so no command sees
/// the others), so an address maps to the set of live users that have it.
#[derive(Projection, Default, Debug, Clone, PartialEq)]
#[projection(
    name = "user-directory",
    events(UserCreated, EmailChanged, UserRenamed, UserDeleted)
)]
pub struct UserDirectory {
    by_email: BTreeMap<String, BTreeSet<UserId>>,
    entries: BTreeMap<UserId, Entry>,
}

/// One live user in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The whole name, for display: first name, then last name if there is one.
    pub name: String,
    /// The email address.
    pub email: String,
}

impl UserDirectory {
    /// The live user with this email address (the smallest id, if several share it).
    pub fn find_by_email(&self, email: &str) -> Option<&UserId> {
        self.by_email.get(email).and_then(BTreeSet::first)
    }

    /// Every live user with this email address, by id.
    pub fn all_by_email(&self, email: &str) -> impl Iterator<Item = &UserId> {
        self.by_email.get(email).into_iter().flatten()
    }

    fn index(&mut self, email: &str, id: &UserId) {
        self.by_email
            .entry(email.to_owned())
            .or_default()
            .insert(id.clone());
    }

    fn unindex(&mut self, email: &str, id: &UserId) {
        if let Some(ids) = self.by_email.get_mut(email) {
            ids.remove(id);
            if ids.is_empty() {
                self.by_email.remove(email);
            }
        }
    }

    /// The entry of a live user.
    pub fn get(&self, id: &UserId) -> Option<&Entry> {
        self.entries.get(id)
    }

    /// The number of live users.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there is no live user.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl On<UserCreated> for UserDirectory {
    fn on(&mut self, event: &UserCreated, meta: &EventMeta) {
        let Some(id) = user_id(meta) else { return };
        self.index(&event.email, &id);
        let entry = Entry {
            name: full_name(&event.first_name, &event.last_name),
            email: event.email.clone(),
        };
        self.entries.insert(id, entry);
    }
}

impl On<EmailChanged> for UserDirectory {
    fn on(&mut self, event: &EmailChanged, meta: &EventMeta) {
        let Some(id) = user_id(meta) else { return };
        let Some(entry) = self.entries.get_mut(&id) else {
            return;
        };
        let old = std::mem::replace(&mut entry.email, event.email.clone());
        self.unindex(&old, &id);
        self.index(&event.email, &id);
    }
}

impl On<UserRenamed> for UserDirectory {
    fn on(&mut self, event: &UserRenamed, meta: &EventMeta) {
        if let Some(entry) = user_id(meta).and_then(|id| self.entries.get_mut(&id)) {
            entry.name = full_name(&event.first_name, &event.last_name);
        }
    }
}

impl On<UserDeleted> for UserDirectory {
    fn on(&mut self, _: &UserDeleted, meta: &EventMeta) {
        let Some(id) = user_id(meta) else { return };
        if let Some(entry) = self.entries.remove(&id) {
            self.unindex(&entry.email, &id);
        }
    }
}

/// Counts of what happened to users.
#[derive(Projection, Default, Debug, Clone, Copy, PartialEq, Eq)]
#[projection(name = "user-stats", events(UserCreated, EmailChanged, UserDeleted))]
pub struct UserStats {
    /// Users ever registered.
    pub registered: u64,
    /// Users deleted.
    pub deleted: u64,
    /// Email changes.
    pub email_changes: u64,
}

impl UserStats {
    /// Users registered and not deleted.
    pub fn active(&self) -> u64 {
        self.registered - self.deleted
    }
}

impl On<UserCreated> for UserStats {
    fn on(&mut self, _: &UserCreated, _: &EventMeta) {
        self.registered += 1;
    }
}

impl On<EmailChanged> for UserStats {
    fn on(&mut self, _: &EmailChanged, _: &EventMeta) {
        self.email_changes += 1;
    }
}

impl On<UserDeleted> for UserStats {
    fn on(&mut self, _: &UserDeleted, _: &EventMeta) {
        self.deleted += 1;
    }
}
