//! `X-Request-Id`: every response carries one (the client's, when it sent a sane one) and
//! the request's log lines carry it too, so a client's report can be found in the logs.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use credit_sync::protocol::headers;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use tracing::Instrument;

const MAX_LEN: usize = 128;

pub async fn tag(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(headers::REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane(v))
        .map(str::to_string)
        .unwrap_or_else(generate);
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(headers::REQUEST_ID, value);
    }
    response
}

/// Short, printable, and safe to echo into a header and a log line.
fn is_sane(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=@".contains(&b))
}

/// Unique per process run: the start time and a counter.
fn generate() -> String {
    static START: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let start = START.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    });
    format!("{start:x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_sane("abc-123"));
        assert!(!is_sane("a b"));
        assert!(!is_sane(""));
        assert!(!is_sane(&"a".repeat(129)));
        assert_ne!(generate(), generate());
        assert!(is_sane(&generate()));
    }
}
