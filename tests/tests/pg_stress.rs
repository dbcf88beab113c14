//! The race of many writers on one aggregate (`stress.rs`) on PostgreSQL, in the shape
//! issue #9 asks for: 8 tasks x 2,000 commands on one bank account, each task through a
//! repository of its own on a `PgStore` of its own with a connection pool of its own (as
//! separate processes would be), all on one schema. Deposits and withdrawals alternate, so
//! a decision made on a stale balance would overdraw the account.
//!
//! Sizes scale with `ES_TEST_SCALE` (see `es_tests::scaled`); without PostgreSQL binaries
//! and without `DATABASE_URL` the test is skipped with one line saying so.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use es_postgres::sqlx::postgres::PgPoolOptions;
use es_postgres::{PgStore, PgStoreOptions, testing};
use es_tests::scaled;

mod support;
use support::{TASKS, assert_log_is_ordered, writers_race_on_one_account};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_racing_on_one_aggregate_through_their_own_pools_lose_no_update() {
    let Some(database) = testing::database_or_skip(1) else {
        return;
    };
    let setup = database.pool().await.expect("a pool");
    let schema = testing::fresh_store(&setup).await.expect("a fresh store");
    let mut stores = Vec::new();
    for _ in 0..TASKS {
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect(database.url())
            .await
            .expect("a pool of its own");
        let options = PgStoreOptions::new().with_schema(schema.schema().clone());
        stores.push(PgStore::from_pool_with(pool, options));
    }
    let log = writers_race_on_one_account("PgStore", stores, scaled(2_000)).await;
    // Positions may have holes (an append that lost a version race took positions, then
    // rolled back); they increase, and every stream's versions are 1..=N.
    let versions = assert_log_is_ordered(&log);
    assert_eq!(versions.len(), 1, "one stream: the account");
    let taken = log.last().expect("events").position.0;
    println!(
        "PgStore: {taken} positions taken for {} events: {} appends lost a version race at \
         the unique constraint (the others were refused by the expected-version check)",
        log.len(),
        taken - log.len() as u64
    );
    testing::drop_schema(&schema).await.expect("drop schema");
}
