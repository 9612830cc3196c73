//! Reads one HTTP answer: the protocol payload, or the SDK error plus whether the
//! failure is worth a retry. Answers that are not this protocol (a proxy's HTML 502,
//! an empty body) still map to a typed error by their status.

use crate::error::Error;
use crate::protocol::{Code, Envelope};
use crate::retry::is_retryable_status;
use crate::transport::RawResponse;
use serde_json::Value;
use std::time::Duration;

/// A failed attempt.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub retryable: bool,
    pub retry_after: Option<Duration>,
}

impl Failure {
    /// No answer arrived (connect error, timeout, broken connection): always retryable,
    /// because every write carries a fixed reference.
    pub fn transport(error: Error) -> Failure {
        let retryable = matches!(error, Error::Timeout { .. } | Error::Transport { .. });
        Failure {
            error,
            retryable,
            retry_after: None,
        }
    }
}

/// How a call treats a `success: false` answer that still carries a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// Only `success: true` is a payload.
    Success,
    /// A batch answer with `data.results` is a payload even when items failed.
    BatchResults,
}

/// The JSON payload of a successful answer, or the failure.
pub fn read(resp: RawResponse, accept: Accept) -> Result<Value, Failure> {
    let status = resp.status;
    let retry_after = resp.retry_after;
    let value: Option<Value> = serde_json::from_slice(&resp.body)
        .ok()
        .filter(Value::is_object);
    let Some(value) = value else {
        return Err(not_protocol(status, retry_after, &resp.body));
    };
    let success = value.get("success").and_then(Value::as_bool);
    let ok_status = (200..300).contains(&status);
    if ok_status && success == Some(true) {
        return Ok(value);
    }
    if accept == Accept::BatchResults && value.pointer("/data/results").is_some_and(Value::is_array)
    {
        return Ok(value);
    }
    match serde_json::from_value::<Envelope<Value>>(value) {
        Ok(env) => Err(Failure {
            error: Error::from_envelope(status, &env, retry_after),
            retryable: is_retryable_status(status),
            retry_after,
        }),
        Err(_) => Err(not_protocol(status, retry_after, &resp.body)),
    }
}

/// An answer that is not a protocol envelope, classified by status alone.
fn not_protocol(status: u16, retry_after: Option<Duration>, body: &[u8]) -> Failure {
    let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
    let message = if snippet.trim().is_empty() {
        format!("HTTP {status} without a credit-sync answer")
    } else {
        format!(
            "HTTP {status} without a credit-sync answer: {}",
            snippet.trim()
        )
    };
    let error = match status {
        429 => Error::RateLimited {
            message,
            retry_after,
        },
        408 => Error::Timeout { message },
        500 => Error::Server {
            code: Code::InternalError,
            status,
            message,
        },
        503 => Error::Server {
            code: Code::ServiceUnavailable,
            status,
            message,
        },
        _ => Error::Server {
            code: Code::InvalidResponse,
            status,
            message,
        },
    };
    Failure {
        error,
        retryable: is_retryable_status(status),
        retry_after,
    }
}

/// Decodes a payload the server promised; a mismatch is `invalid_response`.
pub fn decode<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| Error::Server {
        code: Code::InvalidResponse,
        status: 200,
        message: format!("unexpected answer from the server: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(status: u16, body: &str) -> RawResponse {
        RawResponse {
            status,
            retry_after: None,
            request_id: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn business_errors_are_final() {
        let f = read(
            raw(
                409,
                r#"{"success":false,"code":"insufficient_credits","message":"no","balance":5,"data":null}"#,
            ),
            Accept::Success,
        )
        .unwrap_err();
        assert!(!f.retryable);
        assert_eq!(
            f.error,
            Error::InsufficientCredits {
                message: "no".into(),
                balance: Some(5)
            }
        );
        let f = read(
            raw(
                401,
                r#"{"success":false,"code":"invalid_signature","message":"x"}"#,
            ),
            Accept::Success,
        )
        .unwrap_err();
        assert!(!f.retryable);
        assert_eq!(f.error.code(), Code::InvalidSignature);
    }

    #[test]
    fn proxies_and_overload_are_retried() {
        let f = read(raw(502, "<html>bad gateway</html>"), Accept::Success).unwrap_err();
        assert!(f.retryable);
        assert_eq!(f.error.code(), Code::InvalidResponse);
        let f = read(raw(503, ""), Accept::Success).unwrap_err();
        assert!(f.retryable);
        assert_eq!(f.error.code(), Code::ServiceUnavailable);
        let f = read(
            raw(
                429,
                r#"{"success":false,"code":"rate_limited","message":"slow"}"#,
            ),
            Accept::Success,
        )
        .unwrap_err();
        assert!(f.retryable);
        assert_eq!(f.error.code(), Code::RateLimited);
        assert!(read(raw(408, ""), Accept::Success).unwrap_err().retryable);
    }

    #[test]
    fn a_partial_batch_is_a_payload() {
        let body = r#"{"success":false,"code":"partial_failure","message":"m","data":{"success":0,"failed":1,"results":[]}}"#;
        assert!(read(raw(200, body), Accept::BatchResults).is_ok());
        assert!(read(raw(200, body), Accept::Success).is_err());
        assert!(read(raw(200, "not json"), Accept::Success).is_err());
    }
}
