//! `SqliteStore` keeps the store contract: every check of `es_core::testing::contract`, on a
//! single-threaded and on a multi-threaded runtime, each check on a fresh file, with the
//! default (durable) settings.

mod support;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use es_core::testing::contract::{self, ContractReport};
use es_sqlite::{Durability, SqliteOptions, SqliteStore};
use support::Scratch;

/// Fresh stores for the checks, each on a file of its own in one scratch directory, opened
/// with the same options and closed by [`close`](Self::close).
struct FreshFiles {
    scratch: Scratch,
    options: SqliteOptions,
    next: AtomicU32,
    opened: Mutex<Vec<SqliteStore>>,
}

impl FreshFiles {
    fn new(what: &str, options: SqliteOptions) -> Self {
        Self {
            scratch: Scratch::new(what),
            options,
            next: AtomicU32::new(1),
            opened: Mutex::new(Vec::new()),
        }
    }

    /// A store on a new file.
    async fn open(&self) -> SqliteStore {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let path = self.scratch.path(&format!("check-{n}.db"));
        let store = SqliteStore::open_with(path, self.options.clone())
            .await
            .expect("a fresh store");
        self.opened
            .lock()
            .expect("not poisoned")
            .push(store.clone());
        store
    }

    /// Closes every store opened.
    async fn close(self) {
        for store in self.opened.into_inner().expect("not poisoned") {
            store.close().await;
        }
    }
}

async fn run_contract(what: &str, options: SqliteOptions) -> ContractReport {
    let files = FreshFiles::new(what, options);
    let report = contract::all(|| files.open()).await;
    files.close().await;
    report
}

#[tokio::test]
async fn sqlite_store_keeps_the_store_contract() {
    let report = run_contract("contract", SqliteOptions::new()).await;
    println!("SqliteStore: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 28, "every check ran: {report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_keeps_the_store_contract_on_a_multi_threaded_runtime() {
    let report = run_contract("contract-mt", SqliteOptions::new()).await;
    report.assert_passed();
}

/// The faster, less durable setting keeps the same contract: it changes what a power loss
/// can take, not what the store does.
#[tokio::test]
async fn sqlite_store_with_normal_durability_keeps_the_store_contract() {
    let options = SqliteOptions::new().with_durability(Durability::Normal);
    let report = run_contract("contract-normal", options).await;
    report.assert_passed();
}

#[tokio::test]
async fn sqlite_store_keeps_the_checkpoint_store_contract() {
    let files = FreshFiles::new("contract-checkpoints", SqliteOptions::new());
    let report = contract::checkpoint_store(|| files.open()).await;
    files.close().await;
    println!("SqliteStore checkpoints: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 2, "every check ran: {report}");
}

#[tokio::test]
async fn sqlite_store_keeps_the_process_store_contract() {
    let files = FreshFiles::new("contract-processes", SqliteOptions::new());
    let report = contract::process_store(|| files.open()).await;
    files.close().await;
    println!("SqliteStore processes: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn sqlite_store_keeps_the_lease_store_contract() {
    let files = FreshFiles::new("contract-leases", SqliteOptions::new());
    let report = contract::lease_store(|| files.open()).await;
    files.close().await;
    println!("SqliteStore leases: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 3, "every check ran: {report}");
}

#[tokio::test]
async fn sqlite_store_keeps_the_inspect_contract() {
    let files = FreshFiles::new("contract-inspect", SqliteOptions::new());
    let report = contract::inspect(|| files.open()).await;
    files.close().await;
    println!("SqliteStore inspect: {report}");
    report.assert_passed();
    assert_eq!(report.checks(), 4, "every check ran: {report}");
}
