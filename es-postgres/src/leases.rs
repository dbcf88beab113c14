//! [`LeaseStore`] on PostgreSQL: the leases by which the workers of a partitioned consumer
//! share its partitions, in every process on the database, in the tables `lease_counts`,
//! `lease_workers` and `leases` (migration 6).
//!
//! Each call is one statement calling a function of migration 6 (`lease_heartbeat`,
//! `lease_release`, `lease_forget`), so one transaction and one round trip. Each function
//! first takes a transaction-scoped advisory lock on the consumer (the lease lock class of
//! `migrations.rs`, the consumer's name hashed with the schema's key), so the heartbeats of
//! one consumer come one after the other, each seeing what the one before committed. The lock
//! is held only while the server runs the function, never while it waits for a client: a
//! worker that stalls or is cut off cannot hold the others up. Lease times are the server's
//! clock (`clock_timestamp()`, read once the lock is granted), so workers on machines whose
//! clocks disagree still agree on when a lease runs out.

use std::time::Duration;

use es_core::StoreError;
use es_core::projection::{Heartbeat, LeaseStore};
use uuid::Uuid;

use crate::PgStore;
use crate::values::{Key, Place, backend, saturating_i64};

/// Partitioned consumers' leases in the database, shared by the workers of every process on
/// it: the tables `lease_counts`, `lease_workers` and `leases` (migration 6), timed by the
/// server's clock. Each call is one call of a function of migration 6, which first takes a
/// transaction lock on the consumer, so a heartbeat is one atomic step and the heartbeats of
/// one consumer come one after the other; the lock is never held while the server waits for
/// a client.
///
/// A worker's rank among the live workers is the order of their ids as PostgreSQL sorts
/// `uuid` values, byte by byte, which is how es-core sorts them.
impl LeaseStore for PgStore {
    async fn heartbeat(
        &self,
        consumer: &str,
        worker: Uuid,
        count: u32,
        lease: Duration,
    ) -> Result<Heartbeat, StoreError> {
        // A count of 0 is taken as 1, as `Partitions` does.
        let count = count.max(1);
        let lease_us = saturating_i64(u64::try_from(lease.as_micros()).unwrap_or(u64::MAX));
        let row = sqlx::query(&self.inner.sql.lease_heartbeat)
            .bind(consumer)
            .bind(worker)
            .bind(i64::from(count))
            .bind(lease_us)
            .fetch_one(&self.inner.pool)
            .await
            .map_err(backend)?;
        let place = Place::new(
            &self.inner.schema,
            "lease_heartbeat()",
            Key::Projection(consumer),
        );
        let kept: i64 = place.get(&row, 0, "o_count")?;
        let kept = u32::try_from(kept).map_err(|_| {
            place.corrupt(
                "o_count",
                format!("{kept} is not a partition count (1 to {})", u32::MAX),
            )
        })?;
        if kept != count {
            return Ok(Heartbeat::OtherCount { count: kept });
        }
        let held: Vec<i64> = place.get(&row, 1, "o_held")?;
        held.into_iter()
            .map(|partition| {
                u32::try_from(partition)
                    .ok()
                    .filter(|index| *index < count)
                    .ok_or_else(|| {
                        place.corrupt(
                            "o_held",
                            format!("{partition} is not a partition of {count}"),
                        )
                    })
            })
            .collect::<Result<Vec<u32>, StoreError>>()
            .map(Heartbeat::Held)
    }

    async fn release(&self, consumer: &str, worker: Uuid) -> Result<(), StoreError> {
        sqlx::query(&self.inner.sql.lease_release)
            .bind(consumer)
            .bind(worker)
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn forget_leases(&self, consumer: &str) -> Result<(), StoreError> {
        sqlx::query(&self.inner.sql.lease_forget)
            .bind(consumer)
            .execute(&self.inner.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}
