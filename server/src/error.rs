//! Every failure leaves the server as the core's `Envelope` with a stable `code`, so
//! clients never have to parse a message or guess from a bare status.

use crate::ledger::{is_unavailable, Refusal, SqliteFailure};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use credit_sync::protocol::{headers, Code, Envelope, FieldError};
use serde_json::Value;
use std::borrow::Cow;

/// The `internal_error` message where nothing was written: the write was refused or rolled
/// back before anything committed.
pub const NOTHING_APPLIED: &str = "internal error; nothing was applied";
/// The message where the server cannot know whether the change committed (the database
/// connection died while a COMMIT was in flight, a handler panicked): the only safe advice.
pub const OUTCOME_UNKNOWN: &str =
    "internal error; the outcome is unknown: retry with the same external_reference";
/// The `503` message when SQLite cannot write now and nothing was applied.
const STORAGE_UNAVAILABLE: &str = "the database cannot write right now (busy, full or an I/O error); nothing was applied: retry later with the same external_reference";
/// The `503` message when SQLite failed inside a COMMIT with an I/O error.
const STORAGE_OUTCOME_UNKNOWN: &str = "the database failed while committing (an I/O error); the outcome is unknown: retry later with the same external_reference";

/// A write whose outcome the server cannot know: the connection to the database was lost
/// while a statement that commits (a COMMIT, an autocommit write) was in flight. Carried
/// inside `sqlx::Error::Database`, so the ledger's signatures stay `Result<_, sqlx::Error>`
/// and [`ApiError`] can tell it apart by type.
#[derive(Debug)]
pub struct OutcomeUnknown {
    cause: String,
}

impl std::fmt::Display for OutcomeUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "outcome unknown: {}", self.cause)
    }
}

impl std::error::Error for OutcomeUnknown {}

impl sqlx::error::DatabaseError for OutcomeUnknown {
    fn message(&self) -> &str {
        &self.cause
    }

    /// No SQLSTATE: the server never answered. (`None` also keeps it out of the
    /// serialization-failure retry, which must not run a possibly committed write again.)
    fn code(&self) -> Option<Cow<'_, str>> {
        None
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

/// For the error of a statement that commits: a lost connection (no answer from the
/// database) becomes [`OutcomeUnknown`]; an answer, even an error, says what happened and
/// stays as it is.
pub fn unknown_if_lost(err: sqlx::Error) -> sqlx::Error {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => sqlx::Error::Database(Box::new(OutcomeUnknown {
            cause: err.to_string(),
        })),
        err => err,
    }
}

/// Whether the database answered "cannot write now" (SQLite busy, locked, full or I/O), on
/// the writer's own calls or through sqlx's (the readers, the pool).
fn storage_unavailable(err: &sqlx::Error) -> Option<bool> {
    if let Some(failure) = SqliteFailure::of(err) {
        return failure
            .is_unavailable()
            .then_some(failure.outcome_unknown());
    }
    let db = err.as_database_error()?;
    let sqlx_sqlite = db.try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    let code: i32 = sqlx::error::DatabaseError::code(sqlx_sqlite)?
        .parse()
        .ok()?;
    is_unavailable(code).then_some(false)
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
    pub fields: Option<Vec<String>>,
    pub balance: Option<i64>,
    /// Seconds, for `rate_limited`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
            field: None,
            fields: None,
            balance: None,
            retry_after: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        ApiError::new(Code::InternalError, NOTHING_APPLIED)
    }

    /// `503 service_unavailable` with `Retry-After: 1`.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError {
            retry_after: Some(1),
            ..ApiError::new(Code::ServiceUnavailable, message)
        }
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        ApiError {
            field: err.field.map(Cow::into_owned),
            ..ApiError::new(err.code, err.message)
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError {
            balance: refusal.balance,
            fields: (!refusal.fields.is_empty()).then_some(refusal.fields),
            ..ApiError::new(refusal.code, refusal.message)
        }
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        if let Some(outcome_unknown) = storage_unavailable(&err) {
            tracing::warn!(error = %err, "the database cannot write right now");
            return ApiError::unavailable(if outcome_unknown {
                STORAGE_OUTCOME_UNKNOWN
            } else {
                STORAGE_UNAVAILABLE
            });
        }
        let unknown = err
            .as_database_error()
            .and_then(|db| db.try_downcast_ref::<OutcomeUnknown>())
            .is_some();
        if unknown {
            tracing::error!(error = %err, "internal error; the outcome of a write is unknown");
            return ApiError::new(Code::InternalError, OUTCOME_UNKNOWN);
        }
        ApiError::internal(err)
    }
}

/// Unix seconds now, for `server_time` and the signature window.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let envelope: Envelope<Value> = Envelope {
            success: false,
            code: self.code,
            message: self.message,
            balance: self.balance,
            data: None,
            field: self.field,
            fields: self.fields,
            server_time: Some(unix_now()),
        };
        let mut response = (status, Json(envelope)).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(
                headers::RETRY_AFTER,
                HeaderValue::from_str(&secs.to_string()).expect("digits are a valid header"),
            );
        }
        response.extensions_mut().insert(self.code);
        response
    }
}

/// The envelope for a panic caught by `CatchPanicLayer`: the connection survives. A handler
/// can panic after its write committed, so the outcome is unknown.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let mut response = ApiError::new(Code::InternalError, OUTCOME_UNKNOWN).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
impl ApiError {
    /// Status, code and `Retry-After` of the response this error becomes.
    pub fn into_response_parts(self) -> (u16, &'static str, Option<String>) {
        let code = self.code.as_str();
        let response = self.into_response();
        let retry_after = response
            .headers()
            .get(headers::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_string());
        (response.status().as_u16(), code, retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_commit_answer_says_the_outcome_is_unknown() {
        let lost = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset during COMMIT",
        ));
        let error = ApiError::from(unknown_if_lost(lost));
        assert_eq!(error.code, Code::InternalError);
        assert_eq!(error.message, OUTCOME_UNKNOWN);
        assert!(error
            .message
            .contains("retry with the same external_reference"));
        assert!(!error.message.contains("nothing was applied"));
        // The database answered (even with an error): that outcome is known.
        let answered = sqlx::Error::RowNotFound;
        assert_eq!(
            ApiError::from(unknown_if_lost(answered)).message,
            NOTHING_APPLIED
        );
        // Not a SQLSTATE, so never taken for a retryable serialization failure.
        let lost = unknown_if_lost(sqlx::Error::WorkerCrashed);
        assert!(lost.as_database_error().unwrap().code().is_none());
    }
}
