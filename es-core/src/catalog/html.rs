//! The catalog as one self-contained HTML page.

use std::fmt::Write as _;

use super::info::{EventInfo, FieldInfo};
use super::model::{Model, Node};
use super::text::{doc_html, html};
use super::{Catalog, svg};

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:1400px;\
padding:0 24px 48px;color:#1d1d1f}h1{margin-top:28px}h2{margin-top:40px;border-bottom:1px solid #ddd}\
h3{margin-bottom:4px}section.item{border-left:4px solid #ccc;padding:2px 0 8px 14px;margin:18px 0}\
section.command{border-color:#3b6fc4}section.aggregate{border-color:#b59a00}\
section.event{border-color:#c46a10}section.readmodel{border-color:#3f8f36}\
section.workflow{border-color:#7a4fb0}.meta{color:#555}table{border-collapse:collapse;margin:6px 0}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}\
code{background:#f3f3f3;padding:0 3px;border-radius:3px}#diagram{max-width:100%;height:auto}\
svg .edge{fill:none;stroke:#999;stroke-width:1.4}svg .header{font-weight:600;fill:#444;\
text-anchor:middle;font-size:13px}svg text{font-family:system-ui,sans-serif}\
svg .title{font-size:13px;font-weight:600}svg .subtitle{font-size:11px;fill:#333}\
svg .command rect{fill:#a7c7ff;stroke:#3b6fc4}svg .aggregate rect{fill:#fff2a8;stroke:#b59a00}\
svg .event rect{fill:#ffc48a;stroke:#c46a10}svg .readmodel rect{fill:#b9e6b3;stroke:#3f8f36}\
svg .workflow rect{fill:#d9c2f0;stroke:#7a4fb0}svg a:hover rect{stroke-width:2.5}\
pre{background:#f6f6f6;padding:8px;overflow-x:auto}td p{margin:0}";

/// Records script errors, then checks once the page has loaded that each box of the diagram
/// was laid out with its text drawn, and writes the result on `<body>`: `data-diagram` (`ok` or `failed`),
/// `data-nodes` and `data-errors`.
const SCRIPT: &str = "(function(){var errors=0;function mark(){document.body&&\
document.body.setAttribute('data-errors',String(errors));}\
window.onerror=function(){errors+=1;mark();};\
window.addEventListener('load',function(){var nodes=document.querySelectorAll('#diagram .node');\
var ok=nodes.length>0;for(var i=0;i<nodes.length;i++){var box=nodes[i].getBBox();\
var text=nodes[i].querySelector('text');\
if(!(box.width>0&&box.height>0&&text&&text.getComputedTextLength()>0)){ok=false;}}\
document.body.setAttribute('data-nodes',String(nodes.length));\
document.body.setAttribute('data-diagram',ok?'ok':'failed');mark();});})();";

impl Catalog {
    /// The domain as one self-contained HTML page: the diagram (an inline SVG, each box a
    /// link), then a section per aggregate, command, event (with its fields and older
    /// versions), read model and workflow, with their docs. It loads nothing from the
    /// network. Once loaded, a small script marks `<body>` with `data-diagram="ok"` when
    /// every box of the diagram was laid out, and `data-errors` with the count of script
    /// errors, for automated checks.
    #[must_use]
    pub fn to_html(&self) -> String {
        let model = Model::new(self);
        let title = html(model.name);
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width\">\
             <title>{title}: domain catalog</title><style>{STYLE}</style>\
             <script>{SCRIPT}</script></head>\n<body data-diagram=\"pending\" data-errors=\"0\">\
             <h1>{title}</h1>"
        );
        let _ = write!(
            out,
            "<p class=\"meta\">{}, {}, {}, {}, {}. Commands ask an aggregate to change; the aggregate decides and records \
             events, facts that are never changed afterwards; read models and workflows follow \
             the events, and workflows send further commands. Select a box to read about it.</p>",
            count(model.aggregates.len(), "aggregate"),
            count(model.commands.len(), "command"),
            count(model.events.len(), "event"),
            count(model.projections.len(), "read model"),
            count(model.processes.len(), "workflow"),
        );
        let _ = write!(out, "<div class=\"figure\">{}</div>", svg::diagram(&model));
        aggregates(&mut out, &model);
        commands(&mut out, &model);
        events(&mut out, &model);
        readers(&mut out, &model);
        out.push_str("</body></html>\n");
        out
    }
}

/// `1 event`, `2 events`.
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// A link to `node`'s section, showing its label.
fn link(model: &Model<'_>, node: Node) -> String {
    format!(
        "<a href=\"#{}\">{}</a>",
        model.id(node),
        html(&model.label(node))
    )
}

/// The links to `nodes`, comma-separated, or `none`.
fn links(model: &Model<'_>, nodes: impl Iterator<Item = Node>) -> String {
    let all: Vec<String> = nodes.map(|node| link(model, node)).collect();
    if all.is_empty() {
        "none".to_owned()
    } else {
        all.join(", ")
    }
}

fn open(out: &mut String, model: &Model<'_>, node: Node, class: &str, heading: &str) {
    let _ = write!(
        out,
        "<section class=\"item {class}\" id=\"{}\"><h3>{}</h3>",
        model.id(node),
        html(heading)
    );
}

fn doc(out: &mut String, doc: &str) {
    if doc.is_empty() {
        out.push_str("<p class=\"meta\">No description in the code.</p>");
    } else {
        out.push_str(&doc_html(doc));
    }
}

fn fields(out: &mut String, fields: &[FieldInfo]) {
    if fields.is_empty() {
        out.push_str("<p class=\"meta\">No fields.</p>");
        return;
    }
    out.push_str("<table><tr><th>Field</th><th>Type</th><th>Meaning</th></tr>");
    for field in fields {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            html(field.name),
            html(field.ty),
            doc_html(field.doc)
        );
    }
    out.push_str("</table>");
}

fn aggregates(out: &mut String, model: &Model<'_>) {
    out.push_str("<h2 id=\"aggregates\">Aggregates</h2>");
    for (a, aggregate) in model.aggregates.iter().enumerate() {
        open(
            out,
            model,
            Node::Aggregate(a),
            "aggregate",
            &model.label(Node::Aggregate(a)),
        );
        doc(out, aggregate.doc);
        let _ = write!(
            out,
            "<p class=\"meta\">Name <code>{name}</code>; each instance is one stream, \
             <code>{name}-{{id}}</code>, with an id of type <code>{id}</code>. A refused \
             command returns <code>{error}</code>.</p>",
            name = html(aggregate.name),
            id = html(aggregate.id_type),
            error = html(aggregate.error_type),
        );
        let commands = aggregate.commands.iter();
        let commands = commands.filter_map(|c| model.command_index(c).map(Node::Command));
        let events = aggregate.events.iter();
        let events = events.filter_map(|e| model.event_index(e).map(Node::Event));
        let _ = write!(
            out,
            "<p>Commands: {}.</p><p>Events: {}.</p></section>",
            links(model, commands),
            links(model, events)
        );
    }
}

fn commands(out: &mut String, model: &Model<'_>) {
    out.push_str("<h2 id=\"commands\">Commands</h2>");
    for (c, command) in model.commands.iter().enumerate() {
        let info = command.info;
        open(out, model, Node::Command(c), "command", info.rust_type);
        doc(out, info.doc);
        let handled = match command.handled_by {
            Some(a) => format!("Handled by {}", link(model, Node::Aggregate(a))),
            None => "No aggregate of this catalog handles it".to_owned(),
        };
        let _ = write!(
            out,
            "<p class=\"meta\">{handled}, addressed by its field <code>{}</code> \
             (<code>{}</code>).",
            html(info.id_field),
            html(info.id_type)
        );
        if !command.sent_by.is_empty() {
            let senders = command.sent_by.iter().map(|&p| Node::Process(p));
            let _ = write!(out, " Sent by {}.", links(model, senders));
        }
        out.push_str("</p>");
        fields(out, info.fields);
        out.push_str("</section>");
    }
}

fn events(out: &mut String, model: &Model<'_>) {
    out.push_str("<h2 id=\"events\">Events</h2>");
    for (e, event) in model.events.iter().enumerate() {
        let info = event.info;
        let heading = format!("{} ({} v{})", info.rust_type, info.name, info.version);
        open(out, model, Node::Event(e), "event", &heading);
        doc(out, info.doc);
        let emitters = event.emitted_by.iter().map(|&a| Node::Aggregate(a));
        let readers = event.read_by.iter().map(|&p| Node::Projection(p));
        let readers = readers.chain(event.reacted_by.iter().map(|&p| Node::Process(p)));
        let _ = write!(
            out,
            "<p class=\"meta\">Stored under the name <code>{}</code>, schema version {}. \
             Recorded by {}; read by {}.</p>",
            html(info.name),
            info.version,
            links(model, emitters),
            links(model, readers)
        );
        fields(out, info.fields);
        older(out, info);
        if let Some(schema) = model.schema(info) {
            let pretty = serde_json::to_string_pretty(schema).unwrap_or_default();
            let _ = write!(out, "<h4>JSON Schema</h4><pre>{}</pre>", html(&pretty));
        }
        out.push_str("</section>");
    }
}

/// The older versions of an event, each with its fields: stored payloads of those versions
/// are read by converting them up to the current one.
fn older(out: &mut String, info: &EventInfo) {
    let mut chain = info.older_versions().peekable();
    if chain.peek().is_none() {
        return;
    }
    out.push_str(
        "<h4>Older versions</h4><p>Events stored with an older version are still read: each \
         is converted to the next version up, until the current one.</p>",
    );
    for older in chain {
        let _ = write!(
            out,
            "<div class=\"older\"><p><b>Version {}</b>, <code>{}</code></p>",
            older.version,
            html(older.rust_type)
        );
        doc(out, older.doc);
        fields(out, older.fields);
        out.push_str("</div>");
    }
}

fn readers(out: &mut String, model: &Model<'_>) {
    out.push_str("<h2 id=\"read-models\">Read models</h2>");
    if model.projections.is_empty() {
        out.push_str("<p class=\"meta\">None.</p>");
    }
    for (p, projection) in model.projections.iter().enumerate() {
        let node = Node::Projection(p);
        open(out, model, node, "readmodel", &model.label(node));
        doc(out, projection.doc);
        let events = projection.events.iter();
        let events = events.filter_map(|e| model.event_index(e).map(Node::Event));
        let _ = write!(
            out,
            "<p class=\"meta\">Checkpointed as <code>{}</code>. Reads {}.</p></section>",
            html(projection.name),
            links(model, events)
        );
    }
    out.push_str("<h2 id=\"workflows\">Workflows</h2>");
    if model.processes.is_empty() {
        out.push_str("<p class=\"meta\">None.</p>");
    }
    for (p, process) in model.processes.iter().enumerate() {
        let node = Node::Process(p);
        open(out, model, node, "workflow", &model.label(node));
        doc(out, process.doc);
        let events = process.events.iter();
        let events = events.filter_map(|e| model.event_index(e).map(Node::Event));
        let commands = process.commands.iter();
        let commands = commands.filter_map(|c| model.command_index(c).map(Node::Command));
        let _ = write!(
            out,
            "<p class=\"meta\">Named <code>{}</code>; one instance per <code>{}</code>.</p>\
             <p>Reacts to {}.</p><p>Sends {}.</p>",
            html(process.name),
            html(process.key_type),
            links(model, events),
            links(model, commands)
        );
        if !process.timers.is_empty() {
            out.push_str("<p>Timers: ");
            let timers: Vec<String> = process
                .timers
                .iter()
                .map(|t| format!("<code>{}</code>", html(t.name)))
                .collect();
            out.push_str(&timers.join(", "));
            out.push_str(".</p>");
        }
        out.push_str("</section>");
    }
}
