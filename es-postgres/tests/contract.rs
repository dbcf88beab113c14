//! `PgStore` keeps the store contract: every check of `es_core::testing::contract`, on a
//! single-threaded and on a multi-threaded runtime, each store on a fresh schema.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::sync::Mutex;

use es_core::testing::contract::{self, ContractReport};
use es_postgres::{PgStore, testing};
use sqlx::PgPool;

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 5;

/// Fresh stores for a suite's checks, each on a schema of its own, dropped at the end.
struct Schemas {
    pool: PgPool,
    stores: Mutex<Vec<PgStore>>,
}

impl Schemas {
    /// Schemas on the test database, or `None` (with a notice) when there is none.
    async fn new() -> Option<Self> {
        let database = testing::database_or_skip(TESTS)?;
        let pool = database.pool().await.expect("a pool");
        Some(Self {
            pool,
            stores: Mutex::new(Vec::new()),
        })
    }

    /// A store on a fresh schema, remembered to be dropped.
    async fn fresh(&self) -> PgStore {
        let store = testing::fresh_store(&self.pool)
            .await
            .expect("a fresh store");
        self.stores
            .lock()
            .expect("not poisoned")
            .push(store.clone());
        store
    }

    /// Drops every schema handed out.
    async fn drop_all(self) {
        for store in self.stores.into_inner().expect("not poisoned") {
            testing::drop_schema(&store).await.expect("drop schema");
        }
    }
}

/// Runs the whole suite on fresh schemas, then drops them.
async fn run_contract() -> Option<ContractReport> {
    let schemas = Schemas::new().await?;
    let report = contract::all(|| schemas.fresh()).await;
    schemas.drop_all().await;
    Some(report)
}

#[tokio::test]
async fn pg_store_keeps_the_store_contract() {
    let Some(report) = run_contract().await else {
        return;
    };
    println!("PgStore: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 28, "every check ran: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_store_keeps_the_store_contract_on_a_multi_threaded_runtime() {
    let Some(report) = run_contract().await else {
        return;
    };
    report.assert_passed();
}

#[tokio::test]
async fn pg_store_keeps_the_process_store_contract() {
    let Some(schemas) = Schemas::new().await else {
        return;
    };
    let report = contract::process_store(|| schemas.fresh()).await;
    schemas.drop_all().await;
    println!("PgStore processes: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn pg_store_keeps_the_lease_store_contract() {
    let Some(schemas) = Schemas::new().await else {
        return;
    };
    let report = contract::lease_store(|| schemas.fresh()).await;
    schemas.drop_all().await;
    println!("PgStore leases: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn pg_store_keeps_the_inspect_contract() {
    let Some(schemas) = Schemas::new().await else {
        return;
    };
    let report = contract::inspect(|| schemas.fresh()).await;
    schemas.drop_all().await;
    println!("PgStore inspect: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 4, "every check ran: {report}");
}
