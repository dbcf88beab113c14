//! The user directory as a PostgreSQL table, kept by a
//! [`ProjectionRunner`] into es-postgres's
//! [`PgTables`](es_postgres::PgTables): each batch of events changes the table in the same
//! transaction that moves the directory's checkpoint.
//!
//! It answers the same questions as the in-memory [`UserDirectory`](super::views::UserDirectory),
//! from SQL: the table `user_directory` (in the store's schema) has one row per live user.
//! [`DirectoryChanges`] is the projection: its `On` impls record what each event changes,
//! as plain data (tested like any projection, without a database); its
//! [`PgProjection::setup`] creates the table, and its [`PgProjection::write`] turns the
//! record into SQL. [`DirectoryTable`] asks the table the directory's questions.

use es_core::prelude::*;
use es_postgres::sqlx::{self, PgConnection};
use es_postgres::{PgProjection, PgStore};

use super::views::{Entry, user_id};
use super::{EmailChanged, UserCreated, UserDeleted, UserId, UserRenamed, full_name};

/// One change to the `user_directory` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A user registered: insert its row.
    Register {
        /// The user.
        id: UserId,
        /// The whole name.
        name: String,
        /// The email address.
        email: String,
    },
    /// A user changed its email address.
    ChangeEmail {
        /// The user.
        id: UserId,
        /// The new address.
        email: String,
    },
    /// A user changed its name.
    Rename {
        /// The user.
        id: UserId,
        /// The new whole name.
        name: String,
    },
    /// A user was deleted: remove its row.
    Remove {
        /// The user.
        id: UserId,
    },
}

/// The changes one batch of user events makes to the `user_directory` table, in order.
#[derive(Projection, Default, Debug, Clone, PartialEq)]
#[projection(
    name = "user-directory-table",
    events(UserCreated, EmailChanged, UserRenamed, UserDeleted)
)]
pub struct DirectoryChanges {
    /// The changes, in the order of the events.
    pub changes: Vec<Change>,
}

impl On<UserCreated> for DirectoryChanges {
    fn on(&mut self, event: &UserCreated, meta: &EventMeta) {
        let Some(id) = user_id(meta) else { return };
        self.changes.push(Change::Register {
            id,
            name: full_name(&event.first_name, &event.last_name),
            email: event.email.clone(),
        });
    }
}

impl On<EmailChanged> for DirectoryChanges {
    fn on(&mut self, event: &EmailChanged, meta: &EventMeta) {
        let Some(id) = user_id(meta) else { return };
        self.changes.push(Change::ChangeEmail {
            id,
            email: event.email.clone(),
        });
    }
}

impl On<UserRenamed> for DirectoryChanges {
    fn on(&mut self, event: &UserRenamed, meta: &EventMeta) {
        let Some(id) = user_id(meta) else { return };
        self.changes.push(Change::Rename {
            id,
            name: full_name(&event.first_name, &event.last_name),
        });
    }
}

impl On<UserDeleted> for DirectoryChanges {
    fn on(&mut self, _: &UserDeleted, meta: &EventMeta) {
        if let Some(id) = user_id(meta) {
            self.changes.push(Change::Remove { id });
        }
    }
}

impl PgProjection for DirectoryChanges {
    async fn setup(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS user_directory (\
                 user_id text PRIMARY KEY, \
                 name    text NOT NULL, \
                 email   text NOT NULL)",
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "CREATE INDEX IF NOT EXISTS user_directory_email_idx ON user_directory (email)",
        )
        .execute(tx)
        .await?;
        Ok(())
    }

    async fn write(self, tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        for change in self.changes {
            let query = match change {
                Change::Register { id, name, email } => sqlx::query(
                    "INSERT INTO user_directory (user_id, name, email) VALUES ($1, $2, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET name = excluded.name, email = excluded.email",
                )
                .bind(id.0)
                .bind(name)
                .bind(email),
                Change::ChangeEmail { id, email } => {
                    sqlx::query("UPDATE user_directory SET email = $2 WHERE user_id = $1")
                        .bind(id.0)
                        .bind(email)
                }
                Change::Rename { id, name } => {
                    sqlx::query("UPDATE user_directory SET name = $2 WHERE user_id = $1")
                        .bind(id.0)
                        .bind(name)
                }
                Change::Remove { id } => {
                    sqlx::query("DELETE FROM user_directory WHERE user_id = $1").bind(id.0)
                }
            };
            query.execute(&mut *tx).await?;
        }
        Ok(())
    }

    async fn clear(tx: &mut PgConnection) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM user_directory")
            .execute(tx)
            .await?;
        Ok(())
    }
}

/// Queries on the `user_directory` table of a store's schema.
#[derive(Debug, Clone)]
pub struct DirectoryTable {
    store: PgStore,
    find_by_email: String,
    get: String,
    count: String,
}

impl DirectoryTable {
    /// The queries on `store`'s `user_directory` table, which the directory's runner
    /// creates ([`PgProjection::setup`]) before its first batch.
    #[must_use]
    pub fn new(store: &PgStore) -> Self {
        let schema = store.schema();
        Self {
            store: store.clone(),
            // Byte order, like the in-memory directory's `BTreeSet<UserId>`.
            find_by_email: format!(
                "SELECT user_id FROM {schema}.user_directory WHERE email = $1 \
                 ORDER BY user_id COLLATE \"C\" LIMIT 1"
            ),
            get: format!("SELECT name, email FROM {schema}.user_directory WHERE user_id = $1"),
            count: format!("SELECT count(*) FROM {schema}.user_directory"),
        }
    }

    /// The live user with this email address (the smallest id, if several share it).
    ///
    /// # Errors
    /// The driver's error.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<UserId>, sqlx::Error> {
        let id: Option<String> = sqlx::query_scalar(&self.find_by_email)
            .bind(email)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(id.map(UserId))
    }

    /// The entry of a live user.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn get(&self, id: &UserId) -> Result<Option<Entry>, sqlx::Error> {
        let row: Option<(String, String)> = sqlx::query_as(&self.get)
            .bind(&id.0)
            .fetch_optional(self.store.pool())
            .await?;
        Ok(row.map(|(name, email)| Entry { name, email }))
    }

    /// The number of live users.
    ///
    /// # Errors
    /// The driver's error.
    pub async fn count(&self) -> Result<u64, sqlx::Error> {
        let count: i64 = sqlx::query_scalar(&self.count)
            .fetch_one(self.store.pool())
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
