//! Opening a file as a store: its connections, their settings, the checks that refuse a file
//! that is not a store, and the migrations. Runs on a thread of its own (see
//! [`SqliteStore::open_with`](crate::SqliteStore::open_with)), never on an executor thread.
//!
//! The steps, for a read-write store:
//!
//! 1. open (or create) the file and read its header and its tables, writing nothing: a
//!    file SQLite cannot read is [`OpenError::NotADatabase`]; a database with tables and
//!    without this store's application id is [`OpenError::NotAnEventStore`]; one SQLite
//!    could only open read-only is [`OpenError::ReadOnly`];
//! 2. switch the file to WAL mode (`PRAGMA journal_mode = WAL`, kept in the file);
//! 3. migrate, in one immediate transaction (see `migrations`): a file of a newer release is
//!    [`OpenError::NewerSchema`] and is left as it was;
//! 4. open the reader and poller connections, read-only.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::error::{ErrorKind, OpenError, SqliteError};
use crate::migrations::{self, Identity};
use crate::options::SqliteOptions;
use crate::values;

/// The connections of an opened store, and where its log ends.
pub(crate) struct Opened {
    /// The writer's connection; `None` for a read-only store.
    pub(crate) writer: Option<Connection>,
    pub(crate) readers: Vec<Connection>,
    pub(crate) poller: Connection,
    pub(crate) last_position: u64,
}

/// The most a WAL file is kept at after a checkpoint, in bytes (SQLite's
/// `journal_size_limit`): it is reused, not grown without end.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The page cache of each connection, in KiB (SQLite's `cache_size`, negative for KiB).
const CACHE_KIB: i64 = 16 * 1024;

pub(crate) fn open(path: &Path, options: &SqliteOptions) -> Result<Opened, OpenError> {
    if options.read_only {
        return open_read_only(path, options);
    }
    let fail = |operation, error: &rusqlite::Error| OpenError::from_driver(path, operation, error);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail("opening the file", &e))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| fail("setting the busy timeout", &e))?;
    // 1. What the file is, before anything is written to it.
    if let Identity::Foreign {
        application_id,
        tables,
    } = migrations::identify(&conn, path)?
    {
        return Err(migrations::not_a_store(path, application_id, tables));
    }
    if conn
        .is_readonly(rusqlite::DatabaseName::Main)
        .map_err(|e| fail("opening the file", &e))?
    {
        return Err(OpenError::ReadOnly {
            path: path.to_owned(),
            problem: "SQLite could open the file for reading only (permissions, a read-only \
                      mount); open it with SqliteOptions::read_only() to read it"
                .to_owned(),
        });
    }
    // 2. WAL mode.
    set_wal(&conn, path, options.busy_timeout)?;
    configure(&conn, path, options)?;
    // 3. Migrations.
    migrations::migrate(&conn, path)?;
    let last_position = last_position(&conn, path)?;
    // 4. The readers.
    let readers = (0..options.readers)
        .map(|_| read_connection(path, options))
        .collect::<Result<Vec<_>, _>>()?;
    let poller = read_connection(path, options)?;
    Ok(Opened {
        writer: Some(conn),
        readers,
        poller,
        last_position,
    })
}

fn open_read_only(path: &Path, options: &SqliteOptions) -> Result<Opened, OpenError> {
    if !path.exists() {
        return Err(OpenError::ReadOnly {
            path: path.to_owned(),
            problem: "the file does not exist, and a read-only store cannot create it".to_owned(),
        });
    }
    let conn = read_connection(path, options)?;
    match migrations::identify(&conn, path)? {
        Identity::Store => {}
        Identity::Empty => {
            return Err(OpenError::ReadOnly {
                path: path.to_owned(),
                problem: "the file is not a store yet, and a read-only store cannot create one"
                    .to_owned(),
            });
        }
        Identity::Foreign {
            application_id,
            tables,
        } => return Err(migrations::not_a_store(path, application_id, tables)),
    }
    let applied = migrations::applied(&conn, path)?;
    migrations::check_not_newer(path, &applied)?;
    if applied.last() != Some(&migrations::latest()) {
        return Err(OpenError::ReadOnly {
            path: path.to_owned(),
            problem: format!(
                "the file needs migrating to schema version {}, and a read-only store cannot \
                 migrate it; open it read-write once",
                migrations::latest()
            ),
        });
    }
    let last_position = last_position(&conn, path)?;
    let readers = (0..options.readers)
        .map(|_| read_connection(path, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Opened {
        writer: None,
        readers,
        poller: conn,
        last_position,
    })
}

/// Switches the file to WAL mode. SQLite needs a moment alone with the file to do so; another
/// process doing the same at once can make it busy, which is waited out up to the timeout.
fn set_wal(conn: &Connection, path: &Path, busy_timeout: Duration) -> Result<(), OpenError> {
    let deadline = Instant::now() + busy_timeout;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            Ok(mode) => {
                return Err(OpenError::Sqlite(SqliteError::new(
                    ErrorKind::Other,
                    path,
                    "switching to WAL mode",
                    format!(
                        "SQLite kept journal mode {mode:?} (WAL needs shared memory on a local file system)"
                    ),
                )));
            }
            Err(rusqlite::Error::SqliteFailure(failure, _))
                if failure.code == rusqlite::ErrorCode::DatabaseBusy
                    && Instant::now() < deadline =>
            {
                thread::sleep(Duration::from_millis(5));
            }
            Err(error) => {
                return Err(OpenError::from_driver(
                    path,
                    "switching to WAL mode",
                    &error,
                ));
            }
        }
    }
}

/// The writer's settings: durability, the WAL's size, the cache, the size limit.
fn configure(conn: &Connection, path: &Path, options: &SqliteOptions) -> Result<(), OpenError> {
    let fail =
        |error: &rusqlite::Error| OpenError::from_driver(path, "configuring the connection", error);
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {}; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}; \
         PRAGMA cache_size = -{CACHE_KIB};",
        options.durability.pragma()
    ))
    .map_err(|e| fail(&e))?;
    if let Some(bytes) = options.size_limit {
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))
            .map_err(|e| fail(&e))?;
        let pages = (i64::try_from(bytes).unwrap_or(i64::MAX) / page_size.max(1)).max(1);
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(|e| fail(&e))?;
    }
    Ok(())
}

/// A read-only connection for a reader thread or the poller.
fn read_connection(path: &Path, options: &SqliteOptions) -> Result<Connection, OpenError> {
    let fail = |operation, error: &rusqlite::Error| OpenError::from_driver(path, operation, error);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| fail("opening a reader", &e))?;
    conn.busy_timeout(options.busy_timeout)
        .map_err(|e| fail("setting the busy timeout", &e))?;
    conn.execute_batch(&format!("PRAGMA cache_size = -{CACHE_KIB};"))
        .map_err(|e| fail("configuring a reader", &e))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn last_position(conn: &Connection, path: &Path) -> Result<u64, OpenError> {
    values::last_position(conn, path)
        .map_err(|e| OpenError::from_driver(path, "reading the last position", &e))?
        .map_err(|corrupt| OpenError::Corrupt {
            path: path.to_owned(),
            problem: corrupt.to_string(),
        })
}
