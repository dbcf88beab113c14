//! [`SqliteOptions`]: how a store file is opened, and [`Durability`]: what a successful
//! append survives.

use std::time::Duration;

/// The poll interval of live subscriptions for appends made by other processes, unless set
/// with [`SqliteOptions::with_poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// How long a write waits for another process's write transaction, unless set with
/// [`SqliteOptions::with_busy_timeout`].
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The reader threads of a store, unless set with [`SqliteOptions::with_readers`].
pub const DEFAULT_READERS: usize = 4;

/// The most write requests (appends, snapshot and checkpoint saves, table batches) the writer
/// commits in one transaction.
pub const MAX_GROUP: usize = 512;

/// What a successful append (and every other write) survives.
///
/// Both settings use SQLite's write-ahead log (WAL), and with both a crash of the process
/// (a panic, `SIGKILL`, an out-of-memory kill) loses nothing that was acknowledged and
/// never leaves a partial append: SQLite's transactions are atomic either way. They differ
/// when the *machine* stops (power loss, kernel panic, a virtual machine killed):
///
/// | setting | SQLite | an acknowledged append after a power loss | cost |
/// |---|---|---|---|
/// | [`Full`](Self::Full) (default) | `synchronous = FULL` | kept | one `fsync` of the WAL per commit, shared by the appends of a group commit |
/// | [`Normal`](Self::Normal) | `synchronous = NORMAL` | may be lost: the commits since the last WAL checkpoint (by default, up to about 1,000 pages of writes) may roll back | no `fsync` per commit; one at each checkpoint |
///
/// With `Normal`, the file is never corrupted and never holds part of an append: after a
/// power loss it holds a prefix of the acknowledged appends, in order (positions stay
/// gap-free), and a command acknowledged to a caller may be missing. Choose it for data you
/// can rebuild or lose a few seconds of (a cache, a test environment, a tool's local state),
/// never for records a caller was promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Durability {
    /// Every commit is flushed to stable storage before it is acknowledged.
    #[default]
    Full,
    /// Commits survive a crash of the process but not of the machine; see the table above.
    Normal,
}

impl Durability {
    /// The value of SQLite's `synchronous` pragma.
    pub(crate) fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// How a [`SqliteStore`](crate::SqliteStore) opens its file.
///
/// ```
/// use std::time::Duration;
/// use es_sqlite::{Durability, SqliteOptions};
///
/// let options = SqliteOptions::new()
///     .with_durability(Durability::Full) // the default
///     .with_poll_interval(Duration::from_millis(20));
/// # let _ = options;
/// ```
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub(crate) durability: Durability,
    pub(crate) poll_interval: Duration,
    pub(crate) busy_timeout: Duration,
    pub(crate) readers: usize,
    pub(crate) read_only: bool,
    pub(crate) size_limit: Option<u64>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl SqliteOptions {
    /// The defaults: [`Durability::Full`], a poll interval of [`DEFAULT_POLL_INTERVAL`], a busy
    /// timeout of [`DEFAULT_BUSY_TIMEOUT`], [`DEFAULT_READERS`] reader threads, read-write,
    /// no size limit.
    #[must_use]
    pub fn new() -> Self {
        Self {
            durability: Durability::Full,
            poll_interval: DEFAULT_POLL_INTERVAL,
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            readers: DEFAULT_READERS,
            read_only: false,
            size_limit: None,
        }
    }

    /// What a successful write survives; see [`Durability`].
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// How often a store with live subscribers waiting looks for appends made by *other
    /// processes* on the same file (at least 1 ms): the longest such an append waits before
    /// subscribers here see it. Appends of this store wake its subscribers at once, on
    /// commit. Each look is one `PRAGMA data_version` (no I/O when nothing changed), made by
    /// one thread per store, and only while someone waits.
    #[must_use]
    pub fn with_poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How long a write waits for the file's write lock while another process holds it,
    /// before failing with [`ErrorKind::Busy`](crate::ErrorKind::Busy).
    #[must_use]
    pub fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// How many threads read for the store (at least 1): reads of streams and of the log,
    /// and [`SqliteStore::query`](crate::SqliteStore::query) closures, run on them, each
    /// with a connection of its own, in parallel with the writer.
    #[must_use]
    pub fn with_readers(mut self, readers: usize) -> Self {
        self.readers = readers.max(1);
        self
    }

    /// Opens an existing, migrated store for reading only: every read works, every write
    /// fails with [`ErrorKind::ReadOnly`](crate::ErrorKind::ReadOnly), and the file is never
    /// changed (an inspector's mode). Opening fails with
    /// [`OpenError::ReadOnly`](crate::OpenError::ReadOnly) if the file does not exist or
    /// needs a migration.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Caps the database file at about `bytes` (rounded down to whole pages, at least one):
    /// a write that would grow it beyond fails with
    /// [`ErrorKind::DiskFull`](crate::ErrorKind::DiskFull), exactly as a full disk does, and
    /// writes nothing. The cap applies to this store's connections while it is open (SQLite's
    /// `max_page_count`); it is not stored in the file.
    #[must_use]
    pub fn with_size_limit(mut self, bytes: u64) -> Self {
        self.size_limit = Some(bytes);
        self
    }
}
