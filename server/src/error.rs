//! Every failure leaves the server as the core's `Envelope` with a stable `code`, so
//! clients never have to parse a message or guess from a bare status.

use crate::ledger::{LedgerError, Refusal};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use credit_sync::protocol::{headers, Code, Envelope, FieldError};
use serde_json::Value;

/// The `internal_error` message where nothing was written: the write was refused or rolled
/// back before anything committed.
pub const NOTHING_APPLIED: &str = "internal error; nothing was applied";
/// The message where the server cannot know whether the change committed (the database
/// connection died while a COMMIT was in flight, a handler panicked): the only safe advice.
pub const OUTCOME_UNKNOWN: &str =
    "internal error; the outcome is unknown: retry with the same external_reference";
/// The `503` message when the database cannot write now and nothing was applied.
const STORAGE_UNAVAILABLE: &str = "the database cannot write right now (busy, full or an I/O error); nothing was applied: retry later with the same external_reference";
/// The `503` message when the database failed inside a COMMIT with an I/O error.
const STORAGE_OUTCOME_UNKNOWN: &str = "the database failed while committing (an I/O error); the outcome is unknown: retry later with the same external_reference";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    pub field: Option<String>,
    pub fields: Option<Vec<String>>,
    pub balance: Option<i64>,
    /// Seconds, for `rate_limited`.
    pub retry_after: Option<u64>,
    /// The envelope's `data` on an error: `hold_resolved` shows the hold's final state.
    pub data: Option<Box<Value>>,
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
            data: None,
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
            field: err.field.map(std::borrow::Cow::into_owned),
            ..ApiError::new(err.code, err.message)
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        ApiError {
            balance: refusal.balance,
            fields: (!refusal.fields.is_empty()).then_some(refusal.fields),
            data: refusal.hold.map(|hold| {
                Box::new(serde_json::to_value(hold.data()).expect("hold data serializes"))
            }),
            ..ApiError::new(refusal.code, refusal.message)
        }
    }
}

/// The one place a ledger failure becomes a status and a code: a database that cannot
/// write now answers `503` with `Retry-After`; an unknown outcome says to retry with the
/// same reference; anything else is a `500` that says nothing was applied.
impl From<LedgerError> for ApiError {
    fn from(err: LedgerError) -> Self {
        match err {
            LedgerError::Busy { .. } | LedgerError::Unavailable { .. } => {
                tracing::warn!(error = %err, "the database cannot write right now");
                ApiError::unavailable(STORAGE_UNAVAILABLE)
            }
            LedgerError::OutcomeUnknown {
                storage_failed: true,
                ..
            } => {
                tracing::warn!(error = %err, "the database failed while committing");
                ApiError::unavailable(STORAGE_OUTCOME_UNKNOWN)
            }
            LedgerError::OutcomeUnknown {
                storage_failed: false,
                ..
            } => {
                tracing::error!(error = %err, "internal error; the outcome of a write is unknown");
                ApiError::new(Code::InternalError, OUTCOME_UNKNOWN)
            }
            LedgerError::Conflict { .. } | LedgerError::Internal { .. } => ApiError::internal(err),
        }
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
            data: self.data.map(|data| *data),
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
    fn each_ledger_failure_has_one_status_code_and_message() {
        let cause = || "cause".to_string();
        let cases = [
            (
                LedgerError::Busy { cause: cause() },
                (503, "service_unavailable", Some("1")),
                STORAGE_UNAVAILABLE,
            ),
            (
                LedgerError::Unavailable { cause: cause() },
                (503, "service_unavailable", Some("1")),
                STORAGE_UNAVAILABLE,
            ),
            (
                LedgerError::OutcomeUnknown {
                    cause: cause(),
                    storage_failed: true,
                },
                (503, "service_unavailable", Some("1")),
                STORAGE_OUTCOME_UNKNOWN,
            ),
            (
                LedgerError::OutcomeUnknown {
                    cause: cause(),
                    storage_failed: false,
                },
                (500, "internal_error", None),
                OUTCOME_UNKNOWN,
            ),
            (
                LedgerError::Conflict { cause: cause() },
                (500, "internal_error", None),
                NOTHING_APPLIED,
            ),
            (
                LedgerError::Internal { cause: cause() },
                (500, "internal_error", None),
                NOTHING_APPLIED,
            ),
        ];
        for (err, (status, code, retry_after), message) in cases {
            let api = ApiError::from(err.clone());
            assert_eq!(api.message, message, "{err:?}");
            let parts = api.into_response_parts();
            assert_eq!(
                parts,
                (status, code, retry_after.map(str::to_string)),
                "{err:?}"
            );
        }
        assert!(OUTCOME_UNKNOWN.contains("retry with the same external_reference"));
        assert!(!OUTCOME_UNKNOWN.contains("nothing was applied"));
    }
}
