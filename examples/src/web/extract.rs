//! Extractors whose rejections are JSON [`Problem`]s naming the failing field, like every
//! other error of the service: a JSON body, an id in the path, and the position a read must
//! reflect.

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use es_core::Position;
use es_core::http::Problem;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A JSON request body. A body that is not JSON answers 400; JSON of the wrong shape answers
/// 422 naming the field (`amount`; `.` for the body as a whole, such as an array
/// where an object belongs).
/// The content type is not checked, so `curl -d '{"amount": 5}'` works as it is.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                Problem::new(rejection.status(), "unreadable_body", rejection.body_text())
            })?;
        let mut json = serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(&mut json) {
            Ok(value) => Ok(Self(value)),
            Err(error) => {
                let path = error.path().to_string();
                let inner = error.into_inner();
                if inner.is_data() {
                    let message = inner.to_string();
                    let field = field_of(&path, &message);
                    Err(
                        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_body", &message)
                            .with_field(field, message),
                    )
                } else {
                    let message = format!("the body is not JSON: {inner}");
                    Err(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "malformed_body",
                        message,
                    ))
                }
            }
        }
    }
}

/// The field a JSON error is about: its path, or for a missing field (whose path is its
/// parent's) the field itself, `amount` or `payee.name`.
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(name)) => name.to_owned(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    }
}

/// The one id in the request's path, parsed with `FromStr`; anything else answers 400 with
/// the field `id`.
#[derive(Debug, Clone, Copy)]
pub struct PathId<T>(pub T);

impl<T: FromStr, S: Send + Sync> FromRequestParts<S> for PathId<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let invalid = |message: String| {
            Problem::new(StatusCode::BAD_REQUEST, "invalid_id", &message).with_field("id", message)
        };
        let Path(text) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| invalid(rejection.body_text()))?;
        text.parse()
            .map(Self)
            .map_err(|_| invalid(format!("{text:?} is not a valid id")))
    }
}

/// The position a read must reflect: the query parameter `min_position`, the `position` a
/// write answered with (read-your-writes); [`Position::START`] when absent. A value that is
/// not a number answers 400 with the field `min_position`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MinPosition(pub Position);

#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    min_position: Option<u64>,
}

impl<S: Send + Sync> FromRequestParts<S> for MinPosition {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let Query(params) = Query::<Params>::try_from_uri(&parts.uri).map_err(|rejection| {
            let message = rejection.body_text();
            Problem::new(StatusCode::BAD_REQUEST, "invalid_query", &message)
                .with_field("min_position", message)
        })?;
        Ok(Self(Position(params.min_position.unwrap_or(0))))
    }
}

#[cfg(test)]
mod tests {
    use super::field_of;

    #[test]
    fn a_missing_field_is_named_by_its_own_path() {
        assert_eq!(
            field_of(".", "missing field `amount` at line 1 column 2"),
            "amount"
        );
        assert_eq!(
            field_of("payee", "missing field `name` at line 1 column 9"),
            "payee.name"
        );
        assert_eq!(field_of("amount", "invalid type: string"), "amount");
    }
}
