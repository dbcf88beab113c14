//! The hand-written SQLite baseline: what an application would write with rusqlite and no
//! framework, on a file with es-sqlite's tables and indexes (its migration's SQL, run as is).
//!
//! One connection, in WAL mode with `synchronous = FULL` (as durable as the framework's
//! default), shared by every task behind a mutex: the fastest way plain code has to let many
//! threads write one SQLite file (connections of their own would wait on SQLite's busy
//! handler, which sleeps). Each append or command is one transaction of its own, so one
//! `fsync` each.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

use es_bench::Step;
use es_bench::baseline::{decide, fold_account};
use es_bench::domain::Account;
use es_core::EventId;
use es_sqlite::rusqlite::{self, Connection};
use uuid::Uuid;

use crate::BoxResult;

/// es-sqlite's tables and indexes.
const SCHEMA: &str =
    include_str!("../../../es-sqlite/migrations/0001_events_snapshots_checkpoints.sql");

const STREAM_VERSION: &str =
    "SELECT coalesce(max(stream_version), 0) FROM es_events WHERE stream_id = ?1";
const INSERT: &str = "INSERT INTO es_events (stream_id, stream_version, event_id, name, \
                      schema_version, payload, correlation_id, causation_id, command_id, \
                      headers, recorded_at) \
                      VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6, ?6, ?6, NULL, ?7)";
const INSERT_COMMAND: &str = "INSERT INTO es_commands (stream_id, command_id, stream_version, \
                              first_position, last_position) VALUES (?1, ?2, ?3, ?4, ?4)";
const READ_STREAM: &str =
    "SELECT name, payload FROM es_events WHERE stream_id = ?1 ORDER BY stream_version";
const READ_PAGE: &str = "SELECT position, stream_id, stream_version, event_id, name, \
                         schema_version, payload, correlation_id, causation_id, command_id, \
                         headers, recorded_at FROM es_events WHERE position > ?1 \
                         ORDER BY position LIMIT ?2";

/// A plain connection to a file with es-sqlite's schema.
pub(super) struct Plain {
    conn: Mutex<Connection>,
}

fn now_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl Plain {
    /// Creates the file (which must not exist) and its tables.
    pub(super) fn create(path: &Path) -> BoxResult<Self> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA cache_size = -16384; PRAGMA journal_size_limit = 67108864;",
        )?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing file (a framework's store) for reading.
    pub(super) fn open(path: &Path) -> BoxResult<Self> {
        let conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA cache_size = -16384;")?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends one event after the stream's last version, in a transaction of its own.
    pub(super) fn append_any(&self, stream: &str, name: &str, payload: &[u8]) -> BoxResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let version: i64 = tx
            .prepare_cached(STREAM_VERSION)?
            .query_row([stream], |row| row.get(0))?;
        tx.prepare_cached(INSERT)?.execute((
            stream,
            version + 1,
            EventId::new().0.as_bytes(),
            name,
            payload,
            None::<&[u8]>,
            now_micros(),
        ))?;
        tx.commit()?;
        Ok(())
    }

    /// Runs `step` on `account` by hand, in one transaction: read the stream's rows, fold,
    /// decide, insert the event at the next version with the ids a repository writes (a new
    /// command id, also the causation and correlation id) and its command-id row, commit.
    pub(super) fn execute(&self, account: u64, step: Step) -> BoxResult<()> {
        let stream = format!("account-{account}");
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (state, version) = fold(&tx, &stream)?;
        let event = decide(&state, step)?;
        let command_id = Uuid::now_v7();
        tx.prepare_cached(INSERT)?.execute((
            &stream,
            version + 1,
            EventId::new().0.as_bytes(),
            event.name,
            &event.payload[..],
            Some(command_id.as_bytes()),
            now_micros(),
        ))?;
        let position = tx.last_insert_rowid();
        tx.prepare_cached(INSERT_COMMAND)?.execute((
            &stream,
            command_id.as_bytes(),
            version + 1,
            position,
        ))?;
        tx.commit()?;
        Ok(())
    }

    /// The state of `account` and its version, folded from its rows.
    pub(super) fn load(&self, account: u64) -> BoxResult<(Account, i64)> {
        fold(&self.lock(), &format!("account-{account}"))
    }

    /// Reads every event in position order, `page` rows per `SELECT`, each decoded into plain
    /// owned values; returns how many and the last position.
    pub(super) fn read_all(&self, page: usize) -> BoxResult<(u64, i64)> {
        let conn = self.lock();
        let mut select = conn.prepare_cached(READ_PAGE)?;
        let (mut count, mut after) = (0u64, 0i64);
        loop {
            let mut rows = select.query((after, page as i64))?;
            let mut read = 0;
            while let Some(row) = rows.next()? {
                let event = PlainEvent::decode(row)?;
                after = event.position;
                read += 1;
            }
            if read == 0 {
                return Ok((count, after));
            }
            count += read;
        }
    }

    /// The number of rows and whether versions add up (contiguous from 1 in every stream).
    pub(super) fn check(&self, expected: u64) -> BoxResult<()> {
        let (rows, versions): (i64, i64) = self.lock().query_row(
            "SELECT (SELECT count(*) FROM es_events), (SELECT coalesce(sum(v), 0) FROM \
             (SELECT max(stream_version) AS v FROM es_events GROUP BY stream_id))",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        crate::check(
            &format!("(sqlite) {rows} rows, versions adding up to {versions}"),
            u64::try_from(rows).ok() == Some(expected) && rows == versions,
        )
    }

    /// Copies every row of the framework's file at `from` into this file.
    pub(super) fn copy_from(&self, from: &Path) -> BoxResult<()> {
        let conn = self.lock();
        conn.execute("ATTACH DATABASE ?1 AS source", [from.to_string_lossy()])?;
        conn.execute_batch(
            "INSERT INTO es_events SELECT * FROM source.es_events ORDER BY position; DETACH source;",
        )?;
        Ok(())
    }
}

/// The stream's state and version.
fn fold(conn: &Connection, stream: &str) -> BoxResult<(Account, i64)> {
    let mut select = conn.prepare_cached(READ_STREAM)?;
    let mut rows = select.query([stream])?;
    let mut state = Account::default();
    let mut version = 0;
    while let Some(row) = rows.next()? {
        let name: &str = row.get_ref(0)?.as_str()?;
        fold_account(&mut state, name, row.get_ref(1)?.as_blob()?)?;
        version += 1;
    }
    Ok((state, version))
}

/// A row as the baseline reads it: the columns as owned values.
#[derive(Debug)]
#[allow(dead_code)] // Read to be decoded, as a reader would; only the position is used.
struct PlainEvent {
    position: i64,
    stream_id: String,
    stream_version: i64,
    event_id: Vec<u8>,
    name: String,
    schema_version: i64,
    payload: Vec<u8>,
    correlation_id: Option<Vec<u8>>,
    causation_id: Option<Vec<u8>>,
    command_id: Option<Vec<u8>>,
    headers: Option<String>,
    recorded_at: i64,
}

impl PlainEvent {
    fn decode(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            position: row.get(0)?,
            stream_id: row.get(1)?,
            stream_version: row.get(2)?,
            event_id: row.get(3)?,
            name: row.get(4)?,
            schema_version: row.get(5)?,
            payload: row.get(6)?,
            correlation_id: row.get(7)?,
            causation_id: row.get(8)?,
            command_id: row.get(9)?,
            headers: row.get(10)?,
            recorded_at: row.get(11)?,
        })
    }
}
