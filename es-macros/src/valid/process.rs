//! The rules of `derive(ProcessManager)`.

use syn::{Ident, LitStr, Path, Type, Visibility};

use crate::ast;
use crate::ctxt::Ctxt;
use crate::symbol;
use crate::valid::{Entry, entries, entry_rules, krate, no_generics, require_keys, variants};

/// A checked `derive(ProcessManager)` input.
pub(crate) struct Process<'a> {
    pub(crate) shape: ProcessShape<'a>,
    /// The name as written; es-core's rule checks it when the generated code compiles.
    pub(crate) name: &'a LitStr,
    /// The type of `key = ..`.
    pub(crate) key: &'a Type,
}

/// What both the real expansion and the fallback of `derive(ProcessManager)` need: the
/// generated enums and their variants.
pub(crate) struct ProcessShape<'a> {
    pub(crate) vis: &'a Visibility,
    pub(crate) ident: &'a Ident,
    pub(crate) event_enum: Ident,
    pub(crate) command_enum: Ident,
    /// The timer enum's name, when the process has `timers(..)`.
    pub(crate) timer_enum: Option<Ident>,
    pub(crate) events: Vec<Entry<'a>>,
    pub(crate) commands: Vec<Entry<'a>>,
    pub(crate) timers: Vec<Entry<'a>>,
    pub(crate) krate: Path,
}

pub(crate) fn process<'a>(cx: &Ctxt, input: &'a ast::Process<'a>) -> Option<Process<'a>> {
    let original = input.original;
    let attrs = &input.attrs;
    no_generics(
        cx,
        original,
        "ProcessManager",
        "its enums, its stored instances and its timers are those of one concrete type",
    );
    let Some(at) = &attrs.seen.first else {
        cx.error_spanned_by(
            &original.ident,
            "missing `#[process(name = \"...\", key = .., events(..))]`, with `commands(..)` \
             and `timers(..)` for the commands it sends and the timers it sets",
        );
        return None;
    };
    require_keys(
        cx,
        at,
        symbol::PROCESS,
        &attrs.seen,
        &[
            (symbol::NAME, attrs.name.is_none(), "name = \"...\""),
            (symbol::KEY, attrs.key.is_none(), "key = KeyType"),
            (
                symbol::EVENTS,
                attrs.events.is_none(),
                "events(EventA, EventB, ..)",
            ),
        ],
    );
    let shape = process_shape(cx, input);
    entries(cx, attrs.events.as_ref(), "events", "event", true);
    // A process manager may only watch: no commands is fine.
    if let Some(commands) = &attrs.commands {
        entry_rules(cx, commands, "commands", "command", true);
    }
    match (&attrs.timers, &attrs.timer_enum) {
        (Some(timers), _) if timers.items.is_empty() => cx.error_spanned_by(
            &timers.key,
            "`timers(..)` is empty: list at least one timer type, or remove `timers(..)` \
             (a process manager without it has no timers)",
        ),
        (Some(timers), _) => entry_rules(cx, timers, "timers", "timer", true),
        (None, Some(timer_enum)) => cx.error_spanned_by(
            timer_enum,
            "`timer_enum` names the enum generated from `timers(..)`, which this process \
             manager does not have: add `timers(..)` or remove `timer_enum`",
        ),
        (None, None) => {}
    }
    Some(Process {
        name: attrs.name.as_ref()?,
        key: attrs.key.as_ref()?,
        shape: shape?,
    })
}

/// The enums' names and variants. Also used by the fallback, so it only reports problems of
/// the names; entries are checked by [`entries`]. A name written in conflict with another is
/// reported and replaced by its default, so that the fallback still declares every enum.
pub(crate) fn process_shape<'a>(
    cx: &Ctxt,
    input: &'a ast::Process<'a>,
) -> Option<ProcessShape<'a>> {
    let original = input.original;
    let attrs = &input.attrs;
    let ident = &original.ident;
    let default = |suffix: &str| Ident::new(&format!("{ident}{suffix}"), ident.span());
    // (key, kind, written, default); a timer enum exists with `timers(..)` (`timer_enum`
    // alone is an error, but the fallback still declares the enum it names).
    let mut enums = vec![
        (
            "event_enum",
            "event",
            attrs.event_enum.as_ref(),
            default("Event"),
        ),
        (
            "command_enum",
            "command",
            attrs.command_enum.as_ref(),
            default("Command"),
        ),
    ];
    if attrs.timers.is_some() || attrs.timer_enum.is_some() {
        enums.push((
            "timer_enum",
            "timer",
            attrs.timer_enum.as_ref(),
            default("Timer"),
        ));
    }
    let mut names: Vec<Ident> = enums
        .iter()
        .map(|(_, _, written, default)| written.map_or_else(|| default.clone(), Clone::clone))
        .collect();
    for (i, &(key, _, written, ref default)) in enums.iter().enumerate() {
        let Some(written) = written else { continue };
        // Of two written names, the later is reported; a default never collides with
        // another default nor with the process's own name.
        let other = enums
            .iter()
            .enumerate()
            .find(|&(j, (_, _, other_written, _))| {
                j != i && names[j] == *written && (j < i || other_written.is_none())
            });
        let message = if written == ident {
            format!("`{key}` must differ from the process manager's own name `{ident}`")
        } else if let Some((_, &(_, kind, _, _))) = other {
            format!("`{key}` must differ from the {kind} enum's name `{written}`")
        } else {
            continue;
        };
        cx.error_spanned_by(written, message);
        names[i] = default.clone();
    }
    if (1..names.len()).any(|i| names[..i].contains(&names[i])) {
        return None;
    }
    let mut names = names.into_iter();
    let (event_enum, command_enum) = (names.next()?, names.next()?);
    Some(ProcessShape {
        vis: &original.vis,
        ident,
        event_enum,
        command_enum,
        timer_enum: names.next(),
        events: variants(attrs.events.as_ref()),
        commands: variants(attrs.commands.as_ref()),
        timers: variants(attrs.timers.as_ref()),
        krate: krate(attrs.krate.as_ref()),
    })
}
