//! The embedded migrations, `migrations/NNNN_<what>.sql` in the crate, the substitution that
//! fits one to a schema, and [`PgStore::migrate`], which applies them.
//!
//! A migration runs as one simple-protocol batch inside the migration transaction, with
//! `{schema}`, `{lock_class}`, `{command_lock_class}`, `{lease_lock_class}` and `{lock_key}`
//! replaced. A released migration is never edited, not even its comments or its whitespace: databases ran its exact text, and
//! changes are new versions. The test `released_migrations_are_unchanged` pins each released
//! file's length and checksum.

use std::collections::HashSet;

use es_core::StoreError;
use sqlx::Executor as _;
use sqlx::postgres::PgConnection;

use crate::PgStore;
use crate::detached::detached;
use crate::schema::SchemaName;
use crate::values::{Key, Place, backend};

// The classes of the store's advisory locks (the first halves of their two-part keys; the
// second is the schema's key), all of them here, so that no two uses share one.

/// The first half of the advisory lock key that serializes position allocation.
pub(crate) const ALLOCATE_LOCK_CLASS: i32 = 0x6573_0001;
/// The first half of the advisory lock key that serializes migrations.
pub(crate) const MIGRATE_LOCK_CLASS: i32 = 0x6573_0002;
/// The first half of the advisory lock key that serializes the set-up of table projections
/// (`CREATE TABLE IF NOT EXISTS` run at once by two sessions can fail on the catalog's unique
/// keys).
pub(crate) const SETUP_LOCK_CLASS: i32 = 0x6573_0003;
/// The first half of the advisory lock key that serializes a stream's appends and refusals
/// that carry a command id (the second half: the stream id's hash, with the schema's key).
pub(crate) const COMMAND_LOCK_CLASS: i32 = 0x6573_0004;
/// The first half of the advisory lock key that serializes the heartbeats, releases and
/// forgetting of a partitioned consumer's leases (the second half: the consumer's name
/// hashed, with the schema's key).
pub(crate) const LEASE_LOCK_CLASS: i32 = 0x6573_0005;

/// The migrations, in order: `(version, SQL)`.
pub(crate) const MIGRATIONS: &[(i32, &str)] = &[
    // The first schema: events, the position sequence, the allocation and append functions,
    // snapshots and checkpoints.
    (
        1,
        include_str!("../migrations/0001_events_snapshots_checkpoints.sql"),
    ),
    // The append function without `pg_notify`, and cheaper: PostgreSQL serializes the
    // commits of notifying transactions, so appends that notified could not commit in
    // parallel (the store notifies after its appends, from one task per store: see
    // `listen::Notifier`). It also skips the command-id lookup of an append that carries no
    // command id, and inserts a single event without `unnest`; what it does and answers is
    // otherwise migration 1's.
    (
        2,
        include_str!("../migrations/0002_append_without_notify.sql"),
    ),
    // `append_one`, the append of a single event (a command's usual batch), which
    // `PgStore::append` uses for one-event batches: migration 2's `append` with scalar
    // parameters instead of arrays, `allocate(1)` inlined as one statement, and its answer as
    // one `bigint[]` instead of a row of OUT columns (a function returning a row is called
    // through a function scan, which cost about 6% of the append throughput in the
    // benchmark). And `allocate` again, with the allocation lock taken inside the block that
    // releases it on an error (migration 1 took it just before, so an error raised between
    // the two, such as a cancel that arrived as the lock was granted, left the session holding
    // the lock and every other append blocked).
    (
        3,
        include_str!("../migrations/0003_append_one_and_allocate_lock_fix.sql"),
    ),
    // Remembered refusals: the `refusals` table and the `refuse` function, and the two
    // append functions again, refusing a command id that was refused on the stream. The
    // appends and refusals that carry a command id take a transaction lock on their stream
    // first, so that a command id gets one outcome when two of them race.
    (
        4,
        include_str!("../migrations/0004_remembered_refusals.sql"),
    ),
    // Process managers: the `process_instances` and `process_timers` tables.
    (5, include_str!("../migrations/0005_process_managers.sql")),
    // Partitioned consumers' leases: the `lease_counts`, `lease_workers` and `leases` tables,
    // and the `lease_heartbeat`, `lease_release` and `lease_forget` functions, which take a
    // transaction lock on the consumer first.
    (6, include_str!("../migrations/0006_partition_leases.sql")),
    // Parked events: the `parked_events` table, the events each consumer set aside.
    (7, include_str!("../migrations/0007_parked_events.sql")),
];

/// A migration's SQL with the schema and lock key in place.
pub(crate) fn migration_sql(sql: &str, schema: &SchemaName) -> String {
    sql.replace("{schema}", schema.as_str())
        .replace("{lock_class}", &ALLOCATE_LOCK_CLASS.to_string())
        .replace("{command_lock_class}", &COMMAND_LOCK_CLASS.to_string())
        .replace("{lease_lock_class}", &LEASE_LOCK_CLASS.to_string())
        .replace("{lock_key}", &schema.lock_key().to_string())
}

impl PgStore {
    /// The schema versions this crate's migrations bring a schema to, in order.
    #[must_use]
    pub fn migration_versions() -> Vec<i32> {
        MIGRATIONS.iter().map(|(version, _)| *version).collect()
    }

    /// Creates the schema or brings it up to date: applies the embedded migrations that are
    /// missing, in order, in one transaction under an advisory lock, so it is safe to call
    /// at every start and from several processes at once. Returns the versions this call
    /// applied (empty when the schema was up to date). Like every transaction of the store,
    /// it runs to its end even when the caller stops waiting (see "Migrations" in the
    /// [crate documentation](crate)).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database refuses (for example, the user may not
    /// create the schema), [`StoreError::Corrupt`] when `schema_migrations` holds a version
    /// that is not an `integer`; nothing is applied then.
    pub async fn migrate(&self) -> Result<Vec<i32>, StoreError> {
        let store = self.clone();
        detached(async move {
            // Executor's boxed futures throughout: sqlx's generic `execute(&mut *tx)` futures
            // are not `Send` for every lifetime, which would make this future unspawnable.
            let (sql, schema) = (&store.inner.sql, &store.inner.schema);
            let mut tx = store.inner.pool.begin().await.map_err(backend)?;
            let conn: &mut PgConnection = &mut tx;
            let lock = sqlx::query(&sql.xact_lock)
                .bind(MIGRATE_LOCK_CLASS)
                .bind(schema.lock_key());
            conn.execute(lock).await.map_err(backend)?;
            conn.execute(sql.create_schema.as_str())
                .await
                .map_err(backend)?;
            conn.execute(sql.create_migrations.as_str())
                .await
                .map_err(backend)?;
            let mut applied = HashSet::new();
            let place = Place::new(schema, "schema_migrations", Key::Unknown);
            for row in conn
                .fetch_all(sql.applied_migrations.as_str())
                .await
                .map_err(backend)?
            {
                applied.insert(place.get::<i32>(&row, 0, "version")?);
            }
            let mut done = Vec::new();
            for (version, migration) in MIGRATIONS {
                if applied.contains(version) {
                    continue;
                }
                let migration = migration_sql(migration, schema);
                // No parameters: sent with the simple protocol, several statements at once.
                conn.execute(migration.as_str()).await.map_err(backend)?;
                let record = sqlx::query(&sql.record_migration).bind(version);
                conn.execute(record).await.map_err(backend)?;
                done.push(*version);
            }
            tx.commit().await.map_err(backend)?;
            Ok(done)
        })
        .await
    }
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
    fn migrations_are_in_order_and_fully_substituted() {
        let versions: Vec<i32> = MIGRATIONS.iter().map(|(v, _)| *v).collect();
        let mut sorted = versions.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(versions, sorted);
        let schema = SchemaName::default();
        for (_, sql) in MIGRATIONS {
            let sql = migration_sql(sql, &schema);
            assert!(!sql.contains('{') && !sql.contains('}'), "{sql}");
        }
    }

    /// Released migrations are never edited: each file keeps the length and checksum of the
    /// text that databases ran. A new migration gets a new row here once it is released.
    #[test]
    fn released_migrations_are_unchanged() {
        let released: [(i32, usize, u64); 7] = [
            (1, 8755, 0x38a3_94e1_e61e_4d1f),
            (2, 3009, 0x0491_dcde_84bb_7cdd),
            (3, 6608, 0x0fa7_3a5a_3e3d_9ef2),
            (4, 11015, 0x5ab9_4c3a_dd54_5c28),
            (5, 1899, 0x9e3b_b198_f2d5_6e92),
            (6, 6087, 0x74ae_aab8_cb19_d0c3),
            (7, 839, 0xa3de_c6e2_e1c2_10f4),
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
