//! Command metadata: who and what a command comes from, stamped on the events it appends.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::envelope::{Metadata, RecordedEvent};

/// Who and what a command comes from; see
/// [`Repository::execute_with`](super::Repository::execute_with). Made with
/// [`new`](Self::new) and the `with_*` setters (more fields may come).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CommandMeta {
    /// The command's unique id: the command id of its events (and their causation id, unless
    /// [`causation_id`](Self::causation_id) names another cause).
    pub command_id: Uuid,
    /// The id grouping everything caused by one original request; `None` makes the command
    /// id the correlation id (the command starts a new conversation).
    pub correlation_id: Option<Uuid>,
    /// The id of the message that caused the command, such as the event a process manager
    /// reacted to: the causation id of the command's events. `None` makes it the command id.
    pub causation_id: Option<Uuid>,
    /// Headers copied to every event, such as who acted.
    pub headers: BTreeMap<String, String>,
}

impl CommandMeta {
    /// Metadata with a fresh (time-ordered) command id, no correlation id and no headers.
    #[must_use]
    pub fn new() -> Self {
        Self {
            command_id: Uuid::now_v7(),
            correlation_id: None,
            causation_id: None,
            headers: BTreeMap::new(),
        }
    }

    /// Uses `id` as the command id, such as an id the client sent (so a retried request
    /// keeps its id).
    #[must_use]
    pub fn with_command_id(mut self, id: Uuid) -> Self {
        self.command_id = id;
        self
    }

    /// Continues the conversation `id`, such as the correlation id of the event or request
    /// that caused this command.
    #[must_use]
    pub fn with_correlation_id(mut self, id: Uuid) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Records `id` as the cause of the command (such as the event that triggered it): the
    /// causation id of its events, instead of the command id.
    #[must_use]
    pub fn with_causation_id(mut self, id: Uuid) -> Self {
        self.causation_id = Some(id);
        self
    }

    /// Records `event` as the cause of the command: its id as the causation id, and its
    /// conversation ([`RecordedEvent::correlation_id`]) as the correlation id. What a
    /// handler that reacts to an event by sending a command sets.
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # fn caused(event: &RecordedEvent) {
    /// let meta = CommandMeta::new().caused_by(event);
    /// assert_eq!(meta.causation_id, Some(event.event_id.0));
    /// assert_eq!(meta.correlation_id, Some(event.correlation_id()));
    /// # }
    /// ```
    #[must_use]
    pub fn caused_by(self, event: &RecordedEvent) -> Self {
        self.with_causation_id(event.event_id.0)
            .with_correlation_id(event.correlation_id())
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// The metadata of the events this command produces.
    pub(super) fn event_metadata(&self) -> Metadata {
        Metadata {
            correlation_id: Some(self.correlation_id.unwrap_or(self.command_id)),
            causation_id: Some(self.causation_id.unwrap_or(self.command_id)),
            command_id: Some(self.command_id),
            headers: self.headers.clone(),
        }
    }
}

impl Default for CommandMeta {
    fn default() -> Self {
        Self::new()
    }
}
