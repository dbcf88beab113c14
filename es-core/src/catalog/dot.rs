//! The catalog as a Graphviz DOT graph.

use std::fmt::Write as _;

use super::Catalog;
use super::model::{Model, Node};
use super::text;

impl Catalog {
    /// The domain as a Graphviz DOT digraph: the graph of [`to_mermaid`](Self::to_mermaid),
    /// with the same node ids, laid out left to right. Render it with
    /// `dot -Tsvg catalog.dot > catalog.svg`.
    #[must_use]
    pub fn to_dot(&self) -> String {
        let model = Model::new(self);
        let mut out = String::new();
        let _ = writeln!(out, "digraph \"{}\" {{", text::dot(model.name));
        out.push_str("    rankdir=LR;\n");
        out.push_str("    node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\"];\n");
        out.push_str("    edge [color=\"#666666\"];\n");
        for node in model.nodes() {
            let (shape, fill) = match node {
                Node::Command(_) => ("box", "#a7c7ff"),
                Node::Aggregate(_) => ("box3d", "#fff2a8"),
                Node::Event(_) => ("box", "#ffc48a"),
                Node::Projection(_) => ("cylinder", "#b9e6b3"),
                Node::Process(_) => ("hexagon", "#d9c2f0"),
            };
            let _ = writeln!(
                out,
                "    {} [label=\"{}\", shape={shape}, fillcolor=\"{fill}\"];",
                model.id(node),
                text::dot(&model.label(node)),
            );
        }
        for (from, to) in model.edges() {
            let _ = writeln!(out, "    {} -> {};", model.id(from), model.id(to));
        }
        out.push_str("}\n");
        out
    }
}
