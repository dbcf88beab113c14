//! HTTP responses for the runtime's errors, for [axum](https://docs.rs/axum) (feature `axum`).
//!
//! With the feature, [`ExecuteError`], [`LoadError`], [`ProjectionError`] and [`StoreError`]
//! implement axum's `IntoResponse`, so a handler returns them with `?`. Each answers with a
//! status and a JSON [`Problem`] body:
//!
//! | error | status | `error` |
//! |---|---|---|
//! | [`ExecuteError::Invalid`] | 422 Unprocessable Entity, with the failing `fields` | `invalid` |
//! | [`ExecuteError::Domain`] | whatever the domain error's own `IntoResponse` says | |
//! | [`ExecuteError::Conflict`], [`StoreError::Conflict`] | 409 Conflict | `conflict` |
//! | [`StoreError::AlreadyRefused`] | 409 Conflict | `already_refused` |
//! | [`StoreError::LimitExceeded`] | 413 Content Too Large | `limit_exceeded` |
//! | an id that makes no valid stream id | 400 Bad Request | `invalid_id` |
//! | [`StoreError::Backend`] | 503 Service Unavailable | `unavailable` |
//! | [`ProjectionError::Timeout`] (a read model behind the position waited for) | 503 Service Unavailable | `not_caught_up` |
//! | anything else: data that does not decode or encode, a halted projection, corrupt storage | 500 Internal Server Error | `internal` |
//!
//! The domain error is the application's: it implements `IntoResponse` itself, as any other
//! error of an axum application does, and [`Problem`] gives it the same body shape. A 4xx
//! body carries the error's message; a 5xx body carries a fixed message only, since a store's
//! error can name hosts, tables or files. With the `tracing` feature too, each 5xx answer logs
//! the error in full, at the `ERROR` level under the target `es`.
//!
//! ```
//! use axum_core::response::{IntoResponse, Response};
//! use es_core::http::Problem;
//! use es_core::prelude::*;
//! use es_memstore::MemStore;
//! use http::StatusCode;
//! # use serde::{Deserialize, Serialize};
//! # #[derive(Event, Debug, Clone, Serialize, Deserialize)]
//! # #[event(name = "counter.added")]
//! # struct Added { n: u32 }
//! # #[derive(Command, Debug)]
//! # struct Add { #[id] counter: u32, n: u32 }
//!
//! #[derive(Debug, thiserror::Error)]
//! enum CounterError {
//!     #[error("the counter is full")]
//!     Full,
//! }
//!
//! // The domain decides how its refusals read over HTTP.
//! impl IntoResponse for CounterError {
//!     fn into_response(self) -> Response {
//!         let status = match self {
//!             CounterError::Full => StatusCode::CONFLICT,
//!         };
//!         Problem::new(status, "full", self.to_string())
//!             .with_field("n", "would overflow the counter")
//!             .into_response()
//!     }
//! }
//! # #[derive(Aggregate, Default, Debug)]
//! # #[aggregate(name = "counter", id = u32, error = CounterError, events(Added), commands(Add))]
//! # struct Counter { total: u32 }
//! # impl Apply<Added> for Counter { fn apply(&mut self, e: &Added) { self.total += e.n; } }
//! # impl Handle<Add> for Counter {
//! #     fn handle(&self, cmd: &Add) -> Result<Vec<CounterEvent>, CounterError> {
//! #         if self.total + cmd.n > 10 { return Err(CounterError::Full); }
//! #         Ok(vec![Added { n: cmd.n }.into()])
//! #     }
//! # }
//!
//! // An axum handler would take `State(counters)` and `Json(n)`; `?` answers any failure.
//! async fn add(
//!     counters: Repository<Counter, MemStore>,
//!     n: u32,
//! ) -> Result<StatusCode, ExecuteError<CounterError>> {
//!     counters.execute(Add { counter: 1, n }).await?;
//!     Ok(StatusCode::NO_CONTENT)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let counters = Repository::<Counter, _>::new(MemStore::new());
//! assert_eq!(add(counters.clone(), 7).await.into_response().status(), 204);
//! // Refused by the domain: its own status.
//! assert_eq!(add(counters, 7).await.into_response().status(), 409);
//! # });
//! ```

use std::fmt;

use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CONTENT_TYPE, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::projection::ProjectionError;
use crate::repository::{ExecuteError, LoadError};
use crate::store::StoreError;
use crate::validation::ValidationErrors;

/// The JSON body of an error response:
/// `{"status": 422, "error": "invalid", "message": "...", "fields": [{"field": .., "message": ..}]}`.
///
/// `error` is a short code a client can match on (`invalid`, `conflict`, or a domain's own
/// such as `overdraw`); `message` is for people; `fields` lists the failing fields of the
/// request, and is left out when empty. As a response, it has its `status` and the content
/// type `application/json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The HTTP status code, repeated in the body.
    pub status: u16,
    /// A short code for programs: `invalid`, `conflict`, `not_found`, ...
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// The failing fields of the request, if the problem is about some.
    #[serde(default, skip_serializing_if = "ValidationErrors::is_empty")]
    pub fields: ValidationErrors,
}

impl Problem {
    /// A problem answered with `status`, the code `error` and the `message`; no fields.
    pub fn new(status: StatusCode, error: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status: status.as_u16(),
            error: error.into(),
            message: message.into(),
            fields: ValidationErrors::new(),
        }
    }

    /// Adds a failing field of the request and what is wrong with it.
    #[must_use]
    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.fields.add(field, message);
        self
    }

    /// Adds every failing field of `errors`.
    #[must_use]
    pub fn with_fields(mut self, errors: ValidationErrors) -> Self {
        self.fields.merge(errors);
        self
    }

    /// A 500 Internal Server Error with a fixed message: `error` is logged (with the
    /// `tracing` feature), not shown.
    fn internal(error: &dyn fmt::Display) -> Self {
        log_server_error(error);
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle the request",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match serde_json::to_vec(&self) {
            Ok(body) => (
                status,
                [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                body,
            )
                .into_response(),
            // A struct of strings and numbers always serializes; should it not, the status
            // still goes out.
            Err(_) => status.into_response(),
        }
    }
}

/// Logs the error behind a 5xx answer, with the `tracing` feature.
fn log_server_error(error: &dyn fmt::Display) {
    #[cfg(feature = "tracing")]
    tracing::error!(target: "es", error = %error, "answering a request with a server error");
    #[cfg(not(feature = "tracing"))]
    let _ = error;
}

/// The stream id made of a request's id was refused.
fn invalid_id(error: &dyn fmt::Display) -> Problem {
    Problem::new(StatusCode::BAD_REQUEST, "invalid_id", error.to_string())
}

impl From<&StoreError> for Problem {
    fn from(error: &StoreError) -> Self {
        match error {
            StoreError::Conflict { .. } => {
                Self::new(StatusCode::CONFLICT, "conflict", error.to_string())
            }
            StoreError::AlreadyRefused { .. } => {
                Self::new(StatusCode::CONFLICT, "already_refused", error.to_string())
            }
            StoreError::LimitExceeded { .. } => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "limit_exceeded",
                error.to_string(),
            ),
            StoreError::InvalidStreamId(error) => invalid_id(error),
            StoreError::Backend(_) => {
                log_server_error(error);
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the store is unavailable; try again later",
                )
            }
            _ => Self::internal(error),
        }
    }
}

impl IntoResponse for StoreError {
    fn into_response(self) -> Response {
        Problem::from(&self).into_response()
    }
}

impl IntoResponse for LoadError {
    fn into_response(self) -> Response {
        match self {
            Self::Store(error) => error.into_response(),
            Self::InvalidStreamId(error) => invalid_id(&error).into_response(),
            other => Problem::internal(&other).into_response(),
        }
    }
}

/// The domain error answers for itself; see the [module docs](self) for the rest.
impl<E: IntoResponse> IntoResponse for ExecuteError<E> {
    fn into_response(self) -> Response {
        match self {
            Self::Domain(error) => error.into_response(),
            // `E` need not be `Display`: these messages are written out here.
            Self::Invalid { command, errors } => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("invalid command {command}: {errors}"),
            )
            .with_fields(errors)
            .into_response(),
            Self::Conflict {
                stream_id,
                attempts,
                ..
            } => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                format!("stream {stream_id} kept changing: {attempts} attempt(s) met a conflict"),
            )
            .into_response(),
            Self::Store(error) => error.into_response(),
            Self::InvalidStreamId(error) => invalid_id(&error).into_response(),
            Self::Encode {
                stream_id,
                name,
                cause,
            } => {
                let what = format!("cannot encode event {name:?} for stream {stream_id}: {cause}");
                Problem::internal(&what).into_response()
            }
            Self::EncodeRefusal { stream_id, cause } => {
                let what = format!("cannot encode a refusal on stream {stream_id}: {cause}");
                Problem::internal(&what).into_response()
            }
            Self::Decode(error) => Problem::internal(&error).into_response(),
        }
    }
}

/// A read model that did not reach the position waited for in time answers 503, so a client
/// asking for read-your-writes tries again.
impl IntoResponse for ProjectionError {
    fn into_response(self) -> Response {
        match self {
            Self::Timeout { .. } => Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "not_caught_up",
                self.to_string(),
            )
            .into_response(),
            Self::Store { source, .. } => source.into_response(),
            other => Problem::internal(&other).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Duration;

    use http_body_util::BodyExt as _;

    use super::*;
    use crate::envelope::{Position, StreamId, Version};

    /// The status and the body of `response`, read as a [`Problem`].
    async fn answer(response: impl IntoResponse) -> (StatusCode, String, Problem) {
        let response = response.into_response();
        let status = response.status();
        let content_type = response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, serde_json::from_slice(&body).unwrap())
    }

    fn run<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[derive(Debug)]
    struct Refused;

    impl IntoResponse for Refused {
        fn into_response(self) -> Response {
            Problem::new(StatusCode::FORBIDDEN, "refused", "no").into_response()
        }
    }

    #[test]
    fn invalid_commands_name_their_fields_in_json() {
        run(async {
            let mut errors = ValidationErrors::new();
            errors
                .add("amount", "must be positive")
                .add("to", "must differ");
            let error = ExecuteError::<Refused>::Invalid {
                command: "Transfer",
                errors,
            };
            let response = error.into_response();
            let (status, content_type, problem) = answer(response).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
            assert_eq!(content_type, "application/json");
            assert_eq!(problem.status, 422);
            assert_eq!(problem.error, "invalid");
            assert_eq!(
                problem.fields.fields().collect::<Vec<_>>(),
                ["amount", "to"]
            );
            assert!(problem.message.contains("amount: must be positive"));
        });
    }

    #[test]
    fn the_body_serializes_fields_as_a_list_and_omits_them_when_empty() {
        let bare = Problem::new(StatusCode::CONFLICT, "conflict", "busy");
        assert_eq!(
            serde_json::to_string(&bare).unwrap(),
            r#"{"status":409,"error":"conflict","message":"busy"}"#
        );
        let with = bare.with_field("amount", "too large");
        assert_eq!(
            serde_json::to_string(&with).unwrap(),
            r#"{"status":409,"error":"conflict","message":"busy","fields":[{"field":"amount","message":"too large"}]}"#
        );
    }

    #[test]
    fn domain_refusals_answer_for_themselves() {
        run(async {
            let (status, _, problem) = answer(ExecuteError::Domain(Refused)).await;
            assert_eq!(
                (status, problem.error.as_str()),
                (StatusCode::FORBIDDEN, "refused")
            );
        });
    }

    #[test]
    fn conflicts_and_store_failures_have_their_statuses() {
        run(async {
            let stream_id = StreamId::new("account-1").unwrap();
            let conflict = ExecuteError::<Refused>::Conflict {
                stream_id,
                attempts: 3,
                expected: Version(1),
                actual: Version(2),
            };
            let (status, _, problem) = answer(conflict).await;
            assert_eq!(
                (status, problem.error.as_str()),
                (StatusCode::CONFLICT, "conflict")
            );

            let down = StoreError::Backend("connection refused to db.internal:5432".into());
            let (status, _, problem) = answer(ExecuteError::<Refused>::Store(down)).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(problem.error, "unavailable");
            // The backend's own message stays on the server.
            assert!(
                !problem.message.contains("db.internal"),
                "{}",
                problem.message
            );

            let corrupt = StoreError::Corrupt {
                location: "events, position 3".into(),
                problem: "bad json".into(),
            };
            let (status, _, problem) = answer(LoadError::Store(corrupt)).await;
            assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
            assert!(!problem.message.contains("bad json"));
        });
    }

    #[test]
    fn a_read_model_behind_answers_503() {
        run(async {
            let timeout = ProjectionError::Timeout {
                projection: "balances",
                waited_for: Position(9),
                reached: Position(4),
                timeout: Duration::from_secs(1),
            };
            let (status, _, problem) = answer(timeout).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(problem.error, "not_caught_up");
            assert!(
                problem.message.contains("position 9"),
                "{}",
                problem.message
            );
        });
    }
}
