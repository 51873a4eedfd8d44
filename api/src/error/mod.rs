//! API errors as `application/problem+json` (RFC 9457) with a stable `code`.
//! The one place where failures become HTTP answers: 5xx bodies stay generic and
//! the detail goes to the log.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_shared::db::DbError;
use roster_shared::model::FieldError;
use roster_shared::storage::StorageError;
use serde::de::DeserializeOwned;
use serde_json::json;

mod code;
pub use code::ErrorCode;

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub detail: String,
    /// Every problem of a request's fields, as a row outcome lists them.
    pub errors: Vec<FieldError>,
    /// `Retry-After` seconds; every 429 and 503 carries one (this, or [`RETRY_AFTER_SECS`]).
    pub retry_after: Option<u64>,
}

/// Seconds a client is told to wait by a 429 or 503 that names no time of its own.
pub const RETRY_AFTER_SECS: u64 = 5;

impl ApiError {
    /// An answer with `code` and the code's status.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
        }
    }

    /// `invalid_request` with another status than 422: a body or query that
    /// cannot be parsed at all (400), a JSON body not declared as JSON (415).
    pub fn unparsable(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            ..Self::new(ErrorCode::InvalidRequest, detail)
        }
    }

    /// Too many requests of this kind at once (429 `rate_limited`): try again in `seconds`.
    pub fn rate_limited(detail: impl Into<String>, seconds: u64) -> Self {
        Self {
            retry_after: Some(seconds),
            ..Self::new(ErrorCode::RateLimited, detail)
        }
    }

    /// The same answer, listing `errors` (`{"errors": [{field, code, message}]}`).
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "a valid bearer token is required")
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, detail)
    }

    pub fn not_found() -> Self {
        Self::new(ErrorCode::NotFound, "no such resource")
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, detail)
    }

    /// A fault on the server's side: 500 with a generic detail; the error and
    /// each of its causes go to the log.
    pub fn internal(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let error = error.into();
        let mut chain = error.to_string();
        let mut cause = error.source();
        while let Some(e) = cause {
            chain.push_str(": ");
            chain.push_str(&e.to_string());
            cause = e.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::new(
            ErrorCode::Internal,
            "something went wrong on our side; it has been logged",
        )
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "database unavailable");
            return Self::new(
                ErrorCode::Unavailable,
                "the database is unavailable; try again",
            );
        }
        Self::internal(e)
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        tracing::warn!(error = %e, "object store failure");
        Self::new(
            ErrorCode::Unavailable,
            "the object store is unavailable; try again",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("https://roster.dev/problems/{}", self.code.as_str()),
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code.as_str(),
        });
        if !self.errors.is_empty() {
            body["errors"] = json!(self.errors);
        }
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        let busy = matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        if busy || self.retry_after.is_some() {
            let seconds = self.retry_after.unwrap_or(RETRY_AFTER_SECS);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON request body, read by the rules of [`crate::strict`]: a body that is
/// not JSON (400), not declared as JSON (415), or not the expected shape (422)
/// is refused as problem+json with code `invalid_request`, like every other error.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json {
            return Err(ApiError::unparsable(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a body with content type application/json",
            ));
        }
        let body = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::unparsable(rejection.status(), rejection.body_text()))?;
        crate::strict::from_slice(&body)
            .map(Self)
            .map_err(|(syntax, message)| match syntax {
                true => ApiError::unparsable(StatusCode::BAD_REQUEST, message),
                false => ApiError::invalid(message),
            })
    }
}

/// Query parameters. A malformed query string is refused as problem+json
/// (400 `invalid_request`), not axum's plain text.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        crate::strict::check_query(parts.uri.query().unwrap_or_default())
            .map_err(|message| ApiError::unparsable(StatusCode::BAD_REQUEST, message))?;
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|rejection| {
                ApiError::unparsable(StatusCode::BAD_REQUEST, rejection.body_text())
            })
    }
}

/// A path parameter. One that cannot name a resource (`/v1/groups/abc`) names
/// nothing: 404 as problem+json.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|_| ApiError::not_found())
    }
}
