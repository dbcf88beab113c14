//! The domain catalog: a picture of a domain's aggregates, commands, events, read models and
//! workflows, built from what the derives record, rendered for people and for tools.
//!
//! Each derive records what it knows of its type as a constant (see [`info`]): names, wire
//! names and versions, doc comments, fields, the chain of older event versions, which events
//! each consumer reads and which commands each workflow sends. The constants cost nothing
//! until a [`Catalog`] reads them. A catalog names the domain's top-level types; everything
//! else (the commands and events of each aggregate, which aggregate handles a command a
//! workflow sends) follows from them.
//!
//! ```
//! use es_core::catalog::Catalog;
//! use es_core::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! /// A user registered.
//! #[derive(Event, Debug, Serialize, Deserialize)]
//! #[event(name = "user.registered")]
//! pub struct Registered {
//!     /// Their email address.
//!     pub email: String,
//! }
//!
//! /// Register a user.
//! #[derive(Command, Debug)]
//! pub struct Register { #[id] pub user: u64, pub email: String }
//!
//! # #[derive(Debug, thiserror::Error)] #[error("never")] pub struct Never;
//! # impl Apply<Registered> for User { fn apply(&mut self, _: &Registered) {} }
//! # impl Handle<Register> for User {
//! #     fn handle(&self, c: &Register) -> Result<Vec<UserEvent>, Never> {
//! #         Ok(vec![Registered { email: c.email.clone() }.into()])
//! #     }
//! # }
//! /// A user of the site.
//! #[derive(Aggregate, Default, Debug)]
//! #[aggregate(name = "user", id = u64, error = Never, events(Registered), commands(Register))]
//! pub struct User;
//!
//! let catalog = Catalog::new("Users").aggregate::<User>();
//! let mermaid = catalog.to_mermaid();
//! assert!(mermaid.contains(r#"["user.registered v1"]"#));
//! let json = catalog.to_json();
//! assert_eq!(json["events"][0]["fields"][0]["doc"], "Their email address.");
//! ```
//!
//! The renderings:
//!
//! - [`Catalog::to_mermaid`]: a Mermaid flowchart, which forges render in Markdown.
//! - [`Catalog::to_dot`]: the same graph in Graphviz DOT.
//! - [`Catalog::to_json`]: everything recorded, for tools; the fields are listed there.
//! - [`Catalog::to_html`]: one self-contained page (no network needed) with the diagram drawn
//!   as inline SVG and a section per aggregate, command, event, read model and workflow.

mod dot;
mod html;
pub mod info;
mod json;
mod mermaid;
mod model;
mod svg;
mod text;

use std::fmt;
use std::str::FromStr;

pub use info::{
    AggregateInfo, CommandInfo, EventInfo, FieldInfo, ProcessInfo, ProjectionInfo, TimerInfo,
};

use crate::aggregate::Aggregate;
use crate::event::Event;
use crate::process::ProcessManager;
use crate::projection::Projection;

/// A domain's types, gathered for rendering: its aggregates (with their commands and events),
/// projections and process managers.
///
/// Building one copies a few references per type; rendering walks them. Nothing is recorded
/// at run time, so a catalog shows the code, not a store's contents.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    name: String,
    aggregates: Vec<AggregateInfo>,
    projections: Vec<ProjectionInfo>,
    processes: Vec<ProcessInfo>,
    schemas: Vec<(&'static str, u32, serde_json::Value)>,
}

impl Catalog {
    /// An empty catalog of the domain called `name` (the title of its renderings).
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Adds aggregate `A`, with its commands and events. Adding one twice has no effect.
    #[must_use]
    pub fn aggregate<A: Aggregate>(mut self) -> Self {
        if !self.aggregates.iter().any(|a| a.name == A::NAME) {
            self.aggregates.push(A::INFO);
        }
        self
    }

    /// Adds projection `P` (a read model), reading its events. Adding one twice has no
    /// effect.
    #[must_use]
    pub fn projection<P: Projection>(mut self) -> Self {
        if !self.projections.iter().any(|p| p.name == P::NAME) {
            self.projections.push(P::INFO);
        }
        self
    }

    /// Adds process manager `P` (a workflow), reading its events and sending its commands.
    /// Adding one twice has no effect.
    #[must_use]
    pub fn process<P: ProcessManager>(mut self) -> Self {
        if !self.processes.iter().any(|p| p.name == P::NAME) {
            self.processes.push(P::INFO);
        }
        self
    }

    /// Attaches a JSON Schema to event `E`'s payload, shown with the event in
    /// [`to_json`](Self::to_json) (as `schema`) and [`to_html`](Self::to_html). The catalog
    /// does not generate schemas: pass one written by hand or produced by a crate such as
    /// `schemars` (`serde_json::to_value(schemars::schema_for!(E))`). A second schema for
    /// the same event replaces the first.
    #[must_use]
    pub fn with_schema<E: Event>(mut self, schema: serde_json::Value) -> Self {
        self.schemas
            .retain(|(name, version, _)| (*name, *version) != (E::NAME, E::VERSION));
        self.schemas.push((E::NAME, E::VERSION, schema));
        self
    }

    /// The domain's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The aggregates, in the order added.
    #[must_use]
    pub fn aggregates(&self) -> &[AggregateInfo] {
        &self.aggregates
    }

    /// The projections, in the order added.
    #[must_use]
    pub fn projections(&self) -> &[ProjectionInfo] {
        &self.projections
    }

    /// The process managers, in the order added.
    #[must_use]
    pub fn processes(&self) -> &[ProcessInfo] {
        &self.processes
    }

    /// Every event of the domain once, in the order first met: the aggregates' events, then
    /// those only read by projections and process managers. Two events are the same when
    /// they have the same wire name and version.
    #[must_use]
    pub fn events(&self) -> Vec<&'static EventInfo> {
        model::Model::new(self)
            .events
            .iter()
            .map(|e| e.info)
            .collect()
    }

    /// The catalog in `format`.
    #[must_use]
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Mermaid => self.to_mermaid(),
            Format::Dot => self.to_dot(),
            Format::Json => self.to_json().to_string(),
            Format::Html => self.to_html(),
        }
    }
}

/// A rendering of a [`Catalog`], named by [`FromStr`] as `mermaid`, `dot`, `json` or `html`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// [`Catalog::to_mermaid`].
    Mermaid,
    /// [`Catalog::to_dot`].
    Dot,
    /// [`Catalog::to_json`], as compact text.
    Json,
    /// [`Catalog::to_html`].
    Html,
}

impl Format {
    /// Every format, in the order of their names in [`UnknownFormat`]'s message.
    pub const ALL: [Self; 4] = [Self::Html, Self::Mermaid, Self::Dot, Self::Json];

    /// The format's name, as [`FromStr`] reads it.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Mermaid => "mermaid",
            Self::Dot => "dot",
            Self::Json => "json",
            Self::Html => "html",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(name: &str) -> Result<Self, UnknownFormat> {
        Self::ALL
            .into_iter()
            .find(|format| format.name() == name)
            .ok_or_else(|| UnknownFormat(name.to_owned()))
    }
}

/// A format name that is none of `html`, `mermaid`, `dot` and `json`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown catalog format `{0}`: use html, mermaid, dot or json")]
pub struct UnknownFormat(pub String);
