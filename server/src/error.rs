//! Every failure leaves the server as the core's `Envelope` with a stable `code`, so
//! clients never have to parse a message or guess from a bare status.

use crate::ledger::Refusal;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use credit_sync::protocol::{headers, Code, Envelope, FieldError};
use serde_json::Value;

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
        ApiError::new(Code::InternalError, "internal error; nothing was applied")
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<FieldError> for ApiError {
    fn from(err: FieldError) -> Self {
        ApiError {
            field: err.field.map(str::to_string),
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

/// The envelope for a panic caught by `CatchPanicLayer`: the connection survives.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let mut response =
        ApiError::new(Code::InternalError, "internal error; nothing was applied").into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
