//! The catalog as a Mermaid flowchart.

use std::fmt::Write as _;

use super::Catalog;
use super::model::{Model, Node};
use super::text;

/// The class of each kind of node and its style: the colours of event storming.
const CLASSES: [(&str, &str); 5] = [
    ("command", "fill:#a7c7ff,stroke:#3b6fc4,color:#10203a"),
    ("aggregate", "fill:#fff2a8,stroke:#b59a00,color:#3a3000"),
    ("event", "fill:#ffc48a,stroke:#c46a10,color:#3a1d00"),
    ("readmodel", "fill:#b9e6b3,stroke:#3f8f36,color:#12300e"),
    ("workflow", "fill:#d9c2f0,stroke:#7a4fb0,color:#25123a"),
];

impl Catalog {
    /// The domain as a Mermaid flowchart, left to right: commands, the aggregates handling
    /// them, the events they record, the read models and workflows reading those, and the
    /// commands the workflows send (back to the commands' nodes). Events show their wire name
    /// and version, other nodes their type's name. Node ids are the kind and the escaped name
    /// (`evt_account_2edeposited_401`), stable across renderings.
    #[must_use]
    pub fn to_mermaid(&self) -> String {
        let model = Model::new(self);
        let mut out = String::from("flowchart LR\n");
        for node in model.nodes() {
            let id = model.id(node);
            let label = text::mermaid(&model.label(node));
            let (open, close, class) = match node {
                Node::Command(_) => ("[", "]", "command"),
                Node::Aggregate(_) => ("[[", "]]", "aggregate"),
                Node::Event(_) => ("[", "]", "event"),
                Node::Projection(_) => ("[(", ")]", "readmodel"),
                Node::Process(_) => ("{{", "}}", "workflow"),
            };
            let _ = writeln!(out, "    {id}{open}\"{label}\"{close}:::{class}");
        }
        for (from, to) in model.edges() {
            let _ = writeln!(out, "    {} --> {}", model.id(from), model.id(to));
        }
        for (class, style) in CLASSES {
            let _ = writeln!(out, "    classDef {class} {style}");
        }
        out
    }
}
