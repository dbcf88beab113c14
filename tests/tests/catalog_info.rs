//! What each derive records for the catalog (`INFO`): names, paths, docs, fields, id and
//! error types, upcast chains, what consumers read and send, and the defaults of
//! hand-written impls. Then how a catalog escapes what it renders.

use es_core::catalog::{Catalog, CommandInfo, EventInfo, FieldInfo};
use es_core::prelude::*;
use es_core::process::{Answer, OnTimer};
use serde::{Deserialize, Serialize};

/// A parcel was sent.
///
/// Second paragraph, with `code`.
#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "post.parcel/sent:v-3", version = 3, upcast_from = SentV2)]
pub struct Sent {
    /// Where to.
    pub to: Option<String>,
    pub grams: Vec<u32>,
    /// A raw name.
    pub r#type: [u8; 2],
}

/// Version 2.
#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "post.parcel/sent:v-3", version = 2, upcast_from = SentV1)]
pub struct SentV2 {
    pub to: String,
}

#[derive(Event, Debug, Serialize, Deserialize)]
#[event(name = "post.parcel/sent:v-3")]
pub struct SentV1(pub String);

impl From<SentV1> for SentV2 {
    fn from(v1: SentV1) -> Self {
        Self { to: v1.0 }
    }
}

impl From<SentV2> for Sent {
    fn from(v2: SentV2) -> Self {
        Self {
            to: Some(v2.to),
            grams: Vec::new(),
            r#type: [0; 2],
        }
    }
}

/// Send a parcel.
#[derive(Command, Debug, Clone)]
pub struct Send {
    /// The parcel.
    #[id]
    pub parcel: u64,
    pub to: String,
}

/// A command of a tuple struct.
#[derive(Command, Debug, Clone)]
pub struct Touch(#[id] pub u64);

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

/// A parcel, <b>bold</b> in HTML if unescaped.
#[derive(Aggregate, Default, Debug)]
#[aggregate(name = "parcel", id = u64, error = Never, events(Sent), commands(Send, Touch))]
pub struct Parcel;

impl Apply<Sent> for Parcel {
    fn apply(&mut self, _: &Sent) {}
}
impl Handle<Send> for Parcel {
    fn handle(&self, c: &Send) -> Result<Vec<ParcelEvent>, Never> {
        let sent = Sent {
            to: Some(c.to.clone()),
            grams: Vec::new(),
            r#type: [0; 2],
        };
        Ok(vec![sent.into()])
    }
}
impl Handle<Touch> for Parcel {
    fn handle(&self, _: &Touch) -> Result<Vec<ParcelEvent>, Never> {
        Ok(Vec::new())
    }
}

/// Counts parcels.
#[derive(Projection, Default, Debug)]
#[projection(name = "parcel-count", events(Sent))]
pub struct Count(u64);

impl On<Sent> for Count {
    fn on(&mut self, _: &Sent, _: &EventMeta) {
        self.0 += 1;
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Remind;

/// Follows a parcel.
#[derive(ProcessManager, Default, Debug, Serialize, Deserialize)]
#[process(name = "follow-up", key = u64, events(Sent), commands(Touch), timers(Remind))]
pub struct FollowUp;

impl React<Sent> for FollowUp {
    fn key(_: &Sent, _: &EventMeta) -> Instance<u64> {
        Instance::Ignore
    }
    fn react(&mut self, _: &Sent, _: &EventMeta, _: &mut Reaction<Self>) {}
}
impl Answer<Touch> for FollowUp {
    type Aggregate = Parcel;
    fn answer(&mut self, _: &Touch, _: &Outcome<Never>, _: &mut Reaction<Self>) {}
}
impl OnTimer<Remind> for FollowUp {
    fn on_timer(&mut self, _: &Remind, _: &mut Reaction<Self>) {}
}

const MODULE: &str = module_path!();

#[test]
fn events_record_names_docs_fields_and_their_chain() {
    let info = Sent::INFO;
    assert_eq!((info.name, info.version), (Sent::NAME, 3));
    assert_eq!(info.rust_type, "Sent");
    assert_eq!(info.path, format!("{MODULE}::Sent"));
    assert_eq!(
        info.doc,
        "A parcel was sent.\n\nSecond paragraph, with `code`."
    );
    let field = |name, ty, doc| FieldInfo { name, ty, doc };
    assert_eq!(
        info.fields,
        [
            field("to", "Option<String>", "Where to."),
            field("grams", "Vec<u32>", ""),
            field("type", "[u8; 2]", "A raw name."),
        ]
    );
    let chain: Vec<(u32, &str)> = info
        .older_versions()
        .map(|i| (i.version, i.rust_type))
        .collect();
    assert_eq!(chain, [(2, "SentV2"), (1, "SentV1")]);
    assert_eq!(info.upcast_from, Some(&SentV2::INFO));
    assert_eq!(SentV2::INFO.doc, "Version 2.");
    // A tuple struct has no named fields, and no doc here.
    assert_eq!((SentV1::INFO.fields, SentV1::INFO.doc), (&[][..], ""));
}

#[test]
fn commands_record_their_id_docs_and_fields() {
    let info: CommandInfo = Send::INFO;
    assert_eq!((info.rust_type, info.doc), ("Send", "Send a parcel."));
    assert_eq!(info.path, format!("{MODULE}::Send"));
    assert_eq!((info.id_field, info.id_type), ("parcel", "u64"));
    let names: Vec<(&str, &str)> = info.fields.iter().map(|f| (f.name, f.doc)).collect();
    assert_eq!(names, [("parcel", "The parcel."), ("to", "")]);
    assert_eq!((Touch::INFO.id_field, Touch::INFO.fields), ("0", &[][..]));
}

#[test]
fn aggregates_projections_and_processes_record_what_they_list() {
    let info = Parcel::INFO;
    assert_eq!((info.name, info.rust_type), ("parcel", "Parcel"));
    assert_eq!((info.id_type, info.error_type), ("u64", "Never"));
    assert_eq!(info.doc, "A parcel, <b>bold</b> in HTML if unescaped.");
    assert_eq!(info.events, [&Sent::INFO]);
    assert_eq!(info.commands, [&Send::INFO, &Touch::INFO]);

    let count = Count::INFO;
    assert_eq!(
        (count.name, count.rust_type, count.doc),
        ("parcel-count", "Count", "Counts parcels.")
    );
    assert_eq!(count.path, format!("{MODULE}::Count"));
    assert_eq!(count.events, [&Sent::INFO]);

    let follow = FollowUp::INFO;
    assert_eq!(
        (follow.name, follow.key_type, follow.doc),
        ("follow-up", "u64", "Follows a parcel.")
    );
    assert_eq!(follow.events, [&Sent::INFO]);
    assert_eq!(follow.commands, [&Touch::INFO]);
    let timers: Vec<(&str, &str)> = follow
        .timers
        .iter()
        .map(|t| (t.name, t.rust_type))
        .collect();
    assert_eq!(timers, [("Remind", "Remind")]);
}

#[test]
fn hand_written_impls_describe_what_their_traits_say() {
    #[derive(Debug, Serialize, Deserialize)]
    struct ByHand;
    impl Event for ByHand {
        const NAME: &'static str = "by.hand";
        const VERSION: u32 = 4;
    }
    assert_eq!(ByHand::INFO, EventInfo::bare("by.hand", 4));
    assert!(ByHand::INFO.rust_type.is_empty() && ByHand::INFO.upcast_from.is_none());
}

#[test]
fn renderings_escape_names_and_docs() {
    let catalog = Catalog::new("Post <office>")
        .aggregate::<Parcel>()
        .projection::<Count>()
        .process::<FollowUp>();
    let html = catalog.to_html();
    assert!(html.contains("A parcel, &lt;b&gt;bold&lt;/b&gt;"));
    assert!(!html.contains("<b>bold"));
    assert!(html.contains("<title>Post &lt;office&gt;: domain catalog</title>"));
    let dot = catalog.to_dot();
    assert!(dot.starts_with("digraph \"Post <office>\" {"));
    // The wire name's `.` `/` `:` `-` are encoded in ids, and shown as they are in labels.
    let mermaid = catalog.to_mermaid();
    assert!(
        mermaid
            .contains("evt_post_2eparcel_2fsent_3av_2d3_403[\"post.parcel/sent:v-3 v3\"]:::event")
    );
    // The older versions have their own paragraph on the page.
    assert!(html.contains("<b>Version 2</b>, <code>SentV2</code>"));
    assert!(html.contains("<b>Version 1</b>, <code>SentV1</code>"));
}

#[test]
fn a_schema_given_for_an_event_is_shown_with_it() {
    let schema = serde_json::json!({ "type": "object", "required": ["to"] });
    let catalog = Catalog::new("Post")
        .aggregate::<Parcel>()
        .with_schema::<Sent>(schema.clone());
    let json = catalog.to_json();
    assert_eq!(json["events"][0]["schema"], schema);
    assert!(catalog.to_html().contains("JSON Schema"));
    let without = Catalog::new("Post").aggregate::<Parcel>().to_json();
    assert!(without["events"][0]["schema"].is_null());
}
