//! Parsing of the derive attributes (`#[event(..)]`, `#[command(..)]`, `#[aggregate(..)]`,
//! `#[projection(..)]`, `#[process(..)]`, `#[id]`) into plain values that keep their tokens,
//! so later checks can point at them.
//!
//! Parsing records every problem in the [`Ctxt`] and goes on: an unknown or duplicate key is
//! reported at the key and skipped, so one pass reports all of them.

use proc_macro2::{TokenStream, TokenTree};
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
    /// A value written under a misspelling of the key (reported as unknown already): used
    /// only when the key itself is absent, so the fallback output keeps what was meant.
    recovered: Option<T>,
}

impl<'c, T> Attr<'c, T> {
    fn none(cx: &'c Ctxt, namespace: Symbol, key: Symbol) -> Self {
        Self {
            cx,
            namespace,
            key,
            value: None,
            recovered: None,
        }
    }

    /// Sets the value; a second set is reported at `at` (the repeated key). When `at` is not
    /// the key but a misspelling of it, the value is only kept for recovery.
    fn set(&mut self, at: &Path, value: T) {
        if at != self.key {
            self.recovered.get_or_insert(value);
        } else if self.value.is_some() {
            self.cx.error_spanned_by(
                at,
                format!("duplicate `{}` key `{}`", self.namespace, self.key),
            );
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value.or(self.recovered)
    }
}

/// A parenthesized list of type paths, such as `events(UserCreated, EmailChanged)`.
pub(crate) struct PathList {
    /// The key, for errors about the list as a whole.
    pub(crate) key: Path,
    pub(crate) items: Vec<Path>,
}

/// What parsing saw of one attribute namespace, so that `valid` reports a missing key only
/// when no error reported here already accounts for it.
#[derive(Default)]
pub(crate) struct Seen {
    /// The path of the first `#[namespace ..]` attribute, where missing keys are reported.
    pub(crate) first: Option<Path>,
    /// Whether an attribute was not a list (`#[event]`, `#[event = ..]`); that error already
    /// says which keys to write.
    pub(crate) malformed: bool,
    /// Keys already reported: their value did not parse, or an unknown key looked like a
    /// misspelling of them.
    pub(crate) reported: Vec<Symbol>,
}

impl Seen {
    /// Whether the absence of `key` still needs an error of its own.
    pub(crate) fn report_missing(&self, key: Symbol) -> bool {
        !self.malformed && !self.reported.contains(&key)
    }
}

/// The keys of `#[event(..)]`.
pub(crate) struct EventAttrs {
    pub(crate) seen: Seen,
    pub(crate) name: Option<LitStr>,
    pub(crate) version: Option<LitInt>,
    pub(crate) upcast_from: Option<Path>,
    pub(crate) krate: Option<Path>,
}

/// The keys of `#[command(..)]`.
pub(crate) struct CommandAttrs {
    /// The function of `validate = path`.
    pub(crate) validate: Option<Path>,
    /// The `garde` flag's own path, for spans.
    pub(crate) garde: Option<Path>,
    pub(crate) krate: Option<Path>,
}

/// The keys of `#[projection(..)]`.
pub(crate) struct ProjectionAttrs {
    pub(crate) seen: Seen,
    pub(crate) name: Option<LitStr>,
    pub(crate) events: Option<PathList>,
    pub(crate) krate: Option<Path>,
}

/// The keys of `#[process(..)]`.
pub(crate) struct ProcessAttrs {
    pub(crate) seen: Seen,
    pub(crate) name: Option<LitStr>,
    pub(crate) key: Option<Type>,
    pub(crate) events: Option<PathList>,
    pub(crate) commands: Option<PathList>,
    pub(crate) timers: Option<PathList>,
    pub(crate) event_enum: Option<Ident>,
    pub(crate) command_enum: Option<Ident>,
    pub(crate) timer_enum: Option<Ident>,
    pub(crate) krate: Option<Path>,
}

/// The keys of `#[aggregate(..)]`.
pub(crate) struct AggregateAttrs {
    pub(crate) seen: Seen,
    pub(crate) name: Option<LitStr>,
    pub(crate) id: Option<Type>,
    pub(crate) error: Option<Type>,
    pub(crate) events: Option<PathList>,
    pub(crate) commands: Option<PathList>,
    pub(crate) event_enum: Option<Ident>,
    pub(crate) command_enum: Option<Ident>,
    pub(crate) event_derive: Option<PathList>,
    pub(crate) command_derive: Option<PathList>,
    pub(crate) snapshot_every: Option<LitInt>,
    pub(crate) snapshot_version: Option<LitInt>,
    pub(crate) krate: Option<Path>,
}

pub(crate) fn event(cx: &Ctxt, attrs: &[Attribute]) -> EventAttrs {
    let mut name = Attr::none(cx, symbol::EVENT, symbol::NAME);
    let mut version = Attr::none(cx, symbol::EVENT, symbol::VERSION);
    let mut upcast_from = Attr::none(cx, symbol::EVENT, symbol::UPCAST_FROM);
    let mut krate = Attr::none(cx, symbol::EVENT, symbol::CRATE);
    let seen = each_key(cx, attrs, symbol::EVENT, symbol::EVENT_KEYS, |key, meta| {
        match key {
            symbol::NAME => name.set(&meta.path, meta.value()?.parse()?),
            symbol::VERSION => version.set(&meta.path, meta.value()?.parse()?),
            symbol::UPCAST_FROM => upcast_from.set(&meta.path, meta.value()?.parse()?),
            _ => krate.set(&meta.path, parse_crate(meta)?),
        }
        Ok(())
    });
    EventAttrs {
        seen,
        name: name.get(),
        version: version.get(),
        upcast_from: upcast_from.get(),
        krate: krate.get(),
    }
}

pub(crate) fn command(cx: &Ctxt, attrs: &[Attribute]) -> CommandAttrs {
    let mut validate = Attr::none(cx, symbol::COMMAND, symbol::VALIDATE);
    let mut garde = Attr::none(cx, symbol::COMMAND, symbol::GARDE);
    let mut krate = Attr::none(cx, symbol::COMMAND, symbol::CRATE);
    each_key(
        cx,
        attrs,
        symbol::COMMAND,
        symbol::COMMAND_KEYS,
        |key, meta| {
            match key {
                symbol::VALIDATE => validate.set(&meta.path, parse_function(meta)?),
                symbol::GARDE => garde.set(&meta.path, parse_flag(meta)?),
                _ => krate.set(&meta.path, parse_crate(meta)?),
            }
            Ok(())
        },
    );
    CommandAttrs {
        validate: validate.get(),
        garde: garde.get(),
        krate: krate.get(),
    }
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
    let mut snapshot_every = Attr::none(cx, ns, symbol::SNAPSHOT_EVERY);
    let mut snapshot_version = Attr::none(cx, ns, symbol::SNAPSHOT_VERSION);
    let mut krate = Attr::none(cx, ns, symbol::CRATE);
    let seen = each_key(cx, attrs, ns, symbol::AGGREGATE_KEYS, |key, meta| {
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
            symbol::SNAPSHOT_EVERY => snapshot_every.set(at, meta.value()?.parse()?),
            symbol::SNAPSHOT_VERSION => snapshot_version.set(at, meta.value()?.parse()?),
            _ => krate.set(at, parse_crate(meta)?),
        }
        Ok(())
    });
    AggregateAttrs {
        seen,
        name: name.get(),
        id: id.get(),
        error: error.get(),
        events: events.get(),
        commands: commands.get(),
        event_enum: event_enum.get(),
        command_enum: command_enum.get(),
        event_derive: event_derive.get(),
        command_derive: command_derive.get(),
        snapshot_every: snapshot_every.get(),
        snapshot_version: snapshot_version.get(),
        krate: krate.get(),
    }
}

pub(crate) fn projection(cx: &Ctxt, attrs: &[Attribute]) -> ProjectionAttrs {
    let ns = symbol::PROJECTION;
    let mut name = Attr::none(cx, ns, symbol::NAME);
    let mut events = Attr::none(cx, ns, symbol::EVENTS);
    let mut krate = Attr::none(cx, ns, symbol::CRATE);
    let seen = each_key(cx, attrs, ns, symbol::PROJECTION_KEYS, |key, meta| {
        let at = &meta.path;
        match key {
            symbol::NAME => name.set(at, meta.value()?.parse()?),
            symbol::EVENTS => events.set(at, parse_list(meta)?),
            _ => krate.set(at, parse_crate(meta)?),
        }
        Ok(())
    });
    ProjectionAttrs {
        seen,
        name: name.get(),
        events: events.get(),
        krate: krate.get(),
    }
}

pub(crate) fn process(cx: &Ctxt, attrs: &[Attribute]) -> ProcessAttrs {
    let ns = symbol::PROCESS;
    let mut name = Attr::none(cx, ns, symbol::NAME);
    let mut key_type = Attr::none(cx, ns, symbol::KEY);
    let mut events = Attr::none(cx, ns, symbol::EVENTS);
    let mut commands = Attr::none(cx, ns, symbol::COMMANDS);
    let mut timers = Attr::none(cx, ns, symbol::TIMERS);
    let mut event_enum = Attr::none(cx, ns, symbol::EVENT_ENUM);
    let mut command_enum = Attr::none(cx, ns, symbol::COMMAND_ENUM);
    let mut timer_enum = Attr::none(cx, ns, symbol::TIMER_ENUM);
    let mut krate = Attr::none(cx, ns, symbol::CRATE);
    let seen = each_key(cx, attrs, ns, symbol::PROCESS_KEYS, |key, meta| {
        let at = &meta.path;
        match key {
            symbol::NAME => name.set(at, meta.value()?.parse()?),
            symbol::KEY => key_type.set(at, meta.value()?.parse()?),
            symbol::EVENTS => events.set(at, parse_list(meta)?),
            symbol::COMMANDS => commands.set(at, parse_list(meta)?),
            symbol::TIMERS => timers.set(at, parse_list(meta)?),
            symbol::EVENT_ENUM => event_enum.set(at, meta.value()?.parse()?),
            symbol::COMMAND_ENUM => command_enum.set(at, meta.value()?.parse()?),
            symbol::TIMER_ENUM => timer_enum.set(at, meta.value()?.parse()?),
            _ => krate.set(at, parse_crate(meta)?),
        }
        Ok(())
    });
    ProcessAttrs {
        seen,
        name: name.get(),
        key: key_type.get(),
        events: events.get(),
        commands: commands.get(),
        timers: timers.get(),
        event_enum: event_enum.get(),
        command_enum: command_enum.get(),
        timer_enum: timer_enum.get(),
        krate: krate.get(),
    }
}

/// The `#[id]` attributes among `attrs`; each must be bare.
pub(crate) fn id_markers<'a>(cx: &Ctxt, attrs: &'a [Attribute]) -> Vec<&'a Attribute> {
    let markers: Vec<_> = attrs.iter().filter(|a| a.path() == symbol::ID).collect();
    for marker in &markers {
        if marker.meta.require_path_only().is_err() {
            cx.error_spanned_by(
                &marker.meta,
                "`#[id]` takes no arguments; write it bare: `#[id]`",
            );
        }
    }
    markers
}

/// Calls `on_key` for each known key of every `#[namespace(..)]` attribute, and reports
/// unknown keys (listing the allowed ones) and malformed values without stopping.
fn each_key(
    cx: &Ctxt,
    attrs: &[Attribute],
    namespace: Symbol,
    keys: &[Symbol],
    mut on_key: impl FnMut(Symbol, &ParseNestedMeta<'_>) -> syn::Result<()>,
) -> Seen {
    let mut seen = Seen::default();
    for attr in attrs.iter().filter(|attr| attr.path() == namespace) {
        if seen.first.is_none() {
            seen.first = Some(attr.path().clone());
        }
        if !matches!(attr.meta, syn::Meta::List(_)) {
            cx.error_spanned_by(
                &attr.meta,
                format!(
                    "expected `#[{namespace}(..)]` with keys: {}",
                    symbol::list(keys)
                ),
            );
            seen.malformed = true;
            continue;
        }
        let parsed = attr.parse_nested_meta(|meta| {
            let Some(&key) = keys.iter().find(|&&key| meta.path == key) else {
                let ident = meta.path.get_ident().map(ToString::to_string);
                let shown = ident
                    .as_ref()
                    .map_or_else(|| "this".to_owned(), |ident| format!("`{ident}`"));
                let suggestion = ident.as_deref().and_then(|ident| closest(ident, keys));
                let hint =
                    suggestion.map_or_else(String::new, |key| format!(" (did you mean `{key}`?)"));
                cx.error_spanned_by(
                    &meta.path,
                    format!(
                        "unknown `{namespace}` key {shown}{hint}; expected one of: {}",
                        symbol::list(keys)
                    ),
                );
                if let Some(key) = suggestion {
                    // Read the value as the suggested key's, for recovery only: its absence
                    // is not reported, nor are errors in a value the user did not mean for it.
                    seen.reported.push(key);
                    if on_key(key, &meta).is_ok() {
                        return Ok(());
                    }
                }
                return skip_value(&meta);
            };
            if let Err(err) = on_key(key, &meta) {
                cx.syn_error(err);
                seen.reported.push(key);
                return skip_value(&meta);
            }
            Ok(())
        });
        if let Err(err) = parsed {
            cx.syn_error(err);
            // The rest of this attribute was not read: do not guess which keys it held.
            seen.malformed = true;
        }
    }
    seen
}

/// The key `word` is most likely a misspelling of, if any: at most two single-character
/// edits (insertions, deletions, substitutions, swaps of neighbours) away, and closer than
/// the word's own length.
fn closest(word: &str, keys: &[Symbol]) -> Option<Symbol> {
    keys.iter()
        .map(|&key| (edit_distance(word, key.0), key))
        .filter(|&(distance, _)| distance <= 2 && distance < word.len())
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, key)| key)
}

/// The optimal string alignment distance between two ASCII-ish words, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // rows[i][j]: the distance between a[..i] and b[..j].
    let mut rows = vec![vec![0; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
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

/// The key being parsed, for messages (keys reach the parsers only once matched against a
/// known word, so they are always identifiers).
fn key_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map_or_else(String::new, ToString::to_string)
}

/// `key = path::to::function`.
fn parse_function(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let key = key_name(meta);
    let expected = || format!("`{key}` expects the path of a function: `{key} = check_command`");
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(expected()));
    }
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        return Err(syn::Error::new(
            lit.span(),
            format!("{}, without quotes", expected()),
        ));
    }
    value.parse()
}

/// A key without a value, such as `garde`: its own path.
fn parse_flag(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
        let key = key_name(meta);
        return Err(meta.error(format!("`{key}` takes no value: write just `{key}`")));
    }
    Ok(meta.path.clone())
}

/// `key(A, B, ..)`.
fn parse_list(meta: &ParseNestedMeta<'_>) -> syn::Result<PathList> {
    if !meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "expected a parenthesized list: `{}(A, B, ..)`",
            key_name(meta)
        )));
    }
    let content;
    syn::parenthesized!(content in meta.input);
    let items = Punctuated::<Path, Token![,]>::parse_terminated(&content).map_err(|err| {
        // Consume the rest of the list: tokens left in it would be reported a second time,
        // as "unexpected token", at the same place.
        let _rest = content.parse::<TokenStream>();
        let key = key_name(meta);
        syn::Error::new(
            err.span(),
            format!("`{key}(..)` takes type paths separated by commas, such as `{key}(A, b::B)`"),
        )
    })?;
    Ok(PathList {
        key: meta.path.clone(),
        items: items.into_iter().collect(),
    })
}
