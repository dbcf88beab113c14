//! Parsing of the derive attributes (`#[event(..)]`, `#[command(..)]`, `#[aggregate(..)]`,
//! `#[id]`) into plain values that keep their tokens, so later checks can point at them.
//!
//! Parsing records every problem in the [`Ctxt`] and goes on: an unknown or duplicate key is
//! reported at the key and skipped, so one pass reports all of them.

use proc_macro2::TokenTree;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, LitInt, LitStr, Path, Token, Type};

use crate::ctxt::Ctxt;
use crate::symbol::{self, Symbol};

/// One key's value, remembering whether it was already set so a second use is reported.
pub(crate) struct Attr<'c, T> {
    cx: &'c Ctxt,
    namespace: Symbol,
    key: Symbol,
    value: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, namespace: Symbol, key: Symbol) -> Self {
        Self {
            cx,
            namespace,
            key,
            value: None,
        }
    }

    /// Sets the value; a second set is reported at `at` (the repeated key).
    fn set(&mut self, at: &Path, value: T) {
        if self.value.is_some() {
            self.cx.error_spanned_by(
                at,
                format!("duplicate `{}` key `{}`", self.namespace, self.key),
            );
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// A parenthesized list of type paths, such as `events(UserCreated, EmailChanged)`.
pub(crate) struct PathList {
    /// The key, for errors about the list as a whole.
    pub(crate) key: Path,
    pub(crate) items: Vec<Path>,
}

/// The keys of `#[event(..)]`.
pub(crate) struct EventAttrs {
    /// Whether any `#[event(..)]` attribute was present.
    pub(crate) present: bool,
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<LitInt>,
    pub(crate) krate: Option<Path>,
}

/// The keys of `#[command(..)]`.
pub(crate) struct CommandAttrs {
    pub(crate) krate: Option<Path>,
}

/// The keys of `#[aggregate(..)]`.
pub(crate) struct AggregateAttrs {
    /// Whether any `#[aggregate(..)]` attribute was present.
    pub(crate) present: bool,
    pub(crate) name: Option<LitStr>,
    pub(crate) id: Option<Type>,
    pub(crate) error: Option<Type>,
    pub(crate) events: Option<PathList>,
    pub(crate) commands: Option<PathList>,
    pub(crate) event_enum: Option<Ident>,
    pub(crate) command_enum: Option<Ident>,
    pub(crate) event_derive: Option<PathList>,
    pub(crate) command_derive: Option<PathList>,
    pub(crate) krate: Option<Path>,
}

pub(crate) fn event(cx: &Ctxt, attrs: &[Attribute]) -> EventAttrs {
    let mut name = Attr::none(cx, symbol::EVENT, symbol::NAME);
    let mut version = Attr::none(cx, symbol::EVENT, symbol::VERSION);
    let mut krate = Attr::none(cx, symbol::EVENT, symbol::CRATE);
    let present = each_key(cx, attrs, symbol::EVENT, symbol::EVENT_KEYS, |key, meta| {
        match key {
            symbol::NAME => name.set(&meta.path, meta.value()?.parse()?),
            symbol::VERSION => version.set(&meta.path, meta.value()?.parse()?),
            _ => krate.set(&meta.path, parse_crate(meta)?),
        }
        Ok(())
    });
    EventAttrs {
        present,
        name: name.get(),
        version: version.get(),
        krate: krate.get(),
    }
}

pub(crate) fn command(cx: &Ctxt, attrs: &[Attribute]) -> CommandAttrs {
    let mut krate = Attr::none(cx, symbol::COMMAND, symbol::CRATE);
    each_key(
        cx,
        attrs,
        symbol::COMMAND,
        symbol::COMMAND_KEYS,
        |_, meta| {
            krate.set(&meta.path, parse_crate(meta)?);
            Ok(())
        },
    );
    CommandAttrs { krate: krate.get() }
}

pub(crate) fn aggregate(cx: &Ctxt, attrs: &[Attribute]) -> AggregateAttrs {
    let ns = symbol::AGGREGATE;
    let mut name = Attr::none(cx, ns, symbol::NAME);
    let mut id = Attr::none(cx, ns, symbol::ID);
    let mut error = Attr::none(cx, ns, symbol::ERROR);
    let mut events = Attr::none(cx, ns, symbol::EVENTS);
    let mut commands = Attr::none(cx, ns, symbol::COMMANDS);
    let mut event_enum = Attr::none(cx, ns, symbol::EVENT_ENUM);
    let mut command_enum = Attr::none(cx, ns, symbol::COMMAND_ENUM);
    let mut event_derive = Attr::none(cx, ns, symbol::EVENT_DERIVE);
    let mut command_derive = Attr::none(cx, ns, symbol::COMMAND_DERIVE);
    let mut krate = Attr::none(cx, ns, symbol::CRATE);
    let present = each_key(cx, attrs, ns, symbol::AGGREGATE_KEYS, |key, meta| {
        let at = &meta.path;
        match key {
            symbol::NAME => name.set(at, meta.value()?.parse()?),
            symbol::ID => id.set(at, meta.value()?.parse()?),
            symbol::ERROR => error.set(at, meta.value()?.parse()?),
            symbol::EVENTS => events.set(at, parse_list(meta)?),
            symbol::COMMANDS => commands.set(at, parse_list(meta)?),
            symbol::EVENT_ENUM => event_enum.set(at, meta.value()?.parse()?),
            symbol::COMMAND_ENUM => command_enum.set(at, meta.value()?.parse()?),
            symbol::EVENT_DERIVE => event_derive.set(at, parse_list(meta)?),
            symbol::COMMAND_DERIVE => command_derive.set(at, parse_list(meta)?),
            _ => krate.set(at, parse_crate(meta)?),
        }
        Ok(())
    });
    AggregateAttrs {
        present,
        name: name.get(),
        id: id.get(),
        error: error.get(),
        events: events.get(),
        commands: commands.get(),
        event_enum: event_enum.get(),
        command_enum: command_enum.get(),
        event_derive: event_derive.get(),
        command_derive: command_derive.get(),
        krate: krate.get(),
    }
}

/// The `#[id]` attributes among `attrs`; each must be bare.
pub(crate) fn id_markers<'a>(cx: &Ctxt, attrs: &'a [Attribute]) -> Vec<&'a Attribute> {
    let markers: Vec<_> = attrs.iter().filter(|a| a.path() == symbol::ID).collect();
    for marker in &markers {
        if let Err(err) = marker.meta.require_path_only() {
            cx.error_spanned_by(
                &marker.meta,
                format!("`#[id]` takes no arguments ({err}); write it bare: `#[id]`"),
            );
        }
    }
    markers
}

/// Calls `on_key` for each known key of every `#[namespace(..)]` attribute, and reports
/// unknown keys (listing the allowed ones) and malformed values without stopping.
/// Returns whether any attribute of the namespace was present.
fn each_key(
    cx: &Ctxt,
    attrs: &[Attribute],
    namespace: Symbol,
    keys: &[Symbol],
    mut on_key: impl FnMut(Symbol, &ParseNestedMeta<'_>) -> syn::Result<()>,
) -> bool {
    let mut present = false;
    for attr in attrs.iter().filter(|attr| attr.path() == namespace) {
        present = true;
        if let syn::Meta::Path(path) = &attr.meta {
            cx.error_spanned_by(
                path,
                format!(
                    "expected `#[{namespace}(..)]` with keys: {}",
                    symbol::list(keys)
                ),
            );
            continue;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            let Some(&key) = keys.iter().find(|&&key| meta.path == key) else {
                let shown = meta
                    .path
                    .get_ident()
                    .map_or_else(|| "this".to_owned(), |ident| format!("`{ident}`"));
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `{namespace}` key {shown}; expected one of: {}",
                        symbol::list(keys)
                    ),
                );
                return skip_value(&meta);
            };
            if let Err(err) = on_key(key, &meta) {
                cx.syn_error(err);
                return skip_value(&meta);
            }
            Ok(())
        });
        if let Err(err) = parsed {
            cx.syn_error(err);
        }
    }
    present
}

/// Skips the rest of the current entry (up to the next top-level comma).
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    while !meta.input.is_empty() && !meta.input.peek(Token![,]) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// `crate = "path"`.
fn parse_crate(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let lit: LitStr = meta.value()?.parse()?;
    lit.parse().map_err(|err| {
        syn::Error::new(
            lit.span(),
            format!("`crate` expects the path of es-core, like \"::es_core\": {err}"),
        )
    })
}

/// `key(A, B, ..)`.
fn parse_list(meta: &ParseNestedMeta<'_>) -> syn::Result<PathList> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "expected a parenthesized list: `{}(A, B, ..)`",
            meta.path
                .get_ident()
                .map_or_else(String::new, ToString::to_string)
        )));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let items = Punctuated::<Path, Token![,]>::parse_terminated(&content)?;
    Ok(PathList {
        key: meta.path.clone(),
        items: items.into_iter().collect(),
    })
}
