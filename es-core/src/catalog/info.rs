//! What the derives record about each type: constant data, built at compile time from
//! literals and from the constants of the types it names. Nothing is computed or allocated
//! until a [`Catalog`](super::Catalog) reads it.
//!
//! Each trait has the constant, with a default for hand-written impls: [`Event::INFO`],
//! [`Command::INFO`], [`Aggregate::INFO`], [`Projection::INFO`] and
//! [`ProcessManager::INFO`]. The defaults know only what the trait itself says (names and
//! versions); a hand-written impl may set its own.
//!
//! [`Event::INFO`]: crate::Event::INFO
//! [`Command::INFO`]: crate::Command::INFO
//! [`Aggregate::INFO`]: crate::Aggregate::INFO
//! [`Projection::INFO`]: crate::Projection::INFO
//! [`ProcessManager::INFO`]: crate::process::ProcessManager::INFO

/// One named field of an event or command payload, as written in its struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FieldInfo {
    /// The field's name (`r#` prefix removed).
    pub name: &'static str,
    /// Its type as written in the source, such as `Option<String>`.
    pub ty: &'static str,
    /// Its doc comment, `///` lines joined with newlines; empty without one.
    pub doc: &'static str,
}

/// An event type: its wire name and version, its docs and fields, and the type of its
/// previous schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventInfo {
    /// The wire name, [`Event::NAME`](crate::Event::NAME).
    pub name: &'static str,
    /// The schema version, [`Event::VERSION`](crate::Event::VERSION).
    pub version: u32,
    /// The Rust type's name, such as `UserCreated`; empty when unknown (a hand-written impl).
    pub rust_type: &'static str,
    /// The type's path, module included, such as `app::user::UserCreated`; empty when unknown.
    pub path: &'static str,
    /// The type's doc comment; empty without one.
    pub doc: &'static str,
    /// The payload's named fields, in order; empty for a unit or tuple struct.
    pub fields: &'static [FieldInfo],
    /// The previous schema version (`#[event(upcast_from = ..)]`), whose own `upcast_from`
    /// continues the chain.
    pub upcast_from: Option<&'static EventInfo>,
}

impl EventInfo {
    /// What is known of an event without its derive: its wire name and version.
    #[must_use]
    pub const fn bare(name: &'static str, version: u32) -> Self {
        Self {
            name,
            version,
            rust_type: "",
            path: "",
            doc: "",
            fields: &[],
            upcast_from: None,
        }
    }

    /// The chain of older versions, newest first: `upcast_from`, then its `upcast_from`, and
    /// so on.
    pub fn older_versions(&self) -> impl Iterator<Item = &'static EventInfo> {
        std::iter::successors(self.upcast_from, |info| info.upcast_from)
    }
}

/// A command type: its id field, docs and fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommandInfo {
    /// The Rust type's name, [`Command::NAME`](crate::Command::NAME).
    pub rust_type: &'static str,
    /// The type's path, module included; empty when unknown (a hand-written impl).
    pub path: &'static str,
    /// The type's doc comment; empty without one.
    pub doc: &'static str,
    /// The field marked `#[id]` (its index for a tuple struct); empty when unknown.
    pub id_field: &'static str,
    /// The id's type as written; empty when unknown.
    pub id_type: &'static str,
    /// The named fields, in order, the id included.
    pub fields: &'static [FieldInfo],
}

impl CommandInfo {
    /// What is known of a command without its derive: its name.
    #[must_use]
    pub const fn bare(rust_type: &'static str) -> Self {
        Self {
            rust_type,
            path: "",
            doc: "",
            id_field: "",
            id_type: "",
            fields: &[],
        }
    }
}

/// An aggregate: its name, types, and the commands it decides and events it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AggregateInfo {
    /// Its name, [`Aggregate::NAME`](crate::Aggregate::NAME), the prefix of its streams.
    pub name: &'static str,
    /// The Rust type's name; empty when unknown (a hand-written impl).
    pub rust_type: &'static str,
    /// The type's path, module included; empty when unknown.
    pub path: &'static str,
    /// The type's doc comment; empty without one.
    pub doc: &'static str,
    /// The id type as written; empty when unknown.
    pub id_type: &'static str,
    /// The error type as written; empty when unknown.
    pub error_type: &'static str,
    /// Its commands, in the order of its `commands(..)` list.
    pub commands: &'static [&'static CommandInfo],
    /// Its events, in the order of its `events(..)` list.
    pub events: &'static [&'static EventInfo],
}

impl AggregateInfo {
    /// What is known of an aggregate without its derive: its name.
    #[must_use]
    pub const fn bare(name: &'static str) -> Self {
        Self {
            name,
            rust_type: "",
            path: "",
            doc: "",
            id_type: "",
            error_type: "",
            commands: &[],
            events: &[],
        }
    }
}

/// A projection (a read model): its name and the events it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProjectionInfo {
    /// Its name, [`Projection::NAME`](crate::Projection::NAME), under which its checkpoint is
    /// saved.
    pub name: &'static str,
    /// The Rust type's name; empty when unknown (a hand-written impl).
    pub rust_type: &'static str,
    /// The type's path, module included; empty when unknown.
    pub path: &'static str,
    /// The type's doc comment; empty without one.
    pub doc: &'static str,
    /// The events it reads, in the order of its `events(..)` list.
    pub events: &'static [&'static EventInfo],
}

impl ProjectionInfo {
    /// What is known of a projection without its derive: its name.
    #[must_use]
    pub const fn bare(name: &'static str) -> Self {
        Self {
            name,
            rust_type: "",
            path: "",
            doc: "",
            events: &[],
        }
    }
}

/// A timer of a process manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerInfo {
    /// The timer's name, stored with it: its type's last path segment.
    pub name: &'static str,
    /// Its type as written in `timers(..)`.
    pub rust_type: &'static str,
}

/// A process manager (a workflow): its name, key, the events it reacts to, the commands it
/// sends and its timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProcessInfo {
    /// Its name, [`ProcessManager::NAME`](crate::process::ProcessManager::NAME).
    pub name: &'static str,
    /// The Rust type's name; empty when unknown (a hand-written impl).
    pub rust_type: &'static str,
    /// The type's path, module included; empty when unknown.
    pub path: &'static str,
    /// The type's doc comment; empty without one.
    pub doc: &'static str,
    /// The key type as written, which identifies an instance; empty when unknown.
    pub key_type: &'static str,
    /// The events it reacts to, in the order of its `events(..)` list.
    pub events: &'static [&'static EventInfo],
    /// The commands it sends, in the order of its `commands(..)` list.
    pub commands: &'static [&'static CommandInfo],
    /// Its timers, in the order of its `timers(..)` list.
    pub timers: &'static [TimerInfo],
}

impl ProcessInfo {
    /// What is known of a process manager without its derive: its name.
    #[must_use]
    pub const fn bare(name: &'static str) -> Self {
        Self {
            name,
            rust_type: "",
            path: "",
            doc: "",
            key_type: "",
            events: &[],
            commands: &[],
            timers: &[],
        }
    }
}
