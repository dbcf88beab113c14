//! Command validation: rules a command must meet before its aggregate decides on it.
//!
//! Validation checks a command on its own (a non-empty name, a plausible email, an amount in
//! range); what depends on the aggregate's state (is the email already taken?) belongs in
//! its [`Handle`](crate::Handle) impl. A command that fails validation is refused with every
//! failing field listed, before the aggregate is loaded and before anything is stored.
//!
//! Attach rules with `derive(Command)`, in either or both of two ways:
//!
//! - `#[command(validate = path::to::function)]`: a plain function
//!   `fn(&MyCommand) -> Result<(), ValidationErrors>`, for rules that need no crate.
//! - `#[command(garde)]`: the rules of the command's [`garde::Validate`] derive (with the
//!   `garde` feature of es-core; the command's garde context must implement `Default`).
//!
//! [`garde::Validate`]: https://docs.rs/garde/latest/garde/trait.Validate.html
//!
//! With both, garde's rules run first and the function's errors are added to theirs, so one
//! refusal lists every problem.
//!
//! ```
//! use es_core::prelude::*;
//!
//! #[derive(Command, Debug)]
//! #[command(validate = check_register)]
//! struct Register {
//!     #[id]
//!     user_id: u64,
//!     name: String,
//!     email: String,
//! }
//!
//! fn check_register(cmd: &Register) -> Result<(), ValidationErrors> {
//!     let mut errors = ValidationErrors::new();
//!     if cmd.name.trim().is_empty() {
//!         errors.add("name", "must not be blank");
//!     }
//!     if !cmd.email.contains('@') {
//!         errors.add("email", "must contain an `@`");
//!     }
//!     errors.into_result()
//! }
//!
//! let cmd = Register { user_id: 1, name: " ".into(), email: "ada".into() };
//! let errors = cmd.validate().unwrap_err();
//! assert_eq!(errors.fields().collect::<Vec<_>>(), ["name", "email"]);
//! assert_eq!(errors.to_string(), "name: must not be blank; email: must contain an `@`");
//! ```
//!
//! [`Repository::execute`](crate::Repository::execute) runs the validation and returns
//! [`ExecuteError::Invalid`](crate::ExecuteError::Invalid) on failure.
//!
//! Both types are serde types, so an HTTP layer can return the errors as they are: a
//! [`ValidationErrors`] is a list of `{"field", "message"}` objects.
//!
//! ```
//! # use es_core::ValidationErrors;
//! let mut errors = ValidationErrors::new();
//! errors.add("email", "must contain an `@`");
//! assert_eq!(
//!     serde_json::to_string(&errors).unwrap(),
//!     r#"[{"field":"email","message":"must contain an `@`"}]"#,
//! );
//! let back: ValidationErrors = serde_json::from_str(&serde_json::to_string(&errors).unwrap()).unwrap();
//! assert_eq!(back, errors);
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every rule a command broke: one [`FieldError`] per failing field and rule, in the order
/// the rules ran.
///
/// Build it with [`add`](Self::add) and finish with [`into_result`](Self::into_result), which
/// is `Ok(())` when nothing was added. Serializes as the list of its [`FieldError`]s.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ValidationErrors {
    errors: Vec<FieldError>,
}

/// One broken rule: which field, and what is wrong with it. Serializes as
/// `{"field": .., "message": ..}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The path of the failing field, such as `email` or `lines[2].amount`; empty for a rule
    /// about the command as a whole.
    pub field: String,
    /// What is wrong, for people: `must not be blank`.
    pub message: String,
}

impl ValidationErrors {
    /// No errors yet.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that `field` breaks a rule, described by `message`. Use `""` as the field for
    /// a rule about the whole command.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) -> &mut Self {
        self.errors.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    /// Adds every error of `other` after these.
    pub fn merge(&mut self, other: Self) -> &mut Self {
        self.errors.extend(other.errors);
        self
    }

    /// `Ok(())` when no rule was broken, otherwise `Err(self)`.
    ///
    /// # Errors
    /// `self`, when it holds at least one error.
    pub fn into_result(self) -> Result<(), Self> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }

    /// Whether no rule was broken.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// How many rules were broken.
    #[must_use]
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// The errors, in the order the rules ran.
    pub fn iter(&self) -> std::slice::Iter<'_, FieldError> {
        self.errors.iter()
    }

    /// The failing fields, in order; a field breaking two rules appears twice.
    pub fn fields(&self) -> impl Iterator<Item = &str> {
        self.errors.iter().map(|error| error.field.as_str())
    }
}

impl fmt::Display for ValidationErrors {
    /// `field: message; other: message`, or `message` alone for a rule about the whole
    /// command.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(error, f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl<'a> IntoIterator for &'a ValidationErrors {
    type Item = &'a FieldError;
    type IntoIter = std::slice::Iter<'a, FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl IntoIterator for ValidationErrors {
    type Item = FieldError;
    type IntoIter = std::vec::IntoIter<FieldError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.into_iter()
    }
}

impl FromIterator<FieldError> for ValidationErrors {
    fn from_iter<I: IntoIterator<Item = FieldError>>(iter: I) -> Self {
        Self {
            errors: iter.into_iter().collect(),
        }
    }
}

/// garde's report, one [`FieldError`] per entry: garde's path (`lines[2].amount`) as the
/// field and its message.
#[cfg(feature = "garde")]
impl From<garde::Report> for ValidationErrors {
    fn from(report: garde::Report) -> Self {
        report
            .iter()
            .map(|(path, error)| FieldError {
                field: path.to_string(),
                message: error.message().to_owned(),
            })
            .collect()
    }
}
