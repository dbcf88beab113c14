//! The SQL text of every statement the store runs, `sql/<name>.sql` in the crate, built once
//! per store with its schema name in place.
//!
//! The files name the schema `{schema}`; the event reads select `{event_columns}`, the
//! columns of `sql/event_columns.sql` in the order `values::decode_event` reads them (then,
//! as the read needs them, the metadata and the stream id: see `values::Columns`), and the
//! reads of process managers' instances `{instance_columns}`, those of
//! `sql/instance_columns.sql` in the order `PgStore::instance` (`processes.rs`) reads them.
//! Schema names are plain identifiers (see [`SchemaName`]), so they go into the text
//! unquoted.

use crate::schema::SchemaName;

/// The columns every event read selects first, in the order `values::decode_event` reads
/// them.
const EVENT_COLUMNS: &str = include_str!("../sql/event_columns.sql");
/// The columns every read of process managers' instances selects, in the order
/// `PgStore::instance` reads them.
const INSTANCE_COLUMNS: &str = include_str!("../sql/instance_columns.sql");

/// Every statement the store runs, with its schema name in place.
#[derive(Debug)]
pub(crate) struct Queries {
    /// An append of several events (or none) through the `append` function.
    pub(crate) append: String,
    /// An append of one event through the `append_one` function.
    pub(crate) append_one: String,
    /// The notification after appends, on the channel given as `$1`. Its own tiny
    /// transaction; a notification needs no durability, so it does not wait for a flush (nor
    /// hold PostgreSQL's notify lock that long).
    pub(crate) notify: String,
    /// A page of one stream's events from a version.
    pub(crate) read_stream: String,
    /// The same page as a replay reads it: the columns of `StoredEvent` alone.
    pub(crate) replay_stream: String,
    /// The read bound now, through the `read_bound` function.
    pub(crate) read_bound: String,
    /// A page of the events after a position whose transaction is below a read bound, in
    /// position order.
    pub(crate) read_all_below: String,
    /// Whether an event after a position is deliverable.
    pub(crate) any_after: String,
    /// A stream's version (0 for no stream).
    pub(crate) stream_version: String,
    /// The last position below a read bound: the head of the log.
    pub(crate) inspect_head: String,
    /// A page of streams after an id, each with its last event.
    pub(crate) inspect_streams: String,
    /// Every checkpoint, in name order.
    pub(crate) inspect_checkpoints: String,
    /// What a command id produced on a stream: the append that carried it, or its refusal.
    pub(crate) find_command: String,
    /// Records a command id's refusal, through the `refuse` function.
    pub(crate) refuse: String,
    /// A stream's snapshot.
    pub(crate) load_snapshot: String,
    /// Saves a snapshot unless a newer one is stored.
    pub(crate) save_snapshot: String,
    /// A projection's checkpoint.
    pub(crate) load_checkpoint: String,
    /// Saves a projection's checkpoint.
    pub(crate) save_checkpoint: String,
    /// Removes a projection's checkpoint, those of its partitions and their parked events.
    pub(crate) delete_checkpoint: String,
    /// Keeps a consumer's parked events, replacing those parked again.
    pub(crate) park_events: String,
    /// Forgets a consumer's parked events, by position.
    pub(crate) unpark_events: String,
    /// A consumer's parked events, in position order.
    pub(crate) parked_events: String,
    /// A transaction-scoped advisory lock, `($1, $2)` its two-part key: a lock class of
    /// `migrations.rs` and the schema's key.
    pub(crate) xact_lock: String,
    /// Creates the schema if missing.
    pub(crate) create_schema: String,
    /// Creates the table of applied migrations if missing.
    pub(crate) create_migrations: String,
    /// The versions of the applied migrations.
    pub(crate) applied_migrations: String,
    /// Records an applied migration.
    pub(crate) record_migration: String,
    /// A consumer's first batch (a table projection's, a process manager's): creates its
    /// checkpoint row, or moves it from 0.
    pub(crate) checkpoint_advance_from_start: String,
    /// Moves a consumer's checkpoint from where its batch started.
    pub(crate) checkpoint_advance: String,
    /// Puts a table projection's checkpoint back to the start, and forgets those of its
    /// partitions and their parked events, before a rebuild.
    pub(crate) checkpoint_reset: String,
    /// The store's schema first on the `search_path` of a table projection's transaction.
    pub(crate) tables_search_path: String,
    /// A process manager's instances, by key.
    pub(crate) process_load: String,
    /// A process manager's parked instances.
    pub(crate) process_parked: String,
    /// Inserts new instances (none that exists).
    pub(crate) process_insert: String,
    /// Updates instances at the revisions they were read at.
    pub(crate) process_update: String,
    /// Deletes timers that fired, by id.
    pub(crate) process_fire: String,
    /// Deletes every timer of some instances.
    pub(crate) process_clear_timers: String,
    /// Deletes timers by key and name.
    pub(crate) process_cancel_timers: String,
    /// Sets timers, replacing those of the same key and name.
    pub(crate) process_set_timers: String,
    /// A process manager's due timers, earliest first.
    pub(crate) process_due: String,
    /// When a process manager's earliest timer is due.
    pub(crate) process_next_timer: String,
    /// Deletes a process manager's instances.
    pub(crate) process_reset_instances: String,
    /// Deletes a process manager's timers.
    pub(crate) process_reset_timers: String,
    /// One heartbeat of a partitioned consumer's worker, through the `lease_heartbeat`
    /// function.
    pub(crate) lease_heartbeat: String,
    /// A worker's clean stop, through the `lease_release` function.
    pub(crate) lease_release: String,
    /// Forgets a consumer's leases, through the `lease_forget` function.
    pub(crate) lease_forget: String,
    /// Drops the schema with everything in it (test clean-up).
    #[cfg(all(feature = "testing", unix))]
    pub(crate) drop_schema: String,
}

impl Queries {
    pub(crate) fn new(schema: &SchemaName) -> Self {
        let sql = |text: &str| {
            text.replace("{event_columns}", EVENT_COLUMNS.trim_end())
                .replace("{instance_columns}", INSTANCE_COLUMNS.trim_end())
                .replace("{schema}", schema.as_str())
        };
        Self {
            append: sql(include_str!("../sql/append.sql")),
            append_one: sql(include_str!("../sql/append_one.sql")),
            notify: sql(include_str!("../sql/notify.sql")),
            read_stream: sql(include_str!("../sql/read_stream.sql")),
            replay_stream: sql(include_str!("../sql/replay_stream.sql")),
            read_bound: sql(include_str!("../sql/read_bound.sql")),
            read_all_below: sql(include_str!("../sql/read_all_below.sql")),
            any_after: sql(include_str!("../sql/any_after.sql")),
            stream_version: sql(include_str!("../sql/stream_version.sql")),
            inspect_head: sql(include_str!("../sql/inspect_head.sql")),
            inspect_streams: sql(include_str!("../sql/inspect_streams.sql")),
            inspect_checkpoints: sql(include_str!("../sql/inspect_checkpoints.sql")),
            find_command: sql(include_str!("../sql/find_command.sql")),
            refuse: sql(include_str!("../sql/refuse.sql")),
            load_snapshot: sql(include_str!("../sql/load_snapshot.sql")),
            save_snapshot: sql(include_str!("../sql/save_snapshot.sql")),
            load_checkpoint: sql(include_str!("../sql/load_checkpoint.sql")),
            save_checkpoint: sql(include_str!("../sql/save_checkpoint.sql")),
            delete_checkpoint: sql(include_str!("../sql/delete_checkpoint.sql")),
            park_events: sql(include_str!("../sql/park_events.sql")),
            unpark_events: sql(include_str!("../sql/unpark_events.sql")),
            parked_events: sql(include_str!("../sql/parked_events.sql")),
            xact_lock: sql(include_str!("../sql/xact_lock.sql")),
            create_schema: sql(include_str!("../sql/create_schema.sql")),
            create_migrations: sql(include_str!("../sql/create_migrations.sql")),
            applied_migrations: sql(include_str!("../sql/applied_migrations.sql")),
            record_migration: sql(include_str!("../sql/record_migration.sql")),
            checkpoint_advance_from_start: sql(include_str!(
                "../sql/checkpoint_advance_from_start.sql"
            )),
            checkpoint_advance: sql(include_str!("../sql/checkpoint_advance.sql")),
            checkpoint_reset: sql(include_str!("../sql/checkpoint_reset.sql")),
            tables_search_path: sql(include_str!("../sql/tables_search_path.sql")),
            process_load: sql(include_str!("../sql/process_load.sql")),
            process_parked: sql(include_str!("../sql/process_parked.sql")),
            process_insert: sql(include_str!("../sql/process_insert.sql")),
            process_update: sql(include_str!("../sql/process_update.sql")),
            process_fire: sql(include_str!("../sql/process_fire.sql")),
            process_clear_timers: sql(include_str!("../sql/process_clear_timers.sql")),
            process_cancel_timers: sql(include_str!("../sql/process_cancel_timers.sql")),
            process_set_timers: sql(include_str!("../sql/process_set_timers.sql")),
            process_due: sql(include_str!("../sql/process_due.sql")),
            process_next_timer: sql(include_str!("../sql/process_next_timer.sql")),
            process_reset_instances: sql(include_str!("../sql/process_reset_instances.sql")),
            process_reset_timers: sql(include_str!("../sql/process_reset_timers.sql")),
            lease_heartbeat: sql(include_str!("../sql/lease_heartbeat.sql")),
            lease_release: sql(include_str!("../sql/lease_release.sql")),
            lease_forget: sql(include_str!("../sql/lease_forget.sql")),
            #[cfg(all(feature = "testing", unix))]
            drop_schema: sql(include_str!("../sql/drop_schema.sql")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every placeholder is replaced, and the schema is named where the files say
    /// `{schema}`.
    #[test]
    fn every_statement_is_fully_substituted() {
        let schema = SchemaName::new("billing").expect("a valid schema name");
        let queries = Queries::new(&schema);
        let text = format!("{queries:?}");
        assert!(!text.contains("{schema}"), "{text}");
        assert!(!text.contains("{event_columns}"), "{text}");
        assert!(!text.contains("{instance_columns}"), "{text}");
        assert!(queries.read_bound.contains("billing.read_bound()"));
        assert!(queries.read_all_below.contains("FROM billing.events"));
        assert!(
            queries
                .read_stream
                .contains("recorded_at, event_id, metadata::text\n")
        );
        assert!(queries.replay_stream.contains("recorded_at\n"));
        assert!(!queries.replay_stream.contains("metadata"));
        assert!(queries.process_parked.contains("SELECT key, state,"));
        assert!(queries.append_one.contains("billing.append_one("));
    }
}
