//! How the bank's refusals read over HTTP: a status and a JSON [`Problem`] body, naming the
//! field of the request to change where there is one.
//!
//! | refusal | status | `error` | field |
//! |---|---|---|---|
//! | [`AccountError::BlankOwner`] | 422 | `blank_owner` | `owner` |
//! | [`AccountError::NonPositiveAmount`] | 422 | `non_positive_amount` | `amount` |
//! | [`AccountError::Overdraw`] | 422 | `overdraw` | `amount` |
//! | [`AccountError::AlreadyOpen`] | 409 | `already_open` | `account` |
//! | [`AccountError::Closed`], [`AccountError::Frozen`] | 409 | `closed`, `frozen` | |
//! | [`AccountError::NonZeroBalance`] | 409 | `non_zero_balance` | |
//! | [`AccountError::NotFound`], [`TransferError::NotFound`] | 404 | `not_found` | |
//! | [`TransferError::AlreadyRequested`], [`TransferError::Ended`] | 409 | `already_requested`, `ended` | |

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use es_core::http::Problem;

use crate::bank::AccountError;
use crate::bank::transfer::TransferError;

impl From<&AccountError> for Problem {
    fn from(error: &AccountError) -> Self {
        let (status, code, field) = match error {
            AccountError::BlankOwner => (StatusCode::UNPROCESSABLE_ENTITY, "blank_owner", "owner"),
            AccountError::NonPositiveAmount(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "non_positive_amount",
                "amount",
            ),
            AccountError::Overdraw { .. } => {
                (StatusCode::UNPROCESSABLE_ENTITY, "overdraw", "amount")
            }
            AccountError::AlreadyOpen => (StatusCode::CONFLICT, "already_open", "account"),
            AccountError::NotFound => (StatusCode::NOT_FOUND, "not_found", ""),
            AccountError::Closed => (StatusCode::CONFLICT, "closed", ""),
            AccountError::Frozen => (StatusCode::CONFLICT, "frozen", ""),
            AccountError::NonZeroBalance(_) => (StatusCode::CONFLICT, "non_zero_balance", ""),
        };
        let problem = Problem::new(status, code, error.to_string());
        if field.is_empty() {
            problem
        } else {
            problem.with_field(field, error.to_string())
        }
    }
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}

impl From<&TransferError> for Problem {
    fn from(error: &TransferError) -> Self {
        let (status, code) = match error {
            TransferError::AlreadyRequested => (StatusCode::CONFLICT, "already_requested"),
            TransferError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            TransferError::Ended => (StatusCode::CONFLICT, "ended"),
        };
        Problem::new(status, code, error.to_string())
    }
}

impl IntoResponse for TransferError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}
