//! The name of the PostgreSQL schema a store keeps its tables in, checked so that it can be
//! written into SQL text as it is.

use std::fmt;
use std::sync::Arc;

/// The name of the PostgreSQL schema a [`PgStore`](crate::PgStore) keeps its tables in.
///
/// A plain, lower-case identifier: 1 to [`SchemaName::MAX_LEN`] bytes of `a`-`z`, `0`-`9` and
/// `_`, not starting with a digit. Because only such names are accepted, they are written into
/// SQL text unquoted and mean the same thing to PostgreSQL as to this crate (no case folding,
/// no quoting rules). The default is `es`.
///
/// ```
/// use es_postgres::SchemaName;
///
/// assert_eq!(SchemaName::default().as_str(), "es");
/// assert!(SchemaName::new("billing_events").is_ok());
/// assert!(SchemaName::new("Billing").is_err());
/// assert!(SchemaName::new("es; drop table x").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SchemaName(Arc<str>);

impl SchemaName {
    /// The longest schema name accepted, in bytes: PostgreSQL's identifier limit (63) less the
    /// `_events` suffix of the notification channel, which is named after the schema.
    pub const MAX_LEN: usize = 56;

    /// Checks and wraps a schema name.
    ///
    /// # Errors
    /// [`InvalidSchemaName`] when the name is empty, longer than [`Self::MAX_LEN`] bytes,
    /// starts with a digit or holds anything but `a`-`z`, `0`-`9` and `_`.
    pub fn new(name: impl AsRef<str>) -> Result<Self, InvalidSchemaName> {
        let name = name.as_ref();
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(Arc::from(name)))
        } else {
            Err(InvalidSchemaName {
                preview: name.chars().take(64).collect(),
            })
        }
    }

    /// The name as a string slice.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The LISTEN/NOTIFY channel the store notifies after its appends: `{schema}_events`.
    #[must_use]
    pub fn channel(&self) -> String {
        format!("{}_events", self.0)
    }

    /// The key of this schema's advisory locks (the second half of PostgreSQL's two-part
    /// key): FNV-1a of the name, so that stores in different schemas do not contend.
    pub(crate) fn lock_key(&self) -> i32 {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in self.0.bytes() {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        i32::from_ne_bytes(hash.to_ne_bytes())
    }
}

impl Default for SchemaName {
    fn default() -> Self {
        Self(Arc::from("es"))
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// A schema name that [`SchemaName::new`] refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSchemaName {
    /// The start of the rejected name (at most 64 characters).
    pub preview: String,
}

impl fmt::Display for InvalidSchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid schema name {:?}: use 1 to {} bytes of a-z, 0-9 and _, not starting with a digit",
            self.preview,
            SchemaName::MAX_LEN
        )
    }
}

impl std::error::Error for InvalidSchemaName {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for good in ["es", "a", "_x", "app_1", &"a".repeat(SchemaName::MAX_LEN)] {
            assert!(SchemaName::new(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1a",
            "A",
            "a-b",
            "a b",
            "a\"b",
            "é",
            &"a".repeat(SchemaName::MAX_LEN + 1),
        ] {
            assert!(SchemaName::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lock_keys_differ_by_schema() {
        let a = SchemaName::new("a").map(|s| s.lock_key());
        let b = SchemaName::new("b").map(|s| s.lock_key());
        assert_ne!(a, b);
    }
}
