//! Request signing: the guide's v1 body token and the v2 `X-Signature` header.
//! Both sides call these functions, so a signature can only mean one thing.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// The exact string the v1 token signs: `"{telegram_id}:{amount}:{source}:{timestamp}"`.
/// A negative amount keeps its sign (`"7:-50:media_bot:1700000000"`).
pub fn v1_message(telegram_id: i64, amount: i64, source: &str, timestamp: i64) -> String {
    format!("{telegram_id}:{amount}:{source}:{timestamp}")
}

/// The guide's v1 token: lowercase hex of HMAC-SHA256(secret, v1_message).
pub fn v1_token(
    secret: &str,
    telegram_id: i64,
    amount: i64,
    source: &str,
    timestamp: i64,
) -> String {
    hmac_hex(
        secret.as_bytes(),
        v1_message(telegram_id, amount, source, timestamp).as_bytes(),
    )
}

/// Constant-time check of a v1 token.
pub fn verify_v1(
    secret: &str,
    telegram_id: i64,
    amount: i64,
    source: &str,
    timestamp: i64,
    token: &str,
) -> bool {
    let expected = v1_token(secret, telegram_id, amount, source, timestamp);
    constant_time_eq(expected.as_bytes(), token.to_ascii_lowercase().as_bytes())
}

/// The exact string the v2 signature signs:
/// `"{t}\n{METHOD}\n{path?query}\n{hex sha256(body)}"`.
pub fn v2_message(timestamp: i64, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let body_hash = hex::encode(Sha256::digest(body));
    format!(
        "{timestamp}\n{}\n{path_and_query}\n{body_hash}",
        method.to_ascii_uppercase()
    )
}

/// The hex v2 signature of one request.
pub fn v2_signature(
    secret: &str,
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    hmac_hex(
        secret.as_bytes(),
        v2_message(timestamp, method, path_and_query, body).as_bytes(),
    )
}

/// The full `X-Signature` header value: `t=<unix seconds>,v2=<hex>`.
pub fn v2_header(
    secret: &str,
    timestamp: i64,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> String {
    format!(
        "t={timestamp},v2={}",
        v2_signature(secret, timestamp, method, path_and_query, body)
    )
}

/// A parsed `X-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader {
    pub timestamp: i64,
    pub v2: String,
}

/// Parses `t=<unix seconds>,v2=<hex>` (order-free, unknown keys ignored for forward compatibility).
pub fn parse_v2_header(value: &str) -> Option<SignatureHeader> {
    let mut timestamp = None;
    let mut v2 = None;
    for part in value.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "t" => timestamp = Some(v.trim().parse::<i64>().ok()?),
            "v2" => v2 = Some(v.trim().to_ascii_lowercase()),
            _ => {}
        }
    }
    Some(SignatureHeader {
        timestamp: timestamp?,
        v2: v2?,
    })
}

/// Constant-time check of a v2 signature against the request it claims to sign.
pub fn verify_v2(
    secret: &str,
    header: &SignatureHeader,
    method: &str,
    path_and_query: &str,
    body: &[u8],
) -> bool {
    let expected = v2_signature(secret, header.timestamp, method, path_and_query, body);
    constant_time_eq(expected.as_bytes(), header.v2.as_bytes())
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Is `timestamp` within `tolerance` seconds of `now`?
pub fn timestamp_in_window(timestamp: i64, now: i64, tolerance: i64) -> bool {
    now.checked_sub(timestamp)
        .is_some_and(|d| d.abs() <= tolerance)
}

fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vectors of docs/protocol.md ("Test vectors").
    const SECRET: &str = "your-secret-key-here";
    const T: i64 = 1_700_000_000;

    #[test]
    fn v1_vectors() {
        assert_eq!(
            v1_message(123456789, 100, "media_bot", T),
            "123456789:100:media_bot:1700000000"
        );
        assert_eq!(
            v1_token(SECRET, 123456789, 100, "media_bot", T),
            "1b8cb0674014a1e29c6de19db999e22bf85dfce59f8ce639fb1a8f5630d855c7"
        );
        assert_eq!(
            v1_token(SECRET, 123456789, -50, "media_bot", T),
            "532d3aff75d32890c2430ab0b5749bc4ed33bdcdb6ebd5292fc1f747e886c186"
        );
    }

    #[test]
    fn v2_vectors() {
        let body = br#"{"telegram_id":123456789,"amount":100,"source":"media_bot","reason":"test","external_reference":"video_12345"}"#;
        assert_eq!(
            v2_message(T, "post", "/api/credits/sync", body),
            format!(
                "1700000000\nPOST\n/api/credits/sync\n{}",
                "cfb7a550dac80ee6f435ee4c9c1ac39e12c7f80348d8450e15c04c8d658bfb88"
            )
        );
        assert_eq!(
            v2_header(SECRET, T, "POST", "/api/credits/sync", body),
            "t=1700000000,v2=b6fda2ccb5023920812763df8bb1b2bb42f66cd4ac6917007df4c8186f0e0169"
        );
        assert_eq!(
            v2_header(
                SECRET,
                T,
                "GET",
                "/api/credits/records/123456789?limit=5",
                b""
            ),
            "t=1700000000,v2=09f56346996029ebe5cc7430b5fa443e5fd2f13a8e69bbf1206b5cac5c47fddf"
        );
    }

    #[test]
    fn verify_round_trip() {
        let token = v1_token(SECRET, 1, 5, "s", T);
        assert!(verify_v1(SECRET, 1, 5, "s", T, &token));
        assert!(verify_v1(SECRET, 1, 5, "s", T, &token.to_uppercase()));
        assert!(!verify_v1(SECRET, 1, 6, "s", T, &token));
        assert!(!verify_v1("other", 1, 5, "s", T, &token));
        let header = parse_v2_header(&v2_header(SECRET, T, "GET", "/x", b"")).unwrap();
        assert!(verify_v2(SECRET, &header, "GET", "/x", b""));
        assert!(!verify_v2(SECRET, &header, "GET", "/x", b"tampered"));
        assert!(parse_v2_header("t=abc,v2=00").is_none());
        assert!(parse_v2_header("v2=00").is_none());
    }

    #[test]
    fn window() {
        assert!(timestamp_in_window(T, T + 300, 300));
        assert!(!timestamp_in_window(T, T + 301, 300));
        assert!(!timestamp_in_window(T + 301, T, 300));
        assert!(!timestamp_in_window(i64::MIN, T, 300));
    }
}
