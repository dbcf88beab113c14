//! The web example over real HTTP: the server on a loopback port and a temporary SQLite file,
//! concurrent clients opening accounts, depositing, withdrawing and transferring. Money is
//! conserved, each client reads its own writes, and refusals answer with their status and a
//! JSON body naming the field.
//!
//! The number of transfers scales with `ES_TEST_SCALE` (see `es_tests::scaled`).
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use es_core::Position;
use es_core::http::Problem;
use es_examples::bank::transfer::{TransferId, TransferStatus};
use es_examples::bank::{AccountId, Cents};
use es_examples::web::{
    self, AccountList, AccountView, AmountRequest, Bank, History, OpenRequest, TransferRequest,
    TransferView, Written,
};
use es_sqlite::{Durability, SqliteOptions, SqliteStore};
use es_tests::{Rng, ScratchFile, scaled};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

#[path = "web/client.rs"]
mod client;
use client::{Answer, Client};

/// Accounts the clients move money between.
const ACCOUNTS: u32 = 20;

/// Clients sending requests at the same time.
const CLIENTS: usize = 16;

/// How long the workflow may take to end every transfer once all are requested.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The server on a loopback port, until dropped.
struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
    store: SqliteStore,
    _file: ScratchFile,
}

impl Server {
    async fn start() -> Self {
        let file = ScratchFile::new("web");
        // `Normal` durability: the file only has to survive this test, not a power cut.
        let options = SqliteOptions::new().with_durability(Durability::Normal);
        let store = SqliteStore::open_with(file.path(), options).await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let bank = Bank::new(store.clone()).with_read_wait(Duration::from_secs(20));
        let served = tokio::spawn(web::serve(bank, listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            served,
            store,
            _file: file,
        }
    }

    /// Stops the server and waits until it has.
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.served).await.unwrap().unwrap();
        self.store.close().await;
    }
}

/// Asserts that `answer` is a problem with `status`, `error`, and exactly `fields`.
fn assert_problem(answer: &Answer, status: u16, error: &str, fields: &[&str]) -> Problem {
    assert_eq!(
        answer.status,
        status,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let problem: Problem = answer.json();
    assert_eq!((problem.status, problem.error.as_str()), (status, error));
    assert_eq!(problem.fields.fields().collect::<Vec<_>>(), fields);
    problem
}

/// Reads account `id` once the read model has reached `at`.
async fn account(client: &mut Client, id: AccountId, at: Position) -> AccountView {
    let answer = client
        .get(&format!("/accounts/{id}?min_position={}", at.0))
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    answer.json()
}

/// Deposits `amount` into `id` and reads the account back: the read shows the deposit.
async fn deposit_and_read(client: &mut Client, id: AccountId, amount: Cents) -> Written<AccountId> {
    let answer = client
        .post(
            &format!("/accounts/{id}/deposits"),
            &AmountRequest { amount },
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let written: Written<AccountId> = answer.json();
    assert_eq!(written.id, id);
    let view = account(client, id, written.position).await;
    assert!(
        view.position >= written.position,
        "read at {:?}, wrote at {:?}",
        view.position,
        written.position
    );
    assert!(
        view.summary.version >= written.version,
        "account {id}: the read shows version {:?}, the deposit wrote {:?}",
        view.summary.version,
        written.version
    );
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_conserve_money_and_read_their_own_writes() {
    let server = Server::start().await;
    let mut client = Client::new(server.addr);
    let deposited = Arc::new(AtomicI64::new(0));

    for n in 1..=ACCOUNTS {
        let id = AccountId(n);
        let open = OpenRequest {
            account: id,
            owner: format!("owner {n}"),
        };
        let answer = client.post("/accounts", &open).await;
        assert_eq!(
            answer.status,
            201,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let amount = 10_000 + Cents::from(n) * 100;
        deposit_and_read(&mut client, id, amount).await;
        deposited.fetch_add(amount, Ordering::Relaxed);
    }

    let transfers = scaled(2_000);
    let started = Instant::now();
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (addr, deposited) = (server.addr, deposited.clone());
            let share = transfers / CLIENTS + usize::from(c < transfers % CLIENTS);
            tokio::spawn(async move { client_run(addr, c as u64 + 1, share, &deposited).await })
        })
        .collect();
    let mut requested = Vec::new();
    for task in tasks {
        requested.extend(task.await.unwrap());
    }
    assert_eq!(requested.len(), transfers);
    let sent = started.elapsed();

    // Every transfer ends; the latest position among their ends shows all the money moved.
    let (mut completed, mut latest) = (0, Position::START);
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    for (id, position) in &requested {
        loop {
            let answer = client
                .get(&format!("/transfers/{id}?min_position={}", position.0))
                .await;
            let view: TransferView = answer.json();
            match view.summary.status {
                TransferStatus::Pending => {
                    assert!(Instant::now() < deadline, "transfer {id} still pending");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                status => {
                    completed += usize::from(status == TransferStatus::Completed);
                    latest = latest.max(view.summary.position);
                    break;
                }
            }
        }
    }
    println!(
        "{transfers} transfers by {CLIENTS} clients sent in {sent:?}, all ended after {:?}; \
         {completed} completed",
        started.elapsed()
    );
    assert!(
        completed > transfers / 2,
        "only {completed} of {transfers} completed"
    );

    // Money is conserved: the balances read one by one add up to what was deposited, less
    // what was withdrawn.
    let mut sum = 0;
    for n in 1..=ACCOUNTS {
        let view = account(&mut client, AccountId(n), latest).await;
        assert!(view.summary.balance >= 0, "account {n} is overdrawn");
        sum += view.summary.balance;
    }
    let expected = deposited.load(Ordering::Relaxed);
    assert_eq!(sum, expected, "the sum of the balances");
    let list: AccountList = client
        .get(&format!("/accounts?min_position={}", latest.0))
        .await
        .json();
    assert_eq!(
        (list.total, list.accounts.len()),
        (expected, ACCOUNTS as usize)
    );

    // An account's history is its stream: its amounts add up to its balance.
    let one = account(&mut client, AccountId(1), latest).await;
    let history: History = client.get("/accounts/1/history").await.json();
    let from_history: Cents = history
        .events
        .iter()
        .map(|entry| match entry.event.as_str() {
            "account.deposited" => entry.data["amount"].as_i64().unwrap(),
            "account.withdrawn" => -entry.data["amount"].as_i64().unwrap(),
            _ => 0,
        })
        .sum();
    assert_eq!(from_history, one.summary.balance);
    assert_eq!(history.events.len() as u64, one.summary.version.0);

    server.stop().await;
}

/// One client's share: `transfers` transfers between random accounts, each read back at once
/// (read-your-writes); every fifth, a deposit read back; every seventh, a withdrawal read
/// back. Returns the transfers requested and their positions.
async fn client_run(
    addr: SocketAddr,
    seed: u64,
    transfers: usize,
    deposited: &AtomicI64,
) -> Vec<(TransferId, Position)> {
    let mut client = Client::new(addr);
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut requested = Vec::with_capacity(transfers);
    let pick = |rng: &mut Rng| AccountId(1 + rng.below(u64::from(ACCOUNTS)) as u32);
    for i in 0..transfers {
        let from = pick(&mut rng);
        let to = loop {
            let to = pick(&mut rng);
            if to != from {
                break to;
            }
        };
        let amount = 1 + rng.below(3_000) as Cents;
        let answer = client
            .post("/transfers", &TransferRequest { from, to, amount })
            .await;
        assert_eq!(
            answer.status,
            202,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let written: Written<TransferId> = answer.json();
        assert_eq!(
            answer.header("location"),
            Some(format!("/transfers/{}", written.id).as_str())
        );
        // Read-your-writes: the transfers read model holds the transfer just requested.
        let answer = client
            .get(&format!(
                "/transfers/{}?min_position={}",
                written.id, written.position.0
            ))
            .await;
        assert_eq!(
            answer.status,
            200,
            "{}",
            String::from_utf8_lossy(&answer.body)
        );
        let view: TransferView = answer.json();
        assert_eq!(
            (
                view.transfer,
                view.summary.from,
                view.summary.to,
                view.summary.amount
            ),
            (written.id, from, to, amount)
        );
        requested.push((written.id, written.position));

        if i % 5 == 0 {
            let amount = 1 + rng.below(300) as Cents;
            deposit_and_read(&mut client, from, amount).await;
            deposited.fetch_add(amount, Ordering::Relaxed);
        }
        if i % 7 == 0 {
            let amount = 1 + rng.below(300) as Cents;
            let answer = client
                .post(
                    &format!("/accounts/{to}/withdrawals"),
                    &AmountRequest { amount },
                )
                .await;
            match answer.status {
                200 => {
                    let written: Written<AccountId> = answer.json();
                    deposited.fetch_sub(amount, Ordering::Relaxed);
                    let view = account(&mut client, to, written.position).await;
                    assert!(view.summary.version >= written.version);
                }
                // The account holds less than asked for: refused, naming the field.
                _ => {
                    assert_problem(&answer, 422, "overdraw", &["amount"]);
                }
            }
        }
    }
    requested
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_answer_with_their_status_and_the_failing_fields() {
    let server = Server::start().await;
    let mut client = Client::new(server.addr);
    let ada = OpenRequest {
        account: AccountId(1),
        owner: "Ada".into(),
    };
    assert_eq!(client.post("/accounts", &ada).await.status, 201);
    deposit_and_read(&mut client, AccountId(1), 500).await;

    let cases: Vec<(Answer, u16, &str, &[&str])> = vec![
        (
            client.post("/accounts", &ada).await,
            409,
            "already_open",
            &["account"],
        ),
        (
            client
                .post("/accounts", &json!({"account": 2, "owner": "  "}))
                .await,
            422,
            "blank_owner",
            &["owner"],
        ),
        (
            client
                .post("/accounts/1/withdrawals", &json!({"amount": -5}))
                .await,
            422,
            "non_positive_amount",
            &["amount"],
        ),
        (
            client
                .post("/accounts/1/withdrawals", &json!({"amount": 501}))
                .await,
            422,
            "overdraw",
            &["amount"],
        ),
        (
            client
                .post("/accounts/2/deposits", &json!({"amount": 5}))
                .await,
            404,
            "not_found",
            &[],
        ),
        (
            client
                .post("/transfers", &json!({"from": 1, "to": 1, "amount": 0}))
                .await,
            422,
            "invalid",
            &["amount", "to"],
        ),
        (
            client
                .post("/accounts/1/deposits", &json!({"amount": "ten"}))
                .await,
            422,
            "invalid_body",
            &["amount"],
        ),
        (
            client.post("/accounts/1/deposits", &json!({})).await,
            422,
            "invalid_body",
            &["amount"],
        ),
        (
            client
                .post_raw("/accounts/1/deposits", "{\"amount\": 1")
                .await,
            400,
            "malformed_body",
            &[],
        ),
        (client.get("/accounts/2").await, 404, "not_found", &[]),
        (
            client.get("/accounts/seven").await,
            400,
            "invalid_id",
            &["id"],
        ),
        (
            client.get("/accounts/1?min_position=soon").await,
            400,
            "invalid_query",
            &["min_position"],
        ),
        (
            client
                .get(&format!("/transfers/{}", TransferId::new()))
                .await,
            404,
            "not_found",
            &[],
        ),
        (client.get("/nowhere").await, 404, "no_route", &[]),
    ];
    for (answer, status, error, fields) in &cases {
        assert_problem(answer, *status, error, fields);
    }

    // None of the refusals moved money.
    let view = account(&mut client, AccountId(1), Position::START).await;
    assert_eq!(view.summary.balance, 500);
    server.stop().await;
}
