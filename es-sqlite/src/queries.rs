//! The SQL text of every statement the store runs, `sql/<name>.sql` in the crate.
//!
//! The event reads select `{event_columns}`, the columns of `sql/event_columns.sql` in the
//! order `values::Decoder` reads them. Statements are prepared once per connection (rusqlite's
//! statement cache), so the text is the cache key.

use std::sync::LazyLock;

/// The columns every event read selects, in the order `values::Decoder` reads them.
const EVENT_COLUMNS: &str = include_str!("../sql/event_columns.sql");

fn with_columns(sql: &str) -> String {
    sql.replace("{event_columns}", EVENT_COLUMNS.trim_end())
}

/// A page of the log after a position.
pub(crate) static READ_ALL: LazyLock<String> =
    LazyLock::new(|| with_columns(include_str!("../sql/read_all.sql")));
/// A page of one stream's events from a version.
pub(crate) static READ_STREAM: LazyLock<String> =
    LazyLock::new(|| with_columns(include_str!("../sql/read_stream.sql")));

/// One event row.
pub(crate) const INSERT_EVENT: &str = include_str!("../sql/insert_event.sql");
/// The append a command id produced on a stream.
pub(crate) const INSERT_COMMAND: &str = include_str!("../sql/insert_command.sql");
/// The append of a stream that carried a command id.
pub(crate) const FIND_COMMAND: &str = include_str!("../sql/find_command.sql");
/// A stream's version (0 for no stream).
pub(crate) const STREAM_VERSION: &str = include_str!("../sql/stream_version.sql");
/// The position of the last event (0 for an empty log).
pub(crate) const LAST_POSITION: &str = include_str!("../sql/last_position.sql");
/// A stream's snapshot.
pub(crate) const LOAD_SNAPSHOT: &str = include_str!("../sql/load_snapshot.sql");
/// Saves a snapshot unless a newer one is stored.
pub(crate) const SAVE_SNAPSHOT: &str = include_str!("../sql/save_snapshot.sql");
/// A projection's checkpoint.
pub(crate) const LOAD_CHECKPOINT: &str = include_str!("../sql/load_checkpoint.sql");
/// Saves a projection's checkpoint.
pub(crate) const SAVE_CHECKPOINT: &str = include_str!("../sql/save_checkpoint.sql");
/// Removes a projection's checkpoint.
pub(crate) const DELETE_CHECKPOINT: &str = include_str!("../sql/delete_checkpoint.sql");
/// A table projection's first batch: creates its checkpoint row, or moves it from 0.
pub(crate) const TABLES_ADVANCE_FROM_START: &str =
    include_str!("../sql/tables_advance_from_start.sql");
/// Moves a table projection's checkpoint from where its batch started.
pub(crate) const TABLES_ADVANCE: &str = include_str!("../sql/tables_advance.sql");
/// Puts a table projection's checkpoint back to the start, before a rebuild.
pub(crate) const TABLES_RESET: &str = include_str!("../sql/tables_reset.sql");
/// Creates the table of applied migrations if missing.
pub(crate) const CREATE_MIGRATIONS: &str = include_str!("../sql/create_migrations.sql");
/// The versions of the applied migrations.
pub(crate) const APPLIED_MIGRATIONS: &str = include_str!("../sql/applied_migrations.sql");
/// Records an applied migration.
pub(crate) const RECORD_MIGRATION: &str = include_str!("../sql/record_migration.sql");
/// How many tables the database holds besides SQLite's own.
pub(crate) const FOREIGN_TABLES: &str = include_str!("../sql/foreign_tables.sql");
