//! The user directory as a table in an SQLite store's file, kept by a
//! [`ProjectionRunner`](es_core::ProjectionRunner) into es-sqlite's
//! [`SqliteTables`](es_sqlite::SqliteTables): each batch of events changes the table in the
//! same transaction that moves the directory's checkpoint.
//!
//! The projection is the same [`DirectoryChanges`] as for PostgreSQL: its `On` impls record
//! what each event changes; its [`SqliteProjection`] impl (here) turns the record into SQLite's
//! SQL, as its `PgProjection` impl does into PostgreSQL's. [`SqliteDirectory`] asks the table
//! the directory's questions.

use es_sqlite::rusqlite::{self, Connection, OptionalExtension as _};
use es_sqlite::{SqliteProjection, SqliteStore};

use super::UserId;
use super::table::{Change, DirectoryChanges};
use super::views::Entry;

impl SqliteProjection for DirectoryChanges {
    fn setup(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS user_directory (
                 user_id TEXT NOT NULL PRIMARY KEY,
                 name    TEXT NOT NULL,
                 email   TEXT NOT NULL
             ) STRICT;
             CREATE INDEX IF NOT EXISTS user_directory_email_idx ON user_directory (email);",
        )
    }

    fn write(self, conn: &Connection) -> rusqlite::Result<()> {
        for change in self.changes {
            match change {
                Change::Register { id, name, email } => conn.execute(
                    "INSERT INTO user_directory (user_id, name, email) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, email = excluded.email",
                    (id.0, name, email),
                ),
                Change::ChangeEmail { id, email } => conn.execute(
                    "UPDATE user_directory SET email = ?2 WHERE user_id = ?1",
                    (id.0, email),
                ),
                Change::Rename { id, name } => conn.execute(
                    "UPDATE user_directory SET name = ?2 WHERE user_id = ?1",
                    (id.0, name),
                ),
                Change::Remove { id } => {
                    conn.execute("DELETE FROM user_directory WHERE user_id = ?1", [id.0])
                }
            }?;
        }
        Ok(())
    }

    fn clear(conn: &Connection) -> rusqlite::Result<()> {
        conn.execute_batch("DELETE FROM user_directory")
    }
}

/// Queries on the `user_directory` table of an SQLite store's file.
#[derive(Debug, Clone)]
pub struct SqliteDirectory {
    store: SqliteStore,
}

impl SqliteDirectory {
    /// The queries on `store`'s `user_directory` table, which the directory's runner creates
    /// ([`SqliteProjection::setup`]) before its first batch.
    #[must_use]
    pub fn new(store: &SqliteStore) -> Self {
        Self {
            store: store.clone(),
        }
    }

    /// The live user with this email address (the smallest id, if several share it).
    ///
    /// # Errors
    /// The store's error.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<UserId>, es_core::StoreError> {
        let email = email.to_owned();
        self.store
            .query(move |conn| {
                conn.query_row(
                    // Byte order, like the in-memory directory's `BTreeSet<UserId>`.
                    "SELECT user_id FROM user_directory WHERE email = ?1 \
                     ORDER BY user_id COLLATE BINARY LIMIT 1",
                    [email],
                    |row| row.get::<_, String>(0),
                )
                .optional()
            })
            .await
            .map(|id| id.map(UserId))
    }

    /// The entry of a live user.
    ///
    /// # Errors
    /// The store's error.
    pub async fn get(&self, id: &UserId) -> Result<Option<Entry>, es_core::StoreError> {
        let id = id.0.clone();
        self.store
            .query(move |conn| {
                conn.query_row(
                    "SELECT name, email FROM user_directory WHERE user_id = ?1",
                    [id],
                    |row| {
                        Ok(Entry {
                            name: row.get(0)?,
                            email: row.get(1)?,
                        })
                    },
                )
                .optional()
            })
            .await
    }

    /// The number of live users.
    ///
    /// # Errors
    /// The store's error.
    pub async fn count(&self) -> Result<u64, es_core::StoreError> {
        let count: i64 = self
            .store
            .query(|conn| {
                conn.query_row("SELECT count(*) FROM user_directory", [], |row| row.get(0))
            })
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
