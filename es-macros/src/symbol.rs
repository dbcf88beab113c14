//! The words the derives understand, as constants compared against attribute paths.

use std::fmt;

use syn::{Ident, Path};

/// An attribute namespace or key.
#[derive(Copy, Clone, PartialEq, Eq)]
pub(crate) struct Symbol(pub(crate) &'static str);

// Namespaces.
pub(crate) const EVENT: Symbol = Symbol("event");
pub(crate) const COMMAND: Symbol = Symbol("command");
pub(crate) const AGGREGATE: Symbol = Symbol("aggregate");
pub(crate) const PROJECTION: Symbol = Symbol("projection");
pub(crate) const PROCESS: Symbol = Symbol("process");
pub(crate) const ID: Symbol = Symbol("id");

// Keys.
pub(crate) const NAME: Symbol = Symbol("name");
pub(crate) const VERSION: Symbol = Symbol("version");
pub(crate) const UPCAST_FROM: Symbol = Symbol("upcast_from");
pub(crate) const CRATE: Symbol = Symbol("crate");
pub(crate) const ERROR: Symbol = Symbol("error");
pub(crate) const EVENTS: Symbol = Symbol("events");
pub(crate) const COMMANDS: Symbol = Symbol("commands");
pub(crate) const EVENT_ENUM: Symbol = Symbol("event_enum");
pub(crate) const COMMAND_ENUM: Symbol = Symbol("command_enum");
pub(crate) const EVENT_DERIVE: Symbol = Symbol("event_derive");
pub(crate) const COMMAND_DERIVE: Symbol = Symbol("command_derive");
pub(crate) const SNAPSHOT_EVERY: Symbol = Symbol("snapshot_every");
pub(crate) const SNAPSHOT_VERSION: Symbol = Symbol("snapshot_version");
pub(crate) const VALIDATE: Symbol = Symbol("validate");
pub(crate) const GARDE: Symbol = Symbol("garde");
pub(crate) const KEY: Symbol = Symbol("key");
pub(crate) const TIMERS: Symbol = Symbol("timers");
pub(crate) const TIMER_ENUM: Symbol = Symbol("timer_enum");

/// The keys of `#[event(..)]`.
pub(crate) const EVENT_KEYS: &[Symbol] = &[NAME, VERSION, UPCAST_FROM, CRATE];
/// The keys of `#[command(..)]`.
pub(crate) const COMMAND_KEYS: &[Symbol] = &[VALIDATE, GARDE, CRATE];
/// The keys of `#[projection(..)]`.
pub(crate) const PROJECTION_KEYS: &[Symbol] = &[NAME, EVENTS, CRATE];
/// The keys of `#[aggregate(..)]`.
pub(crate) const AGGREGATE_KEYS: &[Symbol] = &[
    NAME,
    ID,
    ERROR,
    EVENTS,
    COMMANDS,
    EVENT_ENUM,
    COMMAND_ENUM,
    EVENT_DERIVE,
    COMMAND_DERIVE,
    SNAPSHOT_EVERY,
    SNAPSHOT_VERSION,
    CRATE,
];

/// The keys of `#[process(..)]`.
pub(crate) const PROCESS_KEYS: &[Symbol] = &[
    NAME,
    KEY,
    EVENTS,
    COMMANDS,
    TIMERS,
    EVENT_ENUM,
    COMMAND_ENUM,
    TIMER_ENUM,
    CRATE,
];

impl PartialEq<Symbol> for Ident {
    fn eq(&self, word: &Symbol) -> bool {
        self == word.0
    }
}

impl PartialEq<Symbol> for Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl PartialEq<Symbol> for &Path {
    fn eq(&self, word: &Symbol) -> bool {
        self.is_ident(word.0)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// `` `a`, `b`, `c` `` for error messages.
pub(crate) fn list(symbols: &[Symbol]) -> String {
    symbols
        .iter()
        .map(|symbol| format!("`{symbol}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
