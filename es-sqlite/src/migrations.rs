//! The embedded migrations, `migrations/NNNN_<what>.sql` in the crate, and how a file is
//! brought up to date.
//!
//! Migrations run in one `BEGIN IMMEDIATE` transaction, which takes the file's write lock (a
//! second process opening the file at the same moment waits for it, up to the busy timeout,
//! then finds nothing to do). A released migration is never edited, not even its comments:
//! files ran its exact text, and changes are new versions. The test
//! `released_migrations_are_unchanged` pins each released file's length and checksum.

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::Connection;

use crate::error::OpenError;
use crate::queries;
use crate::values::now_micros;

/// The application id this store writes into the database header (`PRAGMA application_id`):
/// `ESSQ`. A file that has tables but not this id is another program's.
pub(crate) const APPLICATION_ID: i32 = 0x4553_5351;

/// The migrations, in order: `(version, SQL)`.
pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    // The first schema: events, command ids, snapshots and checkpoints.
    (
        1,
        include_str!("../migrations/0001_events_snapshots_checkpoints.sql"),
    ),
    // Remembered refusals, and process managers' instances and timers.
    (
        2,
        include_str!("../migrations/0002_refusals_and_processes.sql"),
    ),
    // Leases of partitioned consumers: their counts, live workers and held partitions.
    (3, include_str!("../migrations/0003_leases.sql")),
    // Events consumers parked, with their errors.
    (4, include_str!("../migrations/0004_parked_events.sql")),
];

/// The highest schema version this release knows.
pub(crate) fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |(version, _)| *version)
}

/// What a file is, judged by its header and its tables.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Identity {
    /// An empty database: a new file, or one with no tables.
    Empty,
    /// This store's.
    Store,
    /// Another program's.
    Foreign { application_id: i32, tables: i64 },
}

/// Reads what the file is, without writing.
pub(crate) fn identify(conn: &Connection, path: &Path) -> Result<Identity, OpenError> {
    let (application_id, tables): (i32, i64) = conn
        .query_row(queries::IDENTIFY, [], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(|e| OpenError::from_driver(path, "reading the file's header and tables", &e))?;
    Ok(match (application_id, tables) {
        (APPLICATION_ID, _) => Identity::Store,
        (0, 0) => Identity::Empty,
        (application_id, tables) => Identity::Foreign {
            application_id,
            tables,
        },
    })
}

/// The error for a foreign file.
pub(crate) fn not_a_store(path: &Path, application_id: i32, tables: i64) -> OpenError {
    OpenError::NotAnEventStore {
        path: path.to_owned(),
        found: format!(
            "application id {application_id:#x} (es-sqlite's is {APPLICATION_ID:#x}) and {tables} table(s)"
        ),
    }
}

/// The schema versions applied to a file that [`identify`] found to be a store (which has the
/// migrations table: it is created with the application id, in one transaction).
pub(crate) fn applied(conn: &Connection, path: &Path) -> Result<BTreeSet<i64>, OpenError> {
    let mut statement = conn
        .prepare(queries::APPLIED_MIGRATIONS)
        .map_err(|e| OpenError::from_driver(path, "reading the migrations", &e))?;
    let versions = statement
        .query_map([], |row| row.get::<_, i64>(0))
        .and_then(|rows| rows.collect::<Result<BTreeSet<_>, _>>())
        .map_err(|e| OpenError::from_driver(path, "reading the migrations", &e))?;
    Ok(versions)
}

/// The error when `applied` holds a version above [`latest`].
pub(crate) fn check_not_newer(path: &Path, applied: &BTreeSet<i64>) -> Result<(), OpenError> {
    match applied.last() {
        Some(&found) if found > latest() => Err(OpenError::NewerSchema {
            path: path.to_owned(),
            found,
            known: latest(),
        }),
        _ => Ok(()),
    }
}

/// Creates or migrates the store in `conn`'s file, in one immediate transaction. Returns the
/// versions applied (empty when the file was up to date). Nothing is changed when it fails.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<Vec<i64>, OpenError> {
    let fail = |operation, error: &rusqlite::Error| OpenError::from_driver(path, operation, error);
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| fail("taking the write lock to migrate", &e))?;
    let result = migrate_in_transaction(conn, path);
    match result {
        Ok(done) => {
            conn.execute_batch("COMMIT")
                .map_err(|e| fail("committing the migrations", &e))?;
            Ok(done)
        }
        Err(error) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(error)
        }
    }
}

fn migrate_in_transaction(conn: &Connection, path: &Path) -> Result<Vec<i64>, OpenError> {
    let fail = |operation, error: &rusqlite::Error| OpenError::from_driver(path, operation, error);
    // Judged again under the write lock: another process may have created the store since.
    let applied = match identify(conn, path)? {
        Identity::Foreign {
            application_id,
            tables,
        } => return Err(not_a_store(path, application_id, tables)),
        Identity::Empty => BTreeSet::new(),
        Identity::Store => applied(conn, path)?,
    };
    check_not_newer(path, &applied)?;
    let missing: Vec<&(i64, &str)> = MIGRATIONS
        .iter()
        .filter(|(version, _)| !applied.contains(version))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    conn.execute_batch(queries::CREATE_MIGRATIONS)
        .map_err(|e| fail("creating the migrations table", &e))?;
    conn.execute_batch(&format!("PRAGMA application_id = {APPLICATION_ID}"))
        .map_err(|e| fail("setting the application id", &e))?;
    let mut done = Vec::new();
    for (version, sql) in missing {
        conn.execute_batch(sql)
            .map_err(|e| fail("applying a migration", &e))?;
        conn.execute(queries::RECORD_MIGRATION, (version, now_micros()))
            .map_err(|e| fail("recording a migration", &e))?;
        done.push(*version);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// FNV-1a (64 bits): a checksum that no Rust release changes.
    fn fnv1a(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    }

    #[test]
    fn migrations_are_in_order() {
        let versions: Vec<i64> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        assert_eq!(versions.first(), Some(&1));
    }

    /// Released migrations are never edited: each file keeps the length and checksum of the
    /// text that files ran. A new migration gets a new row here once it is released.
    #[test]
    fn released_migrations_are_unchanged() {
        let released: [(i64, usize, u64); 4] = [
            (1, 2427, 0x0e74_3ea7_dd65_53e8),
            (2, 2308, 0xd261_c41c_bc7d_7773),
            (3, 1465, 0xb52c_5677_97d7_040f),
            (4, 845, 0x3a4f_20d2_b124_5378),
        ];
        for (version, len, checksum) in released {
            let sql = MIGRATIONS
                .iter()
                .find_map(|(v, sql)| (*v == version).then_some(*sql));
            let found = sql.map(|sql| (sql.len(), fnv1a(sql.as_bytes())));
            assert_eq!(
                found,
                Some((len, checksum)),
                "migration {version} was edited after its release"
            );
        }
    }
}
