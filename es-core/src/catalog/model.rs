//! The catalog resolved into one graph that every rendering draws: each event and command
//! once, who emits, handles, reads and sends what, and the ids of the nodes.

use super::info::{CommandInfo, EventInfo};
use super::text::node_id;
use super::{AggregateInfo, Catalog, ProcessInfo, ProjectionInfo};

/// An event of the domain, once, with who emits and reads it.
pub(super) struct EventNode {
    pub(super) info: &'static EventInfo,
    /// Indexes into [`Model::aggregates`].
    pub(super) emitted_by: Vec<usize>,
    /// Indexes into [`Model::projections`].
    pub(super) read_by: Vec<usize>,
    /// Indexes into [`Model::processes`].
    pub(super) reacted_by: Vec<usize>,
}

/// A command of the domain, once, with the aggregate that handles it and who sends it.
pub(super) struct CommandNode {
    pub(super) info: &'static CommandInfo,
    /// Index into [`Model::aggregates`]; `None` when no aggregate of the catalog lists it.
    pub(super) handled_by: Option<usize>,
    /// Indexes into [`Model::processes`].
    pub(super) sent_by: Vec<usize>,
}

/// A node of the graph.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Node {
    Command(usize),
    Aggregate(usize),
    Event(usize),
    Projection(usize),
    Process(usize),
}

/// The resolved catalog.
pub(super) struct Model<'c> {
    pub(super) name: &'c str,
    pub(super) aggregates: &'c [AggregateInfo],
    pub(super) projections: &'c [ProjectionInfo],
    pub(super) processes: &'c [ProcessInfo],
    pub(super) events: Vec<EventNode>,
    pub(super) commands: Vec<CommandNode>,
    pub(super) schemas: &'c [(&'static str, u32, serde_json::Value)],
}

impl<'c> Model<'c> {
    pub(super) fn new(catalog: &'c Catalog) -> Self {
        let mut model = Model {
            name: &catalog.name,
            aggregates: &catalog.aggregates,
            projections: &catalog.projections,
            processes: &catalog.processes,
            events: Vec::new(),
            commands: Vec::new(),
            schemas: &catalog.schemas,
        };
        for (index, aggregate) in catalog.aggregates.iter().enumerate() {
            for event in aggregate.events {
                let at = model.event(event);
                model.events[at].emitted_by.push(index);
            }
            for command in aggregate.commands {
                let at = model.command(command);
                model.commands[at].handled_by.get_or_insert(index);
            }
        }
        for (index, projection) in catalog.projections.iter().enumerate() {
            for event in projection.events {
                let at = model.event(event);
                model.events[at].read_by.push(index);
            }
        }
        for (index, process) in catalog.processes.iter().enumerate() {
            for event in process.events {
                let at = model.event(event);
                model.events[at].reacted_by.push(index);
            }
            for command in process.commands {
                let at = model.command(command);
                model.commands[at].sent_by.push(index);
            }
        }
        model
    }

    /// The index of `info`'s node, added if new.
    fn event(&mut self, info: &'static EventInfo) -> usize {
        let found = self
            .events
            .iter()
            .position(|e| (e.info.name, e.info.version) == (info.name, info.version));
        found.unwrap_or_else(|| {
            self.events.push(EventNode {
                info,
                emitted_by: Vec::new(),
                read_by: Vec::new(),
                reacted_by: Vec::new(),
            });
            self.events.len() - 1
        })
    }

    /// The index of `info`'s node, added if new.
    fn command(&mut self, info: &'static CommandInfo) -> usize {
        let found = self
            .commands
            .iter()
            .position(|c| command_key(c.info) == command_key(info));
        found.unwrap_or_else(|| {
            self.commands.push(CommandNode {
                info,
                handled_by: None,
                sent_by: Vec::new(),
            });
            self.commands.len() - 1
        })
    }

    /// The index of the command node of `info`.
    pub(super) fn command_index(&self, info: &CommandInfo) -> Option<usize> {
        self.commands
            .iter()
            .position(|c| command_key(c.info) == command_key(info))
    }

    /// The index of the event node of `info`.
    pub(super) fn event_index(&self, info: &EventInfo) -> Option<usize> {
        self.events
            .iter()
            .position(|e| (e.info.name, e.info.version) == (info.name, info.version))
    }

    /// Every edge, in a stable order: commands to the aggregates handling them, aggregates to
    /// their events, events to the projections and process managers reading them, process
    /// managers to the commands they send.
    pub(super) fn edges(&self) -> Vec<(Node, Node)> {
        let mut edges = Vec::new();
        for (i, command) in self.commands.iter().enumerate() {
            if let Some(aggregate) = command.handled_by {
                edges.push((Node::Command(i), Node::Aggregate(aggregate)));
            }
        }
        for (i, aggregate) in self.aggregates.iter().enumerate() {
            for event in aggregate.events {
                if let Some(e) = self.event_index(event) {
                    edges.push((Node::Aggregate(i), Node::Event(e)));
                }
            }
        }
        for (e, event) in self.events.iter().enumerate() {
            for &p in &event.read_by {
                edges.push((Node::Event(e), Node::Projection(p)));
            }
            for &p in &event.reacted_by {
                edges.push((Node::Event(e), Node::Process(p)));
            }
        }
        for (p, process) in self.processes.iter().enumerate() {
            for command in process.commands {
                if let Some(c) = self.command_index(command) {
                    edges.push((Node::Process(p), Node::Command(c)));
                }
            }
        }
        edges
    }

    /// Every node, by kind: commands, aggregates, events, projections, process managers.
    pub(super) fn nodes(&self) -> Vec<Node> {
        let commands = (0..self.commands.len()).map(Node::Command);
        let aggregates = (0..self.aggregates.len()).map(Node::Aggregate);
        let events = (0..self.events.len()).map(Node::Event);
        let projections = (0..self.projections.len()).map(Node::Projection);
        let processes = (0..self.processes.len()).map(Node::Process);
        commands
            .chain(aggregates)
            .chain(events)
            .chain(projections)
            .chain(processes)
            .collect()
    }

    /// The node's id: its kind and its name, made of ASCII letters, digits and `_` only (see
    /// [`node_id`]), distinct for distinct nodes.
    pub(super) fn id(&self, node: Node) -> String {
        match node {
            Node::Command(i) => {
                // The type's name, or its path when another command has the same name.
                let info = self.commands[i].info;
                let shared = self
                    .commands
                    .iter()
                    .enumerate()
                    .any(|(j, other)| j != i && other.info.rust_type == info.rust_type);
                let name = if shared {
                    command_key(info)
                } else {
                    info.rust_type
                };
                node_id("cmd", name)
            }
            Node::Aggregate(i) => node_id("agg", self.aggregates[i].name),
            Node::Event(i) => {
                let info = self.events[i].info;
                node_id("evt", &format!("{}@{}", info.name, info.version))
            }
            Node::Projection(i) => node_id("prj", self.projections[i].name),
            Node::Process(i) => node_id("wf", self.processes[i].name),
        }
    }

    /// The node's label in the diagrams: an event's wire name and version, the type name of
    /// the others (an aggregate's name when its type is unknown).
    pub(super) fn label(&self, node: Node) -> String {
        match node {
            Node::Command(i) => self.commands[i].info.rust_type.to_owned(),
            Node::Aggregate(i) => or(self.aggregates[i].rust_type, self.aggregates[i].name),
            Node::Event(i) => event_label(self.events[i].info),
            Node::Projection(i) => or(self.projections[i].rust_type, self.projections[i].name),
            Node::Process(i) => or(self.processes[i].rust_type, self.processes[i].name),
        }
    }

    /// The JSON Schema attached to the event, if any.
    pub(super) fn schema(&self, info: &EventInfo) -> Option<&serde_json::Value> {
        self.schemas
            .iter()
            .find(|(name, version, _)| (*name, *version) == (info.name, info.version))
            .map(|(_, _, schema)| schema)
    }
}

/// `account.opened v1`.
pub(super) fn event_label(info: &EventInfo) -> String {
    format!("{} v{}", info.name, info.version)
}

/// What tells two commands apart: the path, or the name when the path is unknown.
pub(super) fn command_key(info: &CommandInfo) -> &'static str {
    or_static(info.path, info.rust_type)
}

fn or(text: &str, fallback: &str) -> String {
    if text.is_empty() { fallback } else { text }.to_owned()
}

fn or_static(text: &'static str, fallback: &'static str) -> &'static str {
    if text.is_empty() { fallback } else { text }
}
