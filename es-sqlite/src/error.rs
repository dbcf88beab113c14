//! The errors of this store: [`OpenError`] when a file cannot be opened as a store, and
//! [`SqliteError`], what [`StoreError::Backend`] holds when SQLite or the store's threads
//! fail on an open store.
//!
//! A damaged file (SQLite's `SQLITE_CORRUPT` or `SQLITE_NOTADB` on a read or a write) is
//! [`StoreError::Corrupt`], naming the file and what was being done; a stored value that no
//! append writes is [`StoreError::Corrupt`] too, naming the table, the row and the column
//! (see `values`).

use std::fmt;
use std::path::{Path, PathBuf};

use es_core::StoreError;
use rusqlite::ErrorCode;

/// What kind of failure a [`SqliteError`] is, for callers that act on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The disk is full, or the file reached its size limit
    /// ([`SqliteOptions::with_size_limit`](crate::SqliteOptions::with_size_limit)).
    /// Nothing of the failed operation was written; freeing space makes the store work again.
    DiskFull,
    /// The file, its directory or the store cannot be written (file permissions, a
    /// read-only mount, or a store opened with
    /// [`SqliteOptions::read_only`](crate::SqliteOptions::read_only)). Reads still work.
    ReadOnly,
    /// Another connection held the file's write lock for longer than the busy timeout
    /// ([`SqliteOptions::with_busy_timeout`](crate::SqliteOptions::with_busy_timeout)).
    /// Nothing was written; a retry may succeed.
    Busy,
    /// The operating system reported an I/O error.
    Io,
    /// The store's writer or reader threads have stopped (a bug, or the process is
    /// shutting down); nothing more can be done with this handle.
    Stopped,
    /// The write was rolled back with the transaction it shared with another caller's write
    /// that failed (SQLite rolls a whole transaction back on some errors, such as a full
    /// disk), and could not be run again. Nothing of it was written; a retry may succeed. (An
    /// append is run again in a new transaction instead; a table projection's batch is
    /// written again by its runner.)
    Aborted,
    /// User code run by the store (a table projection's `setup`, `write` or `clear`, or a
    /// [`SqliteStore::query`](crate::SqliteStore::query) closure) panicked; its writes were
    /// rolled back and the store goes on.
    Panicked,
    /// Any other failure SQLite reported, such as a constraint a hand-made row breaks.
    Other,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DiskFull => "disk full or size limit reached",
            Self::ReadOnly => "read-only",
            Self::Busy => "busy",
            Self::Io => "I/O error",
            Self::Stopped => "store stopped",
            Self::Aborted => "rolled back with another write",
            Self::Panicked => "user code panicked",
            Self::Other => "SQLite error",
        })
    }
}

/// A failure of SQLite on one store file: what [`StoreError::Backend`] holds for an
/// [`SqliteStore`](crate::SqliteStore). Downcast it to act on its [`kind`](Self::kind):
///
/// ```
/// # use es_core::StoreError;
/// use es_sqlite::{ErrorKind, SqliteError};
///
/// fn is_disk_full(error: &StoreError) -> bool {
///     match error {
///         StoreError::Backend(source) => source
///             .downcast_ref::<SqliteError>()
///             .is_some_and(|e| e.kind() == ErrorKind::DiskFull),
///         _ => false,
///     }
/// }
/// # let _ = is_disk_full;
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}: {operation}: {kind}: {message}", path.display())]
pub struct SqliteError {
    kind: ErrorKind,
    path: PathBuf,
    operation: &'static str,
    code: Option<i32>,
    message: String,
}

impl SqliteError {
    /// What kind of failure this is.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The store's file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the store was doing, such as `appending` or `reading the log`.
    #[must_use]
    pub fn operation(&self) -> &'static str {
        self.operation
    }

    /// SQLite's extended result code, when SQLite reported the failure.
    #[must_use]
    pub fn code(&self) -> Option<i32> {
        self.code
    }

    /// A failure that is not SQLite's.
    pub(crate) fn new(
        kind: ErrorKind,
        path: &Path,
        operation: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            path: path.to_owned(),
            operation,
            code: None,
            message: message.into(),
        }
    }
}

/// How the store reports a driver error: damage to the file, or a backend failure.
enum Class {
    Corrupt,
    Backend(ErrorKind),
}

fn classify(error: &rusqlite::Error) -> (Class, Option<i32>) {
    match error {
        rusqlite::Error::SqliteFailure(failure, _) => {
            let class = match failure.code {
                ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => Class::Corrupt,
                ErrorCode::DiskFull => Class::Backend(ErrorKind::DiskFull),
                ErrorCode::ReadOnly => Class::Backend(ErrorKind::ReadOnly),
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                    Class::Backend(ErrorKind::Busy)
                }
                ErrorCode::SystemIoFailure | ErrorCode::CannotOpen => Class::Backend(ErrorKind::Io),
                _ => Class::Backend(ErrorKind::Other),
            };
            (class, Some(failure.extended_code))
        }
        _ => (Class::Backend(ErrorKind::Other), None),
    }
}

/// The [`SqliteError`] of a driver error that is not damage to the file.
pub(crate) fn sqlite_error(
    path: &Path,
    operation: &'static str,
    error: &rusqlite::Error,
) -> SqliteError {
    let (class, code) = classify(error);
    let kind = match class {
        Class::Corrupt => ErrorKind::Other,
        Class::Backend(kind) => kind,
    };
    SqliteError {
        kind,
        path: path.to_owned(),
        operation,
        code,
        message: error.to_string(),
    }
}

/// The store error of a driver error met while doing `operation` on the file at `path`:
/// [`StoreError::Corrupt`] naming the file for a damaged one, [`StoreError::Backend`] holding
/// a [`SqliteError`] otherwise.
pub(crate) fn store_error(
    path: &Path,
    operation: &'static str,
    error: &rusqlite::Error,
) -> StoreError {
    match classify(error).0 {
        Class::Corrupt => StoreError::Corrupt {
            location: format!("{}, {operation}", path.display()),
            problem: error.to_string(),
        },
        Class::Backend(_) => StoreError::Backend(Box::new(sqlite_error(path, operation, error))),
    }
}

/// Why [`SqliteStore::open`](crate::SqliteStore::open) refused a file. In every case the file
/// was left as it was found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file exists but is not an SQLite database (SQLite's `SQLITE_NOTADB`).
    #[error("{}: not an SQLite database: {problem}", path.display())]
    NotADatabase {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        problem: String,
    },
    /// The file is an SQLite database, but another program's: it holds tables and does not
    /// carry this store's application id. The store does not write into it.
    #[error("{}: an SQLite database that is not an es-sqlite store: {found}", path.display())]
    NotAnEventStore {
        /// The file.
        path: PathBuf,
        /// What was found instead, such as `application id 0 and 3 tables`.
        found: String,
    },
    /// The file was migrated by a newer release of es-sqlite: its schema version is above
    /// the highest this release knows. Upgrade es-sqlite to open it.
    #[error(
        "{}: schema version {found} is newer than this es-sqlite knows (up to {known}); \
         upgrade es-sqlite to open it", path.display()
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// The file's highest schema version.
        found: i64,
        /// The highest schema version this release knows.
        known: i64,
    },
    /// The file (or its directory, where SQLite keeps the `-wal` and `-shm` files) cannot be
    /// written, and the store was not opened with
    /// [`SqliteOptions::read_only`](crate::SqliteOptions::read_only); or a read-only open
    /// found a file that does not exist yet or is not migrated to this release's schema.
    #[error("{}: read-only: {problem}", path.display())]
    ReadOnly {
        /// The file.
        path: PathBuf,
        /// What could not be done.
        problem: String,
    },
    /// SQLite found the file damaged (`SQLITE_CORRUPT`) while opening it, or the file holds a
    /// value no append writes where opening reads it (positions below zero, edited by hand).
    #[error("{}: the database file is corrupt: {problem}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What SQLite said, or which value is wrong.
        problem: String,
    },
    /// Any other failure: the file cannot be created, the disk is full, the write lock stayed
    /// busy, an I/O error.
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
}

impl OpenError {
    /// The error of a driver failure while opening the file at `path`.
    pub(crate) fn from_driver(
        path: &Path,
        operation: &'static str,
        error: &rusqlite::Error,
    ) -> Self {
        if let rusqlite::Error::SqliteFailure(failure, _) = error {
            match failure.code {
                ErrorCode::NotADatabase => {
                    return Self::NotADatabase {
                        path: path.to_owned(),
                        problem: error.to_string(),
                    };
                }
                ErrorCode::DatabaseCorrupt => {
                    return Self::Corrupt {
                        path: path.to_owned(),
                        problem: error.to_string(),
                    };
                }
                ErrorCode::ReadOnly => {
                    return Self::ReadOnly {
                        path: path.to_owned(),
                        problem: format!("{operation}: {error}"),
                    };
                }
                _ => {}
            }
        }
        Self::Sqlite(sqlite_error(path, operation, error))
    }
}
