//! [`LeaseStore`] for [`SqliteStore`]: the leases of partitioned consumers in
//! `es_lease_counts`, `es_lease_workers` and `es_leases` (migration 3), so that the workers
//! of a consumer share its partitions across every process that opens the file.
//!
//! A heartbeat is one job of the writer: it runs in a write transaction, which holds the
//! file's write lock, so the heartbeats of every process on the file run one after another
//! and each sees the leases the one before committed. Its answer goes out after the commit:
//! a worker never acts on a lease that was not stored. Expiry times are microseconds since
//! 1970 by the system clock, read inside the transaction; the processes share one machine,
//! and so one clock. A clock set back makes leases last longer by as much; one set forward
//! ends them early, and the worker that held them finds its next batch's checkpoint moved.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use es_core::StoreError;
use es_core::projection::{Heartbeat, LeaseStore, Partitions};
use rusqlite::Connection;
use uuid::Uuid;

use crate::SqliteStore;
use crate::error::store_error;
use crate::queries;
use crate::values::{Key, Place, all_rows, now_micros, optional_row, saturating_i64};

/// The first column of `row` (a count, a partition) as a `u32`, corrupt when out of range.
fn u32_column(place: &Place<'_>, row: &rusqlite::Row<'_>, column: &str) -> Result<u32, StoreError> {
    let value = place.unsigned(row, 0, column)?;
    u32::try_from(value)
        .map_err(|_| place.corrupt(column, format!("{value} is above {}", u32::MAX)))
}

/// The partitions `worker` of `consumer` holds, in order.
fn held(
    conn: &Connection,
    path: &Path,
    consumer: &str,
    worker: Uuid,
) -> Result<Vec<u32>, StoreError> {
    let place = Place::new(path, "es_leases", Key::Consumer(consumer));
    all_rows(
        conn,
        path,
        "reading a worker's leases",
        queries::LEASE_HELD,
        (consumer, worker.as_bytes()),
        |row| u32_column(&place, row, "partition"),
    )
}

/// Runs `sql` with `params` on `conn`, as part of `operation`.
fn execute(
    conn: &Connection,
    path: &Path,
    operation: &'static str,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute(params))
        .map_err(|error| store_error(path, operation, &error))
}

/// One heartbeat of `worker`, in the writer's transaction (see
/// [`LeaseStore::heartbeat`]): the steps of the trait's rule, in order.
fn heartbeat(
    conn: &Connection,
    path: &Path,
    consumer: &str,
    worker: Uuid,
    count: u32,
    lease: Duration,
) -> Result<Heartbeat, StoreError> {
    const OPERATION: &str = "renewing a worker's leases";
    let now = now_micros();
    let until = now.saturating_add(saturating_i64(lease.as_micros()));
    let id = worker.as_bytes();

    // 1. The count the leases are kept for, kept at the first heartbeat.
    let counts = Place::new(path, "es_lease_counts", Key::Consumer(consumer));
    let kept = optional_row(
        conn,
        path,
        OPERATION,
        queries::LEASE_COUNT,
        [consumer],
        |row| u32_column(&counts, row, "count"),
    )?;
    match kept {
        Some(kept) if kept != count => return Ok(Heartbeat::OtherCount { count: kept }),
        Some(_) => {}
        None => {
            execute(
                conn,
                path,
                OPERATION,
                queries::LEASE_KEEP_COUNT,
                (consumer, count),
            )?;
        }
    }
    execute(
        conn,
        path,
        OPERATION,
        queries::LEASE_WORKER_LIVE,
        (consumer, id, until),
    )?;
    execute(
        conn,
        path,
        OPERATION,
        queries::LEASE_WORKERS_EXPIRE,
        (consumer, now),
    )?;

    // 2. The worker's share among the live workers, sorted by id.
    let workers = Place::new(path, "es_lease_workers", Key::Consumer(consumer));
    let live = all_rows(
        conn,
        path,
        OPERATION,
        queries::LEASE_WORKERS,
        [consumer],
        |row| workers.uuid(row, 0, "worker"),
    )?;
    let rank = live.iter().take_while(|other| **other != worker).count();
    let share: BTreeSet<u32> = Partitions::share(rank, live.len(), count).collect();

    // 3. Give up what is outside the share; renew or take what is inside it.
    for partition in held(conn, path, consumer, worker)? {
        if !share.contains(&partition) {
            execute(
                conn,
                path,
                OPERATION,
                queries::LEASE_GIVE_UP,
                (consumer, partition, id),
            )?;
        }
    }
    for partition in share {
        execute(
            conn,
            path,
            OPERATION,
            queries::LEASE_TAKE,
            (consumer, partition, id, until, now),
        )?;
    }

    // 4. What the worker holds now.
    held(conn, path, consumer, worker).map(Heartbeat::Held)
}

/// Leases for the workers of partitioned consumers (see
/// [`ProjectionRunner::run_partitioned`](es_core::ProjectionRunner::run_partitioned)), kept in
/// the store's file: workers in every process that opens it share the partitions.
impl LeaseStore for SqliteStore {
    async fn heartbeat(
        &self,
        consumer: &str,
        worker: Uuid,
        count: u32,
        lease: Duration,
    ) -> Result<Heartbeat, StoreError> {
        let consumer = consumer.to_owned();
        self.inner
            .writer
            .run("renewing a worker's leases", move |tx| {
                heartbeat(tx.conn(), tx.path(), &consumer, worker, count, lease)
            })
            .await
    }

    async fn release(&self, consumer: &str, worker: Uuid) -> Result<(), StoreError> {
        const OPERATION: &str = "releasing a worker's leases";
        let consumer = consumer.to_owned();
        self.inner
            .writer
            .run(OPERATION, move |tx| {
                let (conn, path) = (tx.conn(), tx.path());
                for sql in [queries::LEASE_RELEASE, queries::LEASE_WORKER_GONE] {
                    execute(
                        conn,
                        path,
                        OPERATION,
                        sql,
                        (consumer.as_str(), worker.as_bytes()),
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn forget_leases(&self, consumer: &str) -> Result<(), StoreError> {
        const OPERATION: &str = "forgetting a consumer's leases";
        let consumer = consumer.to_owned();
        self.inner
            .writer
            .run(OPERATION, move |tx| {
                let (conn, path) = (tx.conn(), tx.path());
                for sql in [
                    queries::LEASE_FORGET_LEASES,
                    queries::LEASE_FORGET_WORKERS,
                    queries::LEASE_FORGET_COUNT,
                ] {
                    execute(conn, path, OPERATION, sql, [consumer.as_str()])?;
                }
                Ok(())
            })
            .await
    }
}
