//! The catalog as JSON.

use serde_json::{Value, json};

use super::info::{CommandInfo, EventInfo, FieldInfo};
use super::model::Model;
use super::{Catalog, TimerInfo};

impl Catalog {
    /// Everything the catalog holds, as JSON. The field names are stable:
    ///
    /// - `name`: the domain's name.
    /// - `aggregates`: `[{name, type, path, doc, id_type, error_type, stream, commands,
    ///   events}]`; `stream` is the pattern of its stream ids (`account-{id}`), `commands` the
    ///   commands' `path`s, `events` `[{name, version}]`.
    /// - `commands`: each command once, `[{type, path, doc, id_field, id_type, fields,
    ///   aggregate, sent_by}]`; `aggregate` is the name of the aggregate handling it (`null`
    ///   when none of the catalog's does), `sent_by` the names of the workflows sending it.
    /// - `events`: each event once (same wire name and version), `[{name, version, type, path,
    ///   doc, fields, upcast_from, emitted_by, read_by, reacted_by, schema}]`; `upcast_from`
    ///   is the previous version as `{version, type, path, doc, fields, upcast_from}` or
    ///   `null`; `emitted_by` names aggregates, `read_by` projections, `reacted_by` process
    ///   managers; `schema` is the JSON Schema given to
    ///   [`with_schema`](Self::with_schema), or `null`.
    /// - `projections`: `[{name, type, path, doc, events}]`, `events` as `[{name, version}]`.
    /// - `processes`: `[{name, type, path, doc, key_type, events, commands, timers}]`;
    ///   `commands` as `[{type, path, aggregate}]`, `timers` as `[{name, type}]`.
    ///
    /// A field is `[{name, type, doc}]`, `type` as written in the source. Texts unknown to a
    /// hand-written impl are empty strings.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let model = Model::new(self);
        let aggregates: Vec<Value> = model
            .aggregates
            .iter()
            .map(|a| {
                json!({
                    "name": a.name,
                    "type": a.rust_type,
                    "path": a.path,
                    "doc": a.doc,
                    "id_type": a.id_type,
                    "error_type": a.error_type,
                    "stream": format!("{}-{{id}}", a.name),
                    "commands": a.commands.iter().map(|c| command_ref(c)).collect::<Vec<_>>(),
                    "events": a.events.iter().map(|e| event_ref(e)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let names = |indexes: &[usize], name: &dyn Fn(usize) -> &'static str| -> Vec<Value> {
            indexes.iter().map(|&i| json!(name(i))).collect()
        };
        let commands: Vec<Value> = model
            .commands
            .iter()
            .map(|c| {
                let mut value = command(c.info);
                value["aggregate"] = json!(c.handled_by.map(|a| model.aggregates[a].name));
                value["sent_by"] = json!(names(&c.sent_by, &|p| model.processes[p].name));
                value
            })
            .collect();
        let events: Vec<Value> = model
            .events
            .iter()
            .map(|e| {
                let mut value = event(e.info);
                value["name"] = json!(e.info.name);
                value["emitted_by"] = json!(names(&e.emitted_by, &|a| model.aggregates[a].name));
                value["read_by"] = json!(names(&e.read_by, &|p| model.projections[p].name));
                value["reacted_by"] = json!(names(&e.reacted_by, &|p| model.processes[p].name));
                value["schema"] = model.schema(e.info).cloned().unwrap_or(Value::Null);
                value
            })
            .collect();
        let projections: Vec<Value> = model
            .projections
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "type": p.rust_type,
                    "path": p.path,
                    "doc": p.doc,
                    "events": p.events.iter().map(|e| event_ref(e)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let processes: Vec<Value> = model
            .processes
            .iter()
            .map(|p| {
                let commands: Vec<Value> = p
                    .commands
                    .iter()
                    .map(|c| {
                        let handled_by = model
                            .command_index(c)
                            .and_then(|i| model.commands[i].handled_by)
                            .map(|a| model.aggregates[a].name);
                        json!({ "type": c.rust_type, "path": c.path, "aggregate": handled_by })
                    })
                    .collect();
                json!({
                    "name": p.name,
                    "type": p.rust_type,
                    "path": p.path,
                    "doc": p.doc,
                    "key_type": p.key_type,
                    "events": p.events.iter().map(|e| event_ref(e)).collect::<Vec<_>>(),
                    "commands": commands,
                    "timers": p.timers.iter().map(timer).collect::<Vec<_>>(),
                })
            })
            .collect();
        json!({
            "name": model.name,
            "aggregates": aggregates,
            "commands": commands,
            "events": events,
            "projections": projections,
            "processes": processes,
        })
    }
}

/// `{name, version}`.
fn event_ref(info: &EventInfo) -> Value {
    json!({ "name": info.name, "version": info.version })
}

/// The command's path, or its name when the path is unknown.
fn command_ref(info: &CommandInfo) -> Value {
    json!(super::model::command_key(info))
}

/// `{version, type, path, doc, fields, upcast_from}`, `upcast_from` nested.
fn event(info: &EventInfo) -> Value {
    json!({
        "version": info.version,
        "type": info.rust_type,
        "path": info.path,
        "doc": info.doc,
        "fields": fields(info.fields),
        "upcast_from": info.upcast_from.map_or(Value::Null, event),
    })
}

fn command(info: &CommandInfo) -> Value {
    json!({
        "type": info.rust_type,
        "path": info.path,
        "doc": info.doc,
        "id_field": info.id_field,
        "id_type": info.id_type,
        "fields": fields(info.fields),
    })
}

fn fields(fields: &[FieldInfo]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| json!({ "name": f.name, "type": f.ty, "doc": f.doc }))
        .collect()
}

fn timer(info: &TimerInfo) -> Value {
    json!({ "name": info.name, "type": info.rust_type })
}
