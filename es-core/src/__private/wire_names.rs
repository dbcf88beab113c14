//! The check that the events an aggregate, a projection or a process manager lists have
//! distinct wire names: one constant per list, whatever its length.

/// The longest piece of a message (a type, the owner, the wire name) copied whole, in
/// bytes; a longer one is cut at a character boundary and ends in `...`.
const PIECE: usize = 128;

/// Room for the longest message: the fixed text and four pieces of [`PIECE`] bytes and `...`.
const CAPACITY: usize = 640;

/// What [`DuplicateWireName::message`] says when the message is not UTF-8, which cannot
/// happen: pieces are cut at character boundaries.
const FALLBACK: &str = "two events have the same wire name; give each event its own \
                        `#[event(name = \"...\")]`";

/// Two entries of an event list with the same wire name, found by
/// [`duplicate_wire_name`].
#[derive(Debug, Clone, Copy)]
pub struct DuplicateWireName {
    later: usize,
    message: [u8; CAPACITY],
    len: usize,
}

impl DuplicateWireName {
    /// The index in the list of the later entry of the pair.
    #[must_use]
    pub const fn later(&self) -> usize {
        self.later
    }

    /// The message of the compile error: both events, the owner and the wire name.
    #[must_use]
    pub const fn message(&self) -> &str {
        let (text, _) = self.message.split_at(self.len);
        match core::str::from_utf8(text) {
            Ok(text) => text,
            Err(_) => FALLBACK,
        }
    }
}

/// The first pair of `events` (each a Rust type as written and its wire name) with the same
/// wire name: the pair whose later entry comes first in the list, and of the earlier entries
/// the first. `owner` names the aggregate, projection or process manager listing them, such
/// as ``"aggregate `User`"``.
#[must_use]
pub const fn duplicate_wire_name(
    owner: &str,
    events: &[(&str, &str)],
) -> Option<DuplicateWireName> {
    let mut later = 1;
    while later < events.len() {
        let mut earlier = 0;
        while earlier < later {
            if super::str_eq(events[earlier].1, events[later].1) {
                return Some(DuplicateWireName {
                    later,
                    ..message(owner, events[earlier].0, events[later].0, events[later].1)
                });
            }
            earlier += 1;
        }
        later += 1;
    }
    None
}

/// The message for `earlier` and `later` of `owner` sharing the wire name `name`.
const fn message(owner: &str, earlier: &str, later: &str, name: &str) -> DuplicateWireName {
    let mut out = DuplicateWireName {
        later: 0,
        message: [0; CAPACITY],
        len: 0,
    };
    push(&mut out, "events `");
    push_piece(&mut out, earlier);
    push(&mut out, "` and `");
    push_piece(&mut out, later);
    push(&mut out, "` of ");
    push_piece(&mut out, owner);
    push(&mut out, " have the same wire name \"");
    push_piece(&mut out, name);
    push(
        &mut out,
        "\"; give each event its own `#[event(name = \"...\")]`",
    );
    out
}

/// Appends `piece`, cut to [`PIECE`] bytes at a character boundary with `...` when longer.
const fn push_piece(out: &mut DuplicateWireName, piece: &str) {
    let bytes = piece.as_bytes();
    if bytes.len() <= PIECE {
        push_bytes(out, bytes);
        return;
    }
    let mut cut = PIECE;
    // A byte 0b10xx_xxxx continues a character: cut before the character it belongs to.
    while cut > 0 && bytes[cut] & 0b1100_0000 == 0b1000_0000 {
        cut -= 1;
    }
    push_bytes(out, bytes.split_at(cut).0);
    push(out, "...");
}

const fn push(out: &mut DuplicateWireName, text: &str) {
    push_bytes(out, text.as_bytes());
}

/// Appends `bytes`, as many as there is room for (all of them: [`CAPACITY`] holds the
/// longest message).
const fn push_bytes(out: &mut DuplicateWireName, bytes: &[u8]) {
    let mut i = 0;
    while i < bytes.len() && out.len < CAPACITY {
        out.message[out.len] = bytes[i];
        out.len += 1;
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HINT: &str = "give each event its own `#[event(name = \"...\")]`";

    fn found(events: &[(&str, &str)]) -> Option<(usize, String)> {
        duplicate_wire_name("aggregate `User`", events)
            .map(|duplicate| (duplicate.later(), duplicate.message().to_owned()))
    }

    #[test]
    fn no_list_of_distinct_names_has_a_duplicate() {
        assert_eq!(found(&[]), None);
        assert_eq!(found(&[("Created", "user.created")]), None);
        assert_eq!(
            found(&[
                ("Created", "user.created"),
                ("Renamed", "user.renamed"),
                ("Deleted", "user.deleted"),
            ]),
            None
        );
        // Names that share a prefix are distinct.
        assert_eq!(
            found(&[("A", "user.created"), ("B", "user.created2")]),
            None
        );
    }

    #[test]
    fn names_both_events_the_owner_and_the_wire_name() {
        let (later, message) =
            found(&[("Created", "user.created"), ("Registered", "user.created")])
                .expect("a duplicate");
        assert_eq!(later, 1);
        assert_eq!(
            message,
            format!(
                "events `Created` and `Registered` of aggregate `User` have the same wire name \
                 \"user.created\"; {HINT}"
            )
        );
    }

    #[test]
    fn finds_the_pair_wherever_it_stands() {
        let names = ["a.0", "a.1", "a.2", "a.3", "a.4"];
        let types = ["T0", "T1", "T2", "T3", "T4"];
        for earlier in 0..names.len() {
            for later in earlier + 1..names.len() {
                let mut events: Vec<(&str, &str)> = types.iter().copied().zip(names).collect();
                events[later].1 = names[earlier];
                let (at, message) = found(&events).expect("a duplicate");
                assert_eq!(at, later, "{events:?}");
                assert!(
                    message.starts_with(&format!("events `T{earlier}` and `T{later}` of")),
                    "{message}"
                );
                assert!(message.contains(&format!("\"a.{earlier}\"")), "{message}");
            }
        }
    }

    #[test]
    fn reports_the_first_later_entry_that_repeats_a_name() {
        // 2 repeats 0, 3 repeats 1 and 0: the entry 2 comes first.
        let events = [("A", "x"), ("B", "y"), ("C", "x"), ("D", "x")];
        let (later, message) = found(&events).expect("a duplicate");
        assert_eq!(later, 2);
        assert!(message.starts_with("events `A` and `C`"), "{message}");
        // The same name three times: the first two.
        let events = [("A", "x"), ("B", "x"), ("C", "x")];
        assert_eq!(found(&events).map(|(later, _)| later), Some(1));
    }

    #[test]
    fn cuts_long_pieces_at_a_character_boundary() {
        // 'é' is two bytes: an odd prefix puts byte 128 in the middle of one.
        let long_type = format!("a{}", "é".repeat(200));
        let long_name = "n".repeat(300);
        let long_owner = format!("aggregate `{}`", "ü".repeat(150));
        let duplicate = duplicate_wire_name(
            &long_owner,
            &[(&long_type, &long_name), (&long_type, &long_name)],
        )
        .expect("a duplicate");
        let message = duplicate.message();
        assert_ne!(message, FALLBACK);
        assert!(message.starts_with(&format!("events `a{}...` and `", "é".repeat(63))));
        assert!(message.contains(&format!(
            " have the same wire name \"{}...\"",
            "n".repeat(128)
        )));
        assert!(message.ends_with(HINT), "{message}");
        assert_eq!(
            message.matches("...").count(),
            5,
            "four cut pieces and the hint: {message}"
        );
        assert!(message.len() <= CAPACITY);
    }

    #[test]
    fn pieces_of_the_limit_are_copied_whole() {
        let name = "n".repeat(PIECE);
        let (_, message) = found(&[("A", &name), ("B", &name)]).expect("a duplicate");
        assert!(message.contains(&format!("\"{name}\";")), "{message}");
        assert!(!message.contains("n..."), "{message}");
    }

    #[test]
    fn works_in_a_constant() {
        const FOUND: Option<DuplicateWireName> =
            duplicate_wire_name("projection `P`", &[("A", "x"), ("B", "y"), ("C", "y")]);
        const LATER: Option<usize> = match FOUND {
            Some(duplicate) => Some(duplicate.later()),
            None => None,
        };
        const MESSAGE: &str = match &FOUND {
            Some(duplicate) => duplicate.message(),
            None => "",
        };
        assert_eq!(LATER, Some(2));
        assert!(
            MESSAGE.starts_with("events `B` and `C` of projection `P`"),
            "{MESSAGE}"
        );
        const NONE: Option<usize> = match duplicate_wire_name("projection `P`", &[("A", "x")]) {
            Some(duplicate) => Some(duplicate.later()),
            None => None,
        };
        assert_eq!(NONE, None);
    }
}
