//! The diagram of the HTML page: an SVG drawn here, in columns (commands, aggregates,
//! events, read models and workflows, commands sent), boxes joined by curves.

use std::fmt::Write as _;

use super::model::{Model, Node};
use super::text::{self, html};

const NODE_WIDTH: usize = 200;
const NODE_HEIGHT: usize = 46;
const ROW: usize = NODE_HEIGHT + 14;
const COLUMN: usize = NODE_WIDTH + 80;
const MARGIN: usize = 20;
const TOP: usize = 44;
const HEADERS: [&str; 5] = [
    "Commands",
    "Aggregates",
    "Events",
    "Read models, workflows",
    "Commands sent",
];

/// A box of the diagram.
struct Item {
    /// The anchor of its section on the page.
    anchor: String,
    title: String,
    subtitle: String,
    /// The kind, a CSS class: its colours.
    class: &'static str,
    x: usize,
    y: usize,
}

/// The diagram as an `<svg>` element, each box a link to its section.
pub(super) fn diagram(model: &Model<'_>) -> String {
    let columns = columns(model);
    let rows = columns.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let height = TOP + rows * ROW + MARGIN;
    let width = MARGIN * 2 + 4 * COLUMN + NODE_WIDTH;
    let mut items: Vec<Vec<Item>> = Vec::new();
    for (c, column) in columns.iter().enumerate() {
        // Each column centred on the tallest.
        let offset = (rows - column.len()) * ROW / 2;
        let x = MARGIN + c * COLUMN;
        let placed = column
            .iter()
            .enumerate()
            .map(|(r, slot)| item(model, *slot, x, TOP + offset + r * ROW))
            .collect();
        items.push(placed);
    }
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"diagram\" role=\"img\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\">\
         <title>{}</title>\
         <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" \
         markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">\
         <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#777\"/></marker></defs>",
        html(&format!("The {} domain", model.name))
    );
    for (c, header) in HEADERS.iter().enumerate() {
        let _ = write!(
            out,
            "<text class=\"header\" x=\"{}\" y=\"24\">{header}</text>",
            MARGIN + c * COLUMN + NODE_WIDTH / 2
        );
    }
    for (c, (from, to)) in edges(model, &columns).into_iter().enumerate() {
        let (a, b) = (&items[from.0][from.1], &items[from.0 + 1][to]);
        let (x1, y1) = (a.x + NODE_WIDTH, a.y + NODE_HEIGHT / 2);
        let (x2, y2) = (b.x, b.y + NODE_HEIGHT / 2);
        let bend = (x2 - x1) / 2;
        let _ = write!(
            out,
            "<path class=\"edge\" data-edge=\"{c}\" d=\"M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}\" \
             marker-end=\"url(#arrow)\"/>",
            x1 + bend,
            x2 - bend,
        );
    }
    for item in items.iter().flatten() {
        let _ = write!(
            out,
            "<a href=\"#{anchor}\"><g class=\"node {class}\">\
             <title>{title}: {subtitle}</title>\
             <rect x=\"{x}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{NODE_HEIGHT}\" rx=\"6\"/>\
             <text class=\"title\" x=\"{tx}\" y=\"{ty}\">{short}</text>\
             <text class=\"subtitle\" x=\"{tx}\" y=\"{sy}\">{short_sub}</text></g></a>",
            anchor = html(&item.anchor),
            class = item.class,
            title = html(&item.title),
            subtitle = html(&item.subtitle),
            x = item.x,
            y = item.y,
            tx = item.x + 10,
            ty = item.y + 19,
            sy = item.y + 36,
            short = html(&text::truncate(&item.title, 26)),
            short_sub = html(&text::truncate(&item.subtitle, 32)),
        );
    }
    out.push_str("</svg>");
    out
}

/// What a box of a column shows: a node, or a command as sent by a workflow.
#[derive(Clone, Copy)]
enum Slot {
    Node(Node),
    /// The command (node index) sent by the process manager (index).
    Sent(usize, usize),
}

/// The boxes of each column, ordered so that edges cross little: commands by their aggregate,
/// events in the order of their aggregates, readers by the mean row of what they read.
fn columns(model: &Model<'_>) -> [Vec<Slot>; 5] {
    let mut commands: Vec<usize> = (0..model.commands.len())
        .filter(|&c| model.commands[c].handled_by.is_some())
        .collect();
    commands.sort_by_key(|&c| model.commands[c].handled_by);
    let aggregates = (0..model.aggregates.len()).map(|a| Slot::Node(Node::Aggregate(a)));
    let events = (0..model.events.len()).map(|e| Slot::Node(Node::Event(e)));
    let mut readers: Vec<(f64, Node)> = Vec::new();
    for (p, projection) in model.projections.iter().enumerate() {
        let rows = projection
            .events
            .iter()
            .filter_map(|e| model.event_index(e));
        readers.push((mean(rows), Node::Projection(p)));
    }
    for (p, process) in model.processes.iter().enumerate() {
        let rows = process.events.iter().filter_map(|e| model.event_index(e));
        readers.push((mean(rows), Node::Process(p)));
    }
    readers.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut sent = Vec::new();
    for (_, reader) in &readers {
        if let Node::Process(p) = *reader {
            for command in model.processes[p].commands {
                if let Some(c) = model.command_index(command) {
                    sent.push(Slot::Sent(c, p));
                }
            }
        }
    }
    [
        commands
            .into_iter()
            .map(|c| Slot::Node(Node::Command(c)))
            .collect(),
        aggregates.collect(),
        events.collect(),
        readers.into_iter().map(|(_, n)| Slot::Node(n)).collect(),
        sent,
    ]
}

#[allow(clippy::cast_precision_loss)] // Row numbers are small.
fn mean(rows: impl Iterator<Item = usize>) -> f64 {
    let (sum, count) = rows.fold((0, 0), |(sum, count), row| (sum + row, count + 1));
    if count == 0 {
        f64::MAX
    } else {
        sum as f64 / f64::from(count)
    }
}

/// The edges between neighbouring columns: ((column, row), row in the next column).
fn edges(model: &Model<'_>, columns: &[Vec<Slot>; 5]) -> Vec<((usize, usize), usize)> {
    let row_of =
        |column: usize, wanted: &dyn Fn(&Slot) -> bool| columns[column].iter().position(wanted);
    let mut edges = Vec::new();
    for (from, to) in model.edges() {
        let found = match (from, to) {
            (Node::Command(_), Node::Aggregate(_)) | (Node::Aggregate(_), Node::Event(_)) => {
                let column = if matches!(from, Node::Command(_)) {
                    0
                } else {
                    1
                };
                let a = row_of(column, &|s| matches!(s, Slot::Node(n) if *n == from));
                let b = row_of(column + 1, &|s| matches!(s, Slot::Node(n) if *n == to));
                a.zip(b).map(|(a, b)| ((column, a), b))
            }
            (Node::Event(_), _) => {
                let a = row_of(2, &|s| matches!(s, Slot::Node(n) if *n == from));
                let b = row_of(3, &|s| matches!(s, Slot::Node(n) if *n == to));
                a.zip(b).map(|(a, b)| ((2, a), b))
            }
            (Node::Process(p), Node::Command(c)) => {
                let a = row_of(3, &|s| matches!(s, Slot::Node(n) if *n == from));
                let b = row_of(
                    4,
                    &|s| matches!(s, Slot::Sent(sc, sp) if (*sc, *sp) == (c, p)),
                );
                a.zip(b).map(|(a, b)| ((3, a), b))
            }
            _ => None,
        };
        edges.extend(found);
    }
    edges
}

fn item(model: &Model<'_>, slot: Slot, x: usize, y: usize) -> Item {
    let (node, class, subtitle) = match slot {
        Slot::Node(node @ Node::Command(c)) => {
            let to = model.commands[c]
                .handled_by
                .map(|a| model.aggregates[a].name);
            let subtitle = format!("command to {}", to.unwrap_or("?"));
            (node, "command", subtitle)
        }
        Slot::Node(node @ Node::Aggregate(a)) => (
            node,
            "aggregate",
            format!("streams {}-{{id}}", model.aggregates[a].name),
        ),
        Slot::Node(node @ Node::Event(e)) => {
            let info = model.events[e].info;
            let subtitle = format!("{} v{}", info.name, info.version);
            (node, "event", subtitle)
        }
        Slot::Node(node @ Node::Projection(p)) => (
            node,
            "readmodel",
            format!("read model {}", model.projections[p].name),
        ),
        Slot::Node(node @ Node::Process(p)) => (
            node,
            "workflow",
            format!("workflow {}", model.processes[p].name),
        ),
        Slot::Sent(c, _) => {
            let to = model.commands[c]
                .handled_by
                .map(|a| model.aggregates[a].name);
            let subtitle = match to {
                Some(aggregate) => format!("sent to {aggregate}"),
                None => "sent (no aggregate listed)".to_owned(),
            };
            (Node::Command(c), "command", subtitle)
        }
    };
    let title = match node {
        Node::Event(e) => {
            let info = model.events[e].info;
            if info.rust_type.is_empty() {
                info.name
            } else {
                info.rust_type
            }
            .to_owned()
        }
        other => model.label(other),
    };
    Item {
        anchor: model.id(node),
        title,
        subtitle,
        class,
        x,
        y,
    }
}
