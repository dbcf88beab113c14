//! The bank as a web service: the [`bank`](crate::bank) domain behind
//! [axum](https://docs.rs/axum), speaking JSON over HTTP/1.1. Run it with
//! `cargo run --example web` (see `examples/examples/web.rs` for its options).
//!
//! | request | answer |
//! |---|---|
//! | `POST /accounts` `{"account": 1, "owner": "Ada"}` | 201, a [`Written`] receipt |
//! | `POST /accounts/{id}/deposits` `{"amount": 500}` | 200, a receipt |
//! | `POST /accounts/{id}/withdrawals` `{"amount": 200}` | 200, a receipt |
//! | `POST /transfers` `{"from": 1, "to": 2, "amount": 100}` | 202, a receipt, `Location: /transfers/{id}` |
//! | `GET /accounts/{id}?min_position=N` | the account: [`AccountView`] |
//! | `GET /accounts?min_position=N` | every account and the total held: [`AccountList`] |
//! | `GET /transfers/{id}?min_position=N` | the transfer and where it stands: [`TransferView`] |
//! | `GET /accounts/{id}/history` | the account's events from its stream: [`History`] |
//!
//! Writes execute a command through a [`Repository`](es_core::Repository). A transfer is
//! only requested by its `POST`: the transfer workflow
//! ([`bank::process`](crate::bank::process)) withdraws, deposits and completes it a moment
//! later, and `GET /transfers/{id}` shows it `Pending`, then `Completed` or `Cancelled`.
//!
//! # Reading your own writes
//!
//! Reads come from read models kept in memory
//! ([`Accounts`](crate::bank::views::Accounts), [`Transfers`](crate::bank::views::Transfers)),
//! which follow the log a little behind the writes. Every write answers with the `position`
//! of its last event; a read given `?min_position=` that position waits (up to
//! [`Bank::with_read_wait`], 5 s by default) until its read model has processed it, so it
//! shows the write ([`ProjectionRunner::wait_for`](es_core::ProjectionRunner::wait_for)).
//! Each read answers with the `position` it reflects, so a client can pass along the
//! largest it has seen. A transfer's view holds the position of its last event: once it
//! has ended, reading an account at that position shows the money moved.
//!
//! # Errors
//!
//! Every error is a JSON [`Problem`](es_core::http::Problem) with the status repeated in it,
//! a short `error` code, a `message`, and the failing `fields` where there are some:
//!
//! ```text
//! HTTP/1.1 422 Unprocessable Entity
//! {"status":422,"error":"invalid","message":"invalid command RequestTransfer: amount: must be positive",
//!  "fields":[{"field":"amount","message":"must be positive"}]}
//! ```
//!
//! Refused commands answer as the [`refusals`] table says; invalid commands 422, version
//! conflicts 409, an unavailable store 503, a read model that does not reach the position
//! asked for in time 503 `not_caught_up` (es-core's `axum` feature, [`es_core::http`]). A
//! body that is not JSON answers 400, JSON of the wrong shape 422 naming the field.
//!
//! # Tracing
//!
//! Each request is logged at `INFO` under the target `es_examples::web` with its method,
//! path, status and duration; with es-core's `tracing` feature the commands, appends and
//! projection batches have spans of their own (target `es`).

mod api;
mod extract;
mod handlers;
pub mod refusals;
mod state;

use std::future::Future;
use std::io;
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use es_core::process::ProcessStore;
use tokio::net::TcpListener;

pub use api::{
    AccountList, AccountView, AmountRequest, History, HistoryEntry, OpenRequest, TransferRequest,
    TransferView, Written,
};
pub use extract::{JsonBody, MinPosition, PathId};
pub use state::{Bank, DEFAULT_READ_WAIT};

/// The service's routes on `bank`, with each request logged. Serve it with
/// [`axum::serve()`], or with [`serve`], which also runs the read models and the workflow.
pub fn router<S: ProcessStore>(bank: Bank<S>) -> Router {
    Router::new()
        .route(
            "/accounts",
            post(handlers::open::<S>).get(handlers::accounts::<S>),
        )
        .route("/accounts/{id}", get(handlers::account::<S>))
        .route("/accounts/{id}/deposits", post(handlers::deposit::<S>))
        .route("/accounts/{id}/withdrawals", post(handlers::withdraw::<S>))
        .route("/accounts/{id}/history", get(handlers::history::<S>))
        .route("/transfers", post(handlers::transfer::<S>))
        .route("/transfers/{id}", get(handlers::transfer_status::<S>))
        .fallback(handlers::not_found)
        .layer(middleware::from_fn(log_request))
        .with_state(bank)
}

/// Serves `bank` on `listener` until `shutdown` completes, running its read models and
/// transfer workflow meanwhile; then lets the requests in flight finish, and stops the
/// runners.
///
/// # Errors
/// The listener's error.
pub async fn serve<S: ProcessStore>(
    bank: Bank<S>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let runners = tokio::spawn({
        let bank = bank.clone();
        async move {
            bank.run(async {
                let _ = stopped.await;
            })
            .await;
        }
    });
    let served = axum::serve(listener, router(bank))
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(());
    // The runners only end once told to; a panic in one is logged by tokio already.
    let _ = runners.await;
    served
}

/// Logs each request once answered: method, path, status and how long it took.
async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        path,
        status = response.status().as_u16(),
        elapsed = ?started.elapsed(),
        "request"
    );
    response
}
