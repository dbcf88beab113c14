//! Names: the one rule for the names a domain gives its events, aggregates, projections and
//! process managers.
//!
//! | Name | Allowed | Such as |
//! |---|---|---|
//! | event ([`check_event_name`]) | 1 to [`MAX_LEN`] bytes of ASCII letters, digits and `.` `_` `-` `/` `:`, starting with a letter or digit | `"user.created"` |
//! | aggregate ([`check_aggregate_name`]) | the same without `-` | `"user"`, `"bank_account"` |
//! | projection ([`check_projection_name`]) | as events | `"user-directory"` |
//! | process manager ([`check_process_name`]) | as events | `"transfer-process"` |
//!
//! An aggregate name has no `-` because `-` separates the aggregate name from the id in a
//! stream id (`user-42`, see [`StreamId::for_aggregate`](crate::StreamId::for_aggregate)):
//! were `user-admin` a valid aggregate name, its instance `1` and the instance `admin-1` of
//! `user` would share the stream `user-admin-1`.
//!
//! The rules are `const fn`s so that the derives check the names they are given at compile
//! time with these very functions, and the runtime checks the same rules:
//! [`check_batch`](crate::store::check_batch), which every store runs on an append, refuses
//! an event name outside the event rule, and
//! [`StreamId::for_aggregate`](crate::StreamId::for_aggregate) an aggregate name outside the
//! aggregate rule. A name the derive refuses is refused by every store too.
//!
//! ```
//! use es_core::names::{self, NameProblem};
//!
//! assert!(names::check_event_name("user.created").is_ok());
//! assert!(names::check_projection_name("user-directory").is_ok());
//! assert!(names::check_aggregate_name("bank_account").is_ok());
//!
//! let refused = names::check_aggregate_name("user-admin").unwrap_err();
//! assert_eq!(refused.problem, NameProblem::Separator { at: 4 });
//!
//! let refused = names::check_event_name("user created").unwrap_err();
//! assert_eq!(refused.problem, NameProblem::BadCharacter { found: ' ', at: 4 });
//! assert!(refused.to_string().starts_with("malformed event name: use 1 to 255 bytes"));
//!
//! // Usable in constants: this is how the derives check names.
//! const _: () = assert!(names::check_event_name("user.created").is_ok());
//! ```

use std::fmt;

/// The longest name of any kind, in bytes.
pub const MAX_LEN: usize = 255;

/// What a name names; each kind has its rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameKind {
    /// An event's wire name ([`Event::NAME`](crate::Event::NAME)).
    Event,
    /// An aggregate's name ([`Aggregate::NAME`](crate::Aggregate::NAME)), the prefix of its
    /// stream ids.
    Aggregate,
    /// A projection's name ([`Projection::NAME`](crate::Projection::NAME)), under which its
    /// checkpoint is saved.
    Projection,
    /// A process manager's name ([`ProcessManager::NAME`](crate::process::ProcessManager::NAME)),
    /// under which its checkpoint, instances and timers are saved.
    Process,
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Event => "event",
            Self::Aggregate => "aggregate",
            Self::Projection => "projection",
            Self::Process => "process manager",
        })
    }
}

/// What is wrong with a refused name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_LEN`] bytes.
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The name does not start with an ASCII letter or digit.
    BadStart {
        /// Its first character.
        found: char,
    },
    /// The name holds a character its rule does not allow.
    BadCharacter {
        /// The first such character.
        found: char,
        /// Where it is, in bytes from the start of the name.
        at: usize,
    },
    /// An aggregate name holds `-`, the separator between the aggregate name and the id in a
    /// stream id.
    Separator {
        /// Where the first `-` is, in bytes from the start of the name.
        at: usize,
    },
}

/// A name that its rule refuses: which kind of name, and what is wrong with it.
///
/// Its [`message`](Self::message) says what is wrong and what is allowed; the derives report
/// it at compile time, and `Display` adds the offending character or length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}{}", self.message(), Detail(self.problem))]
pub struct NameError {
    /// The kind of name refused.
    pub kind: NameKind,
    /// What is wrong with it.
    pub problem: NameProblem,
}

/// The rule of event, projection and process manager names, as said to a user who broke
/// it, with an example name of the kind.
macro_rules! rule {
    ($example:literal) => {
        concat!(
            "use 1 to 255 bytes of ASCII letters, digits and `.` `_` `-` `/` `:`, starting with \
             a letter or digit (such as \"",
            $example,
            "\")"
        )
    };
}

/// The rule of aggregate names, as said to a user who broke it.
macro_rules! aggregate_rule {
    () => {
        "use 1 to 255 bytes of ASCII letters, digits and `.` `_` `/` `:` (not `-`, which \
         separates the aggregate name from the id in stream ids), starting with a letter or \
         digit (such as \"user\" or \"bank_account\")"
    };
}

/// One message per kind of name: `"{before}{kind} name{after}: {the kind's rule}"`.
macro_rules! per_kind {
    ($kind:expr, $before:literal, $after:literal) => {
        match $kind {
            NameKind::Event => {
                concat!($before, "event name", $after, ": ", rule!("user.created"))
            }
            NameKind::Aggregate => {
                concat!($before, "aggregate name", $after, ": ", aggregate_rule!())
            }
            NameKind::Projection => {
                concat!(
                    $before,
                    "projection name",
                    $after,
                    ": ",
                    rule!("user-directory")
                )
            }
            NameKind::Process => {
                concat!(
                    $before,
                    "process manager name",
                    $after,
                    ": ",
                    rule!("transfer-process")
                )
            }
        }
    };
}

// The rules' texts spell out the limit, 255.
const _: () = assert!(MAX_LEN == 255, "update the rules' texts");

impl NameError {
    /// What is wrong and what the rule allows, such as `"malformed event name: use 1 to 255
    /// bytes of ASCII letters, ..."`. A constant text, so that the derives can report it at
    /// compile time; `Display` adds the details.
    #[must_use]
    pub const fn message(&self) -> &'static str {
        match self.problem {
            NameProblem::Empty => per_kind!(self.kind, "", " is empty"),
            NameProblem::TooLong { .. } => per_kind!(self.kind, "", " is longer than 255 bytes"),
            NameProblem::BadStart { .. } => {
                per_kind!(
                    self.kind,
                    "",
                    " does not start with an ASCII letter or digit"
                )
            }
            NameProblem::BadCharacter { .. } => per_kind!(self.kind, "malformed ", ""),
            NameProblem::Separator { .. } => {
                concat!("aggregate name holds `-`: ", aggregate_rule!())
            }
        }
    }
}

/// The details `Display` adds to [`NameError::message`].
struct Detail(NameProblem);

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            NameProblem::Empty => Ok(()),
            NameProblem::TooLong { len } => write!(f, "; it is {len} bytes long"),
            NameProblem::BadStart { found } => write!(f, "; it starts with {found:?}"),
            NameProblem::BadCharacter { found, at } => write!(f, "; found {found:?} at byte {at}"),
            NameProblem::Separator { at } => write!(f, "; found `-` at byte {at}"),
        }
    }
}

/// Checks an event's wire name: 1 to [`MAX_LEN`] bytes of ASCII letters, digits and
/// `.` `_` `-` `/` `:`, starting with a letter or digit.
///
/// # Errors
/// A [`NameError`] of kind [`NameKind::Event`] saying what is wrong.
pub const fn check_event_name(name: &str) -> Result<(), NameError> {
    check(name, NameKind::Event)
}

/// Checks an aggregate's name: as [`check_event_name`], without `-` (the stream id
/// separator).
///
/// # Errors
/// A [`NameError`] of kind [`NameKind::Aggregate`] saying what is wrong;
/// [`NameProblem::Separator`] for a `-`.
pub const fn check_aggregate_name(name: &str) -> Result<(), NameError> {
    check(name, NameKind::Aggregate)
}

/// Checks a projection's name: as [`check_event_name`].
///
/// # Errors
/// A [`NameError`] of kind [`NameKind::Projection`] saying what is wrong.
pub const fn check_projection_name(name: &str) -> Result<(), NameError> {
    check(name, NameKind::Projection)
}

/// Checks a process manager's name: as [`check_event_name`].
///
/// # Errors
/// A [`NameError`] of kind [`NameKind::Process`] saying what is wrong.
pub const fn check_process_name(name: &str) -> Result<(), NameError> {
    check(name, NameKind::Process)
}

/// The rule of every kind: `-` is refused in aggregate names only.
const fn check(name: &str, kind: NameKind) -> Result<(), NameError> {
    let bytes = name.as_bytes();
    let problem = if bytes.is_empty() {
        NameProblem::Empty
    } else if bytes.len() > MAX_LEN {
        NameProblem::TooLong { len: bytes.len() }
    } else if !bytes[0].is_ascii_alphanumeric() {
        NameProblem::BadStart {
            found: char_at(bytes, 0),
        }
    } else {
        match first_refused(bytes, kind) {
            Some(problem) => problem,
            None => return Ok(()),
        }
    };
    Err(NameError { kind, problem })
}

/// The first byte of `bytes` (past the first) that `kind`'s rule refuses.
const fn first_refused(bytes: &[u8], kind: NameKind) -> Option<NameProblem> {
    let mut at = 1;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'-' && matches!(kind, NameKind::Aggregate) {
            return Some(NameProblem::Separator { at });
        }
        if !(byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'/' | b':')) {
            return Some(NameProblem::BadCharacter {
                found: char_at(bytes, at),
                at,
            });
        }
        at += 1;
    }
    None
}

/// The character starting at byte `at` of `bytes`, the UTF-8 of a `str` with a character
/// boundary at `at` (every byte before it being ASCII). `char::REPLACEMENT_CHARACTER` if
/// that does not hold.
const fn char_at(bytes: &[u8], at: usize) -> char {
    if at >= bytes.len() {
        return char::REPLACEMENT_CHARACTER;
    }
    let lead = bytes[at] as u32;
    let (len, mut code) = match lead {
        0x00..0x80 => (1, lead),
        0xc0..0xe0 => (2, lead & 0x1f),
        0xe0..0xf0 => (3, lead & 0x0f),
        _ => (4, lead & 0x07),
    };
    let mut i = 1;
    while i < len {
        if at + i >= bytes.len() {
            return char::REPLACEMENT_CHARACTER;
        }
        code = (code << 6) | (bytes[at + i] as u32 & 0x3f);
        i += 1;
    }
    match char::from_u32(code) {
        Some(found) => found,
        None => char::REPLACEMENT_CHARACTER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(result: Result<(), NameError>) -> Option<NameProblem> {
        result.err().map(|error| error.problem)
    }

    #[test]
    fn events_and_projections_take_letters_digits_and_five_marks() {
        for name in [
            "user.created",
            "a",
            "0",
            "a-b_c.d/e:f",
            "Z9",
            &"n".repeat(MAX_LEN),
        ] {
            assert_eq!(check_event_name(name), Ok(()), "{name:?}");
            assert_eq!(check_projection_name(name), Ok(()), "{name:?}");
            assert_eq!(check_process_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn aggregates_take_the_same_without_the_separator() {
        for name in ["user", "bank_account", "a.b/c:d", &"n".repeat(MAX_LEN)] {
            assert_eq!(check_aggregate_name(name), Ok(()), "{name:?}");
        }
        assert_eq!(
            problem(check_aggregate_name("user-admin")),
            Some(NameProblem::Separator { at: 4 })
        );
        assert_eq!(problem(check_event_name("user-admin")), None);
    }

    #[test]
    fn each_problem_is_named_with_where_it_is() {
        let long = "n".repeat(MAX_LEN + 1);
        let cases = [
            ("", NameProblem::Empty),
            (long.as_str(), NameProblem::TooLong { len: MAX_LEN + 1 }),
            (".user", NameProblem::BadStart { found: '.' }),
            ("-user", NameProblem::BadStart { found: '-' }),
            ("éclair", NameProblem::BadStart { found: 'é' }),
            (
                "user created",
                NameProblem::BadCharacter { found: ' ', at: 4 },
            ),
            (
                "bad\nname",
                NameProblem::BadCharacter { found: '\n', at: 3 },
            ),
            ("caf\u{e9}", NameProblem::BadCharacter { found: 'é', at: 3 }),
            (
                "a\u{85}",
                NameProblem::BadCharacter {
                    found: '\u{85}',
                    at: 1,
                },
            ),
            (
                "a✓",
                NameProblem::BadCharacter {
                    found: '✓', at: 1
                },
            ),
            (
                "a\u{1f980}",
                NameProblem::BadCharacter {
                    found: '\u{1f980}',
                    at: 1,
                },
            ),
        ];
        for (name, expected) in cases {
            for check in [
                check_event_name,
                check_aggregate_name,
                check_projection_name,
                check_process_name,
            ] {
                assert_eq!(problem(check(name)), Some(expected), "{name:?}");
            }
        }
    }

    #[test]
    fn messages_say_what_is_wrong_and_what_is_allowed() {
        let error = check_event_name("user created").unwrap_err();
        assert_eq!(error.kind, NameKind::Event);
        assert_eq!(
            error.to_string(),
            "malformed event name: use 1 to 255 bytes of ASCII letters, digits and `.` `_` `-` \
             `/` `:`, starting with a letter or digit (such as \"user.created\"); found ' ' at \
             byte 4"
        );
        let error = check_projection_name("").unwrap_err();
        assert!(
            error
                .message()
                .starts_with("projection name is empty: use 1 to 255 bytes"),
            "{error}"
        );
        assert!(error.message().ends_with("(such as \"user-directory\")"));
        let error = check_process_name("transfer process").unwrap_err();
        assert_eq!(error.kind, NameKind::Process);
        assert!(
            error
                .to_string()
                .starts_with("malformed process manager name: use 1 to 255 bytes"),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .ends_with("(such as \"transfer-process\"); found ' ' at byte 8"),
            "{error}"
        );
        let error = check_aggregate_name("user-admin").unwrap_err();
        assert!(
            error.message().starts_with("aggregate name holds `-`"),
            "{error}"
        );
        assert!(
            error.to_string().ends_with("; found `-` at byte 4"),
            "{error}"
        );
        let error = check_aggregate_name(&"n".repeat(300)).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("aggregate name is longer than 255 bytes: use"),
            "{error}"
        );
        assert!(error.to_string().ends_with("; it is 300 bytes long"));
    }

    #[test]
    fn the_rules_run_in_constants() {
        const EVENT: Result<(), NameError> = check_event_name("user.created");
        const AGGREGATE: Result<(), NameError> = check_aggregate_name("user-admin");
        assert_eq!(EVENT, Ok(()));
        assert!(AGGREGATE.is_err());
    }
}
