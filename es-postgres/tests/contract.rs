//! `PgStore` keeps the store contract: every check of `es_core::testing::contract`, on a
//! single-threaded and on a multi-threaded runtime, each store on a fresh schema.

// The harness, `es_postgres::testing`, exists on Unix only.
#![cfg(unix)]

use std::sync::Mutex;

use es_core::testing::contract::{self, ContractReport};
use es_postgres::testing;

/// How many tests this binary has, for the skip notice.
const TESTS: usize = 5;

/// Runs the whole suite on fresh schemas, then drops them.
async fn run_contract() -> Option<ContractReport> {
    let database = testing::database_or_skip(TESTS)?;
    let pool = database.pool().await.expect("a pool");
    let stores = Mutex::new(Vec::new());
    let report = contract::all(|| async {
        let store = testing::fresh_store(&pool).await.expect("a fresh store");
        stores.lock().expect("not poisoned").push(store.clone());
        store
    })
    .await;
    for store in stores.into_inner().expect("not poisoned") {
        testing::drop_schema(&store).await.expect("drop schema");
    }
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
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let stores = Mutex::new(Vec::new());
    let report = contract::process_store(|| async {
        let store = testing::fresh_store(&pool).await.expect("a fresh store");
        stores.lock().expect("not poisoned").push(store.clone());
        store
    })
    .await;
    for store in stores.into_inner().expect("not poisoned") {
        testing::drop_schema(&store).await.expect("drop schema");
    }
    println!("PgStore processes: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn pg_store_keeps_the_lease_store_contract() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let stores = Mutex::new(Vec::new());
    let report = contract::lease_store(|| async {
        let store = testing::fresh_store(&pool).await.expect("a fresh store");
        stores.lock().expect("not poisoned").push(store.clone());
        store
    })
    .await;
    for store in stores.into_inner().expect("not poisoned") {
        testing::drop_schema(&store).await.expect("drop schema");
    }
    println!("PgStore leases: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn pg_store_keeps_the_inspect_contract() {
    let Some(database) = testing::database_or_skip(TESTS) else {
        return;
    };
    let pool = database.pool().await.expect("a pool");
    let stores = Mutex::new(Vec::new());
    let report = contract::inspect(|| async {
        let store = testing::fresh_store(&pool).await.expect("a fresh store");
        stores.lock().expect("not poisoned").push(store.clone());
        store
    })
    .await;
    for store in stores.into_inner().expect("not poisoned") {
        testing::drop_schema(&store).await.expect("drop schema");
    }
    println!("PgStore inspect: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 4, "every check ran: {report}");
}
