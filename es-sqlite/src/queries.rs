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
/// What a command id produced on a stream: its append, or else its refusal.
pub(crate) const FIND_COMMAND: &str = include_str!("../sql/find_command.sql");
/// A stream's version (0 for no stream).
pub(crate) const STREAM_VERSION: &str = include_str!("../sql/stream_version.sql");
/// The position of the last event (0 for an empty log).
pub(crate) const LAST_POSITION: &str = include_str!("../sql/last_position.sql");
/// A page of streams after an id, each with its last event.
pub(crate) const INSPECT_STREAMS: &str = include_str!("../sql/inspect_streams.sql");
/// Every checkpoint, in name order.
pub(crate) const INSPECT_CHECKPOINTS: &str = include_str!("../sql/inspect_checkpoints.sql");
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
/// Forgets the checkpoints of a consumer's partitions.
pub(crate) const DELETE_PARTITION_CHECKPOINTS: &str =
    include_str!("../sql/delete_partition_checkpoints.sql");
/// Parks an event of a consumer, replacing its record.
pub(crate) const PARK_EVENT: &str = include_str!("../sql/park_event.sql");
/// Forgets a consumer's parked event at a position.
pub(crate) const UNPARK_EVENT: &str = include_str!("../sql/unpark_event.sql");
/// A consumer's parked events, in position order.
pub(crate) const PARKED_EVENTS: &str = include_str!("../sql/parked_events.sql");
/// Forgets the parked events of a consumer and of its partitions.
pub(crate) const FORGET_PARKED_EVENTS: &str = include_str!("../sql/forget_parked_events.sql");
/// A table projection's first batch: creates its checkpoint row, or moves it from 0.
pub(crate) const TABLES_ADVANCE_FROM_START: &str =
    include_str!("../sql/tables_advance_from_start.sql");
/// Moves a table projection's checkpoint from where its batch started.
pub(crate) const TABLES_ADVANCE: &str = include_str!("../sql/tables_advance.sql");
/// Puts a table projection's checkpoint back to the start, before a rebuild.
pub(crate) const TABLES_RESET: &str = include_str!("../sql/tables_reset.sql");
/// Records a command id's refusal.
pub(crate) const INSERT_REFUSAL: &str = include_str!("../sql/insert_refusal.sql");
/// A process manager's instance, by key.
pub(crate) const PROCESS_LOAD: &str = include_str!("../sql/process_load.sql");
/// A process manager's parked instances.
pub(crate) const PROCESS_PARKED: &str = include_str!("../sql/process_parked.sql");
/// An instance's revision.
pub(crate) const PROCESS_REVISION: &str = include_str!("../sql/process_revision.sql");
/// A new instance.
pub(crate) const PROCESS_INSERT: &str = include_str!("../sql/process_insert.sql");
/// An instance at its next revision.
pub(crate) const PROCESS_UPDATE: &str = include_str!("../sql/process_update.sql");
/// Whether a timer of this id exists.
pub(crate) const PROCESS_TIMER_EXISTS: &str = include_str!("../sql/process_timer_exists.sql");
/// Deletes a timer that fired, by id.
pub(crate) const PROCESS_FIRE: &str = include_str!("../sql/process_fire.sql");
/// Deletes every timer of an instance.
pub(crate) const PROCESS_CLEAR_TIMERS: &str = include_str!("../sql/process_clear_timers.sql");
/// Deletes a timer by key and name.
pub(crate) const PROCESS_CANCEL_TIMER: &str = include_str!("../sql/process_cancel_timer.sql");
/// Sets a timer, replacing the one of the same key and name.
pub(crate) const PROCESS_SET_TIMER: &str = include_str!("../sql/process_set_timer.sql");
/// A process manager's due timers, earliest first.
pub(crate) const PROCESS_DUE: &str = include_str!("../sql/process_due.sql");
/// When a process manager's earliest timer is due.
pub(crate) const PROCESS_NEXT_TIMER: &str = include_str!("../sql/process_next_timer.sql");
/// Deletes a process manager's instances.
pub(crate) const PROCESS_RESET_INSTANCES: &str = include_str!("../sql/process_reset_instances.sql");
/// Deletes a process manager's timers.
pub(crate) const PROCESS_RESET_TIMERS: &str = include_str!("../sql/process_reset_timers.sql");
/// The partition count a consumer's leases are kept for.
pub(crate) const LEASE_COUNT: &str = include_str!("../sql/lease_count.sql");
/// Keeps a consumer's leases for a partition count.
pub(crate) const LEASE_KEEP_COUNT: &str = include_str!("../sql/lease_keep_count.sql");
/// Marks a worker live until a time.
pub(crate) const LEASE_WORKER_LIVE: &str = include_str!("../sql/lease_worker_live.sql");
/// Forgets a consumer's workers whose time ran out.
pub(crate) const LEASE_WORKERS_EXPIRE: &str = include_str!("../sql/lease_workers_expire.sql");
/// A consumer's live workers, sorted by id.
pub(crate) const LEASE_WORKERS: &str = include_str!("../sql/lease_workers.sql");
/// The partitions a worker holds, in order.
pub(crate) const LEASE_HELD: &str = include_str!("../sql/lease_held.sql");
/// Gives up a worker's lease of one partition.
pub(crate) const LEASE_GIVE_UP: &str = include_str!("../sql/lease_give_up.sql");
/// Renews a worker's lease of a partition, or takes the partition if it is free.
pub(crate) const LEASE_TAKE: &str = include_str!("../sql/lease_take.sql");
/// Gives up every lease of a worker.
pub(crate) const LEASE_RELEASE: &str = include_str!("../sql/lease_release.sql");
/// Marks a worker gone.
pub(crate) const LEASE_WORKER_GONE: &str = include_str!("../sql/lease_worker_gone.sql");
/// Forgets every lease of a consumer.
pub(crate) const LEASE_FORGET_LEASES: &str = include_str!("../sql/lease_forget_leases.sql");
/// Forgets every worker of a consumer.
pub(crate) const LEASE_FORGET_WORKERS: &str = include_str!("../sql/lease_forget_workers.sql");
/// Forgets the partition count a consumer's leases are kept for.
pub(crate) const LEASE_FORGET_COUNT: &str = include_str!("../sql/lease_forget_count.sql");
/// Creates the table of applied migrations if missing.
pub(crate) const CREATE_MIGRATIONS: &str = include_str!("../sql/create_migrations.sql");
/// The versions of the applied migrations.
pub(crate) const APPLIED_MIGRATIONS: &str = include_str!("../sql/applied_migrations.sql");
/// Records an applied migration.
pub(crate) const RECORD_MIGRATION: &str = include_str!("../sql/record_migration.sql");
/// The file's application id and how many tables it holds besides SQLite's own, read in one
/// snapshot.
pub(crate) const IDENTIFY: &str = include_str!("../sql/identify.sql");
