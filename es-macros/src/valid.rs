//! The rules of each derive, checked on the IR. Every violation is recorded with the span of
//! the offending token; the result is a checked form that expansion consumes without further
//! failure paths.
//!
//! Names are the exception: es-core defines their rules once, as `const fn`s that its stores
//! also run, and expansion emits a constant calling the rule (see `expand::name_check`), so
//! a refused name fails to compile at its literal with the rule's message.

use std::collections::HashSet;

use proc_macro2::Span;
use quote::{ToTokens, quote};
use syn::{DeriveInput, Ident, LitInt, LitStr, Member, Path, Type, Visibility};

use crate::ast;
use crate::attr::{PathList, Seen};
use crate::ctxt::Ctxt;
use crate::symbol::{self, Symbol};

mod process;

pub(crate) use process::{Process, ProcessShape, process, process_shape};

/// A checked `derive(Event)` input.
pub(crate) struct Event<'a> {
    pub(crate) ident: &'a Ident,
    /// The wire name as written; es-core's rule checks it when the generated code compiles.
    pub(crate) name: &'a LitStr,
    pub(crate) version: u32,
    /// The type holding the previous schema version, if this one evolved from it.
    pub(crate) upcast_from: Option<&'a Path>,
    pub(crate) krate: Path,
}

/// A checked `derive(Command)` input.
pub(crate) struct Command<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) id_member: &'a Member,
    pub(crate) id_ty: &'a Type,
    /// The function of `validate = path`.
    pub(crate) validate: Option<&'a Path>,
    /// The `garde` key, when garde's rules apply.
    pub(crate) garde: Option<&'a Path>,
    pub(crate) krate: Path,
}

/// A checked `derive(Aggregate)` input.
pub(crate) struct Aggregate<'a> {
    pub(crate) shape: Shape<'a>,
    /// The name as written; es-core's rule checks it when the generated code compiles.
    pub(crate) name: &'a LitStr,
    pub(crate) id: &'a Type,
    pub(crate) error: &'a Type,
    /// `snapshot_every`, when set.
    pub(crate) snapshot_every: Option<u64>,
    /// `snapshot_version`, when set.
    pub(crate) snapshot_version: Option<u32>,
}

/// What both the real expansion and the fallback of `derive(Aggregate)` need: the generated
/// enums and their variants.
pub(crate) struct Shape<'a> {
    pub(crate) vis: &'a Visibility,
    pub(crate) ident: &'a Ident,
    pub(crate) event_enum: Ident,
    pub(crate) command_enum: Ident,
    pub(crate) events: Vec<Entry<'a>>,
    pub(crate) commands: Vec<Entry<'a>>,
    pub(crate) event_derive: &'a [Path],
    pub(crate) command_derive: &'a [Path],
    pub(crate) krate: Path,
}

/// One entry of `events(..)` or `commands(..)`: the type and its variant name.
pub(crate) struct Entry<'a> {
    pub(crate) path: &'a Path,
    pub(crate) variant: &'a Ident,
}

pub(crate) fn event<'a>(cx: &Ctxt, input: &'a ast::Event<'a>) -> Option<Event<'a>> {
    let original = input.original;
    no_generics(
        cx,
        original,
        "Event",
        "an event's wire name must name exactly one type",
    );
    let attrs = &input.attrs;
    match &attrs.seen.first {
        None => cx.error_spanned_by(
            &original.ident,
            "missing `#[event(name = \"...\")]`: every event needs a stable wire name, \
             such as `#[event(name = \"user.created\")]`",
        ),
        Some(at) if attrs.name.is_none() && attrs.seen.report_missing(symbol::NAME) => {
            cx.error_spanned_by(
                at,
                "missing `#[event]` key `name`: add `name = \"...\"`, such as \
                 `#[event(name = \"user.created\")]`",
            );
        }
        Some(_) => {}
    }
    let name = attrs.name.as_ref();
    let version = match &attrs.version {
        Some(lit) => schema_version(cx, lit, symbol::VERSION),
        None => Some(1),
    };
    let upcast_from = attrs.upcast_from.as_ref();
    if let Some(previous) = upcast_from {
        if previous.segments.iter().any(|s| !s.arguments.is_empty()) {
            cx.error_spanned_by(
                previous,
                "`upcast_from` takes a plain type name; event types cannot be generic",
            );
        }
        if version == Some(1) {
            let at: &dyn quote::ToTokens = match &attrs.version {
                Some(lit) => lit,
                None => previous,
            };
            cx.error_spanned_by(
                at,
                "`upcast_from` names the type of the previous schema version, so this event's \
                 `version` must be 2 or more: add `version = 2`",
            );
        }
    }
    Some(Event {
        ident: &original.ident,
        name: name?,
        version: version?,
        upcast_from,
        krate: krate(input.attrs.krate.as_ref()),
    })
}

pub(crate) fn command<'a>(cx: &Ctxt, input: &'a ast::Command<'a>) -> Option<Command<'a>> {
    let original = input.original;
    no_generics(
        cx,
        original,
        "Command",
        "an aggregate's `commands(..)` list names concrete types",
    );
    let id = match input.ids.as_slice() {
        [] => {
            cx.error_spanned_by(
                &original.ident,
                "a command needs exactly one field marked `#[id]`: the id of the aggregate \
                 it targets",
            );
            None
        }
        [id] => Some(id),
        [_, extra @ ..] => {
            for field in extra {
                cx.error_spanned_by(
                    field.marker,
                    "a command has exactly one `#[id]` field; remove this one",
                );
            }
            None
        }
    }?;
    Some(Command {
        ident: &original.ident,
        id_member: &id.member,
        id_ty: id.ty,
        validate: input.attrs.validate.as_ref(),
        garde: input.attrs.garde.as_ref(),
        krate: krate(input.attrs.krate.as_ref()),
    })
}

pub(crate) fn aggregate<'a>(cx: &Ctxt, input: &'a ast::Aggregate<'a>) -> Option<Aggregate<'a>> {
    let original = input.original;
    let attrs = &input.attrs;
    no_generics(
        cx,
        original,
        "Aggregate",
        "its event and command enums and its stream names are those of one concrete type",
    );
    let Some(at) = &attrs.seen.first else {
        cx.error_spanned_by(
            &original.ident,
            "missing `#[aggregate(name = \"...\", id = .., error = .., events(..), commands(..))]`",
        );
        return None;
    };
    require_keys(
        cx,
        at,
        symbol::AGGREGATE,
        &attrs.seen,
        &[
            (symbol::NAME, attrs.name.is_none(), "name = \"...\""),
            (symbol::ID, attrs.id.is_none(), "id = IdType"),
            (symbol::ERROR, attrs.error.is_none(), "error = ErrorType"),
            (
                symbol::EVENTS,
                attrs.events.is_none(),
                "events(EventA, EventB, ..)",
            ),
            (
                symbol::COMMANDS,
                attrs.commands.is_none(),
                "commands(CommandA, CommandB, ..)",
            ),
        ],
    );
    let name = attrs.name.as_ref();
    let shape = shape(cx, input);
    entries(cx, attrs.events.as_ref(), "events", "event", true);
    entries(cx, attrs.commands.as_ref(), "commands", "command", true);
    let snapshot_every = attrs.snapshot_every.as_ref().map(|lit| {
        lit.base10_parse::<u64>().map_err(|err| {
            cx.error_spanned_by(
                lit,
                format!("`snapshot_every` must be a number of events (0 for never): {err}"),
            );
        })
    });
    let snapshot_version = attrs
        .snapshot_version
        .as_ref()
        .map(|lit| schema_version(cx, lit, symbol::SNAPSHOT_VERSION).ok_or(()));
    Some(Aggregate {
        snapshot_every: snapshot_every.transpose().ok()?,
        snapshot_version: snapshot_version.transpose().ok()?,
        name: name?,
        id: attrs.id.as_ref()?,
        error: attrs.error.as_ref()?,
        shape: shape?,
    })
}

/// A checked `derive(Projection)` input.
pub(crate) struct Projection<'a> {
    pub(crate) ident: &'a Ident,
    /// The name as written; es-core's rule checks it when the generated code compiles.
    pub(crate) name: &'a LitStr,
    pub(crate) events: &'a [Path],
    pub(crate) krate: Path,
}

pub(crate) fn projection<'a>(cx: &Ctxt, input: &'a ast::Projection<'a>) -> Option<Projection<'a>> {
    let original = input.original;
    let attrs = &input.attrs;
    no_generics(
        cx,
        original,
        "Projection",
        "its name identifies one read model and its checkpoint",
    );
    let Some(at) = &attrs.seen.first else {
        cx.error_spanned_by(
            &original.ident,
            "missing `#[projection(name = \"...\", events(..))]`",
        );
        return None;
    };
    require_keys(
        cx,
        at,
        symbol::PROJECTION,
        &attrs.seen,
        &[
            (symbol::NAME, attrs.name.is_none(), "name = \"...\""),
            (
                symbol::EVENTS,
                attrs.events.is_none(),
                "events(EventA, EventB, ..)",
            ),
        ],
    );
    let name = attrs.name.as_ref();
    entries(cx, attrs.events.as_ref(), "events", "event", false);
    Some(Projection {
        ident: &original.ident,
        name: name?,
        events: &attrs.events.as_ref()?.items,
        krate: krate(attrs.krate.as_ref()),
    })
}

/// The enums' names and variants. Also used by the fallback, so it only reports problems of
/// the names; entries are checked by [`entries`].
pub(crate) fn shape<'a>(cx: &Ctxt, input: &'a ast::Aggregate<'a>) -> Option<Shape<'a>> {
    let original = input.original;
    let attrs = &input.attrs;
    let ident = &original.ident;
    let event_enum = attrs
        .event_enum
        .clone()
        .unwrap_or_else(|| Ident::new(&format!("{ident}Event"), ident.span()));
    let command_enum = attrs
        .command_enum
        .clone()
        .unwrap_or_else(|| Ident::new(&format!("{ident}Command"), ident.span()));
    let mut ok = true;
    for (name, key) in [(&event_enum, "event_enum"), (&command_enum, "command_enum")] {
        if name == ident {
            cx.error_spanned_by(
                name,
                format!("`{key}` must differ from the aggregate's own name `{ident}`"),
            );
            ok = false;
        }
    }
    if event_enum == command_enum {
        // Point at the name the user wrote (the two defaults never collide).
        let (at, key, other) = match &attrs.event_enum {
            Some(at) if attrs.command_enum.is_none() => (at, "event_enum", "command"),
            _ => (&command_enum, "command_enum", "event"),
        };
        cx.error_spanned_by(
            at,
            format!("`{key}` must differ from the {other} enum's name `{event_enum}`"),
        );
        ok = false;
    }
    let derives = |list: Option<&'a PathList>| list.map_or(&[][..], |l| l.items.as_slice());
    ok.then(|| Shape {
        vis: &original.vis,
        ident,
        event_enum,
        command_enum,
        events: variants(attrs.events.as_ref()),
        commands: variants(attrs.commands.as_ref()),
        event_derive: derives(attrs.event_derive.as_ref()),
        command_derive: derives(attrs.command_derive.as_ref()),
        krate: krate(attrs.krate.as_ref()),
    })
}

/// The entries of a list with their variant names: the last segment of each path, the first
/// of each name only (a repeated name is reported by [`entries`]).
fn variants(list: Option<&PathList>) -> Vec<Entry<'_>> {
    let mut seen = HashSet::new();
    list.map(|list| list.items.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|path| {
            let variant = &path.segments.last()?.ident;
            seen.insert(variant.to_string())
                .then_some(Entry { path, variant })
        })
        .collect()
}

/// One error at `at` listing every required key that is absent and not already reported.
/// Each item is `(key, absent, example)`.
fn require_keys(
    cx: &Ctxt,
    at: &Path,
    namespace: Symbol,
    seen: &Seen,
    items: &[(Symbol, bool, &str)],
) {
    let missing: Vec<(Symbol, &str)> = items
        .iter()
        .filter(|&&(key, absent, _)| absent && seen.report_missing(key))
        .map(|&(key, _, example)| (key, example))
        .collect();
    if missing.is_empty() {
        return;
    }
    let keys: Vec<Symbol> = missing.iter().map(|&(key, _)| key).collect();
    let examples: Vec<&str> = missing.iter().map(|&(_, example)| example).collect();
    let plural = if keys.len() == 1 { "" } else { "s" };
    cx.error_spanned_by(
        at,
        format!(
            "missing `#[{namespace}]` key{plural} {}: add `{}`",
            symbol::list(&keys),
            examples.join(", ")
        ),
    );
}

/// Checks an `events(..)` or `commands(..)` list: not empty, plain type paths, no type twice,
/// and, when the types name enum variants (`variants`), no two with the same last segment.
fn entries(cx: &Ctxt, list: Option<&PathList>, key: &str, what: &str, variants: bool) {
    let Some(list) = list else { return };
    if list.items.is_empty() {
        cx.error_spanned_by(
            &list.key,
            format!("`{key}(..)` is empty: list at least one {what} type"),
        );
    }
    entry_rules(cx, list, key, what, variants);
}

/// The rules of [`entries`] but the first: plain type paths, no type twice, and with
/// `variants`, no two with the same last segment.
fn entry_rules(cx: &Ctxt, list: &PathList, key: &str, what: &str, variants: bool) {
    let mut seen_paths = HashSet::new();
    let mut seen_variants = HashSet::new();
    for path in &list.items {
        let generic = path
            .segments
            .iter()
            .any(|segment| !segment.arguments.is_empty());
        if generic {
            cx.error_spanned_by(
                path,
                format!("`{key}(..)` takes plain type names; {what} types cannot be generic"),
            );
            continue;
        }
        let text = path.to_token_stream().to_string();
        let Some(segment) = path.segments.last() else {
            continue;
        };
        if !seen_paths.insert(text.clone()) {
            cx.error_spanned_by(path, format!("`{text}` is listed twice in `{key}(..)`"));
        } else if variants && !seen_variants.insert(segment.ident.to_string()) {
            cx.error_spanned_by(
                path,
                format!(
                    "two {what} types in `{key}(..)` are named `{}`; the variant takes the last \
                     path segment, so import one under another name (`use .. as Other;`)",
                    segment.ident
                ),
            );
        }
    }
}

fn schema_version(cx: &Ctxt, lit: &LitInt, key: Symbol) -> Option<u32> {
    match lit.base10_parse::<u32>() {
        Ok(0) => {
            cx.error_spanned_by(
                lit,
                format!("`{key}` starts at 1; 0 is not a schema version"),
            );
            None
        }
        Ok(version) => Some(version),
        Err(err) => {
            cx.error_spanned_by(
                lit,
                format!("`{key}` must be an integer from 1 to {}: {err}", u32::MAX),
            );
            None
        }
    }
}

fn no_generics(cx: &Ctxt, input: &DeriveInput, derive: &str, why: &str) {
    let generics = &input.generics;
    if !generics.params.is_empty() {
        // `Generics` prints its parameters only; add the `where` clause to the span.
        let where_clause = &generics.where_clause;
        cx.error_spanned_by(
            quote!(#generics #where_clause),
            format!("`derive({derive})` does not support generic types: {why}"),
        );
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format!("`derive({derive})` does not support `where` clauses; remove this one"),
        );
    }
}

/// The es-core path: `crate = ".."` or `::es_core`.
pub(crate) fn krate(path: Option<&Path>) -> Path {
    path.cloned()
        .unwrap_or_else(|| syn::parse_quote_spanned!(Span::call_site()=> ::es_core))
}
