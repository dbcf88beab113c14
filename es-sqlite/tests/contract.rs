//! `SqliteStore` keeps the store contract: every check of `es_core::testing::contract`, on a
//! single-threaded and on a multi-threaded runtime, each check on a fresh file, with the
//! default (durable) settings.

mod support;

use std::sync::Mutex;

use es_core::testing::contract::{self, ContractReport};
use es_sqlite::SqliteStore;
use support::Scratch;

async fn run_contract(what: &str) -> ContractReport {
    let scratch = Scratch::new(what);
    let stores = Mutex::new(Vec::new());
    let next = Mutex::new(0u32);
    let report = contract::all(|| async {
        let n = {
            let mut next = next.lock().expect("not poisoned");
            *next += 1;
            *next
        };
        let store = SqliteStore::open(scratch.path(&format!("check-{n}.db")))
            .await
            .expect("a fresh store");
        stores.lock().expect("not poisoned").push(store.clone());
        store
    })
    .await;
    for store in stores.into_inner().expect("not poisoned") {
        store.close().await;
    }
    report
}

#[tokio::test]
async fn sqlite_store_keeps_the_store_contract() {
    let report = run_contract("contract").await;
    println!("SqliteStore: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 27, "every check ran: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_keeps_the_store_contract_on_a_multi_threaded_runtime() {
    let report = run_contract("contract-mt").await;
    report.assert_passed();
}

/// The faster, less durable setting keeps the same contract: it changes what a power loss
/// can take, not what the store does.
#[tokio::test]
async fn sqlite_store_with_normal_durability_keeps_the_store_contract() {
    let scratch = Scratch::new("contract-normal");
    let next = Mutex::new(0u32);
    let options = es_sqlite::SqliteOptions::new().with_durability(es_sqlite::Durability::Normal);
    let report = contract::all(|| async {
        let n = {
            let mut next = next.lock().expect("not poisoned");
            *next += 1;
            *next
        };
        SqliteStore::open_with(scratch.path(&format!("check-{n}.db")), options.clone())
            .await
            .expect("a fresh store")
    })
    .await;
    report.assert_passed();
}

#[tokio::test]
async fn sqlite_store_keeps_the_process_store_contract() {
    let scratch = Scratch::new("contract-processes");
    let stores = Mutex::new(Vec::new());
    let next = Mutex::new(0u32);
    let report = contract::process_store(|| async {
        let n = {
            let mut next = next.lock().expect("not poisoned");
            *next += 1;
            *next
        };
        let store = SqliteStore::open(scratch.path(&format!("process-{n}.db")))
            .await
            .expect("a fresh store");
        stores.lock().expect("not poisoned").push(store.clone());
        store
    })
    .await;
    for store in stores.into_inner().expect("not poisoned") {
        store.close().await;
    }
    println!("SqliteStore processes: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}
