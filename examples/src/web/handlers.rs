//! The handlers: each write executes one command and answers with its [`Written`] receipt;
//! each read of a read model first waits for the position the request asks for.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use es_core::JsonCodec;
use es_core::prelude::*;
use es_core::process::ProcessStore;

use super::Bank;
use super::api::{
    AccountList, AccountView, AmountRequest, History, HistoryEntry, OpenRequest, TransferRequest,
    TransferView, Written,
};
use super::extract::{JsonBody, MinPosition, PathId};
use crate::bank::transfer::{RequestTransfer, TransferError, TransferId};
use crate::bank::{AccountError, AccountEvent, AccountId, Deposit, OpenAccount, Withdraw};

/// The receipt of an executed command.
fn written<A: Aggregate>(id: A::Id, done: &Executed<A>) -> Written<A::Id> {
    Written {
        id,
        version: done.stream_version,
        // Every command of this service appends, so there is a position; `START` would ask
        // a read to wait for nothing.
        position: done.last_position.unwrap_or(Position::START),
    }
}

/// `POST /accounts` `{"account": 7, "owner": "Ada"}`: 201 with the receipt.
pub(crate) async fn open<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    JsonBody(request): JsonBody<OpenRequest>,
) -> Result<(StatusCode, Json<Written<AccountId>>), ExecuteError<AccountError>> {
    let command = OpenAccount {
        account: request.account,
        owner: request.owner,
    };
    let done = bank.accounts.execute(command).await?;
    Ok((StatusCode::CREATED, Json(written(request.account, &done))))
}

/// `POST /accounts/{id}/deposits` `{"amount": 500}`.
pub(crate) async fn deposit<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    PathId(account): PathId<AccountId>,
    JsonBody(request): JsonBody<AmountRequest>,
) -> Result<Json<Written<AccountId>>, ExecuteError<AccountError>> {
    let amount = request.amount;
    let done = bank.accounts.execute(Deposit { account, amount }).await?;
    Ok(Json(written(account, &done)))
}

/// `POST /accounts/{id}/withdrawals` `{"amount": 500}`.
pub(crate) async fn withdraw<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    PathId(account): PathId<AccountId>,
    JsonBody(request): JsonBody<AmountRequest>,
) -> Result<Json<Written<AccountId>>, ExecuteError<AccountError>> {
    let amount = request.amount;
    let done = bank.accounts.execute(Withdraw { account, amount }).await?;
    Ok(Json(written(account, &done)))
}

/// `POST /transfers` `{"from": 1, "to": 2, "amount": 500}`: 202 with the receipt and the
/// transfer's address; the workflow moves the money afterwards.
pub(crate) async fn transfer<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    JsonBody(request): JsonBody<TransferRequest>,
) -> Result<Response, ExecuteError<TransferError>> {
    let transfer = TransferId::new();
    let command = RequestTransfer {
        transfer,
        from: request.from,
        to: request.to,
        amount: request.amount,
    };
    let done = bank.transfers.execute(command).await?;
    let location = [(LOCATION, format!("/transfers/{transfer}"))];
    Ok((
        StatusCode::ACCEPTED,
        location,
        Json(written(transfer, &done)),
    )
        .into_response())
}

/// `GET /accounts/{id}?min_position=N`: the account as the `accounts` read model has it,
/// once it has reached position `N`.
pub(crate) async fn account<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    PathId(account): PathId<AccountId>,
    MinPosition(at): MinPosition,
) -> Result<Json<AccountView>, Response> {
    let view = &bank.account_view;
    view.wait_for(at, bank.read_wait)
        .await
        .map_err(IntoResponse::into_response)?;
    // The position first: the state read next holds at least everything up to it.
    let position = view.position();
    let summary = view.read().accounts.get(&account).cloned();
    let summary = summary.ok_or_else(|| AccountError::NotFound.into_response())?;
    Ok(Json(AccountView {
        account,
        summary,
        position,
    }))
}

/// `GET /accounts?min_position=N`: every account and the total they hold.
pub(crate) async fn accounts<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    MinPosition(at): MinPosition,
) -> Result<Json<AccountList>, ProjectionError> {
    let view = &bank.account_view;
    view.wait_for(at, bank.read_wait).await?;
    let position = view.position();
    let state = view.read();
    Ok(Json(AccountList {
        accounts: state
            .accounts
            .iter()
            .map(|(id, summary)| AccountView {
                account: *id,
                summary: summary.clone(),
                position,
            })
            .collect(),
        total: state.total(),
        position,
    }))
}

/// `GET /transfers/{id}?min_position=N`: the transfer as the `transfers` read model has it.
pub(crate) async fn transfer_status<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    PathId(transfer): PathId<TransferId>,
    MinPosition(at): MinPosition,
) -> Result<Json<TransferView>, Response> {
    let view = &bank.transfer_view;
    view.wait_for(at, bank.read_wait)
        .await
        .map_err(IntoResponse::into_response)?;
    let summary = view.read().transfers.get(&transfer).cloned();
    let summary = summary.ok_or_else(|| TransferError::NotFound.into_response())?;
    Ok(Json(TransferView { transfer, summary }))
}

/// `GET /accounts/{id}/history`: the account's events, read from its stream; always up to
/// date, so it takes no `min_position`.
pub(crate) async fn history<S: ProcessStore>(
    State(bank): State<Bank<S>>,
    PathId(account): PathId<AccountId>,
) -> Result<Json<History>, Response> {
    let stream = bank
        .accounts
        .stream_id(&account)
        .map_err(|error| StoreError::from(error).into_response())?;
    let stored = bank
        .store
        .read_stream(&stream, Version(1), usize::MAX)
        .await
        .map_err(IntoResponse::into_response)?;
    if stored.is_empty() {
        return Err(AccountError::NotFound.into_response());
    }
    let mut events = Vec::with_capacity(stored.len());
    for event in &stored {
        let decoded = AccountEvent::decode(&JsonCodec, event)
            .map_err(|error| LoadError::from(error).into_response())?;
        events.push(HistoryEntry {
            version: event.stream_version,
            position: event.position,
            event: event.name.to_string(),
            data: data(&decoded),
        });
    }
    Ok(Json(History { account, events }))
}

/// An account event as JSON: its fields.
fn data(event: &AccountEvent) -> serde_json::Value {
    let fields = match event {
        AccountEvent::AccountOpened(e) => serde_json::to_value(e),
        AccountEvent::MoneyDeposited(e) => serde_json::to_value(e),
        AccountEvent::MoneyWithdrawn(e) => serde_json::to_value(e),
        AccountEvent::AccountFrozen(e) => serde_json::to_value(e),
        AccountEvent::AccountUnfrozen(e) => serde_json::to_value(e),
        AccountEvent::AccountClosed(e) => serde_json::to_value(e),
    };
    // Plain structs of strings and numbers always serialize.
    fields.unwrap_or(serde_json::Value::Null)
}

/// A request for a path the service does not have.
pub(crate) async fn not_found() -> es_core::http::Problem {
    es_core::http::Problem::new(StatusCode::NOT_FOUND, "no_route", "no such path")
}
