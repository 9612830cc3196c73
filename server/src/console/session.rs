//! Who is signed in: a random token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure`
//! over https), its SHA-256 in the database's `console_sessions` with an expiry, so a
//! session holds across processes and restarts and a copy of the table signs no one in.

use axum::http::{header, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// The session cookie.
pub const COOKIE: &str = "credit_sync_console";
/// The sign-in form's own CSRF cookie (there is no session yet to hold its token).
pub const LOGIN_COOKIE: &str = "credit_sync_console_login";
/// How long a session lasts from its sign-in (a working day); then sign in again.
pub const LIFETIME_MS: i64 = 8 * 3600 * 1000;
/// How long a sign-in form stays usable.
pub const LOGIN_FORM_SECS: i64 = 3600;

/// A new random token: 32 bytes, lowercase hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

/// What the database keeps of a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The value of the cookie `name` in the request, if it is there once.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let mut found = None;
    for value in headers.get_all(header::COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            if let Some((key, value)) = pair.trim().split_once('=') {
                if key == name {
                    if found.is_some() {
                        // Two cookies of one name (one planted for a parent path): trust neither.
                        return None;
                    }
                    found = Some(value);
                }
            }
        }
    }
    found.filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for `name` on `path`: `HttpOnly`, `SameSite=Strict`, `Secure` when
/// `secure`, gone after `max_age` seconds (0 deletes it).
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_read_once_and_written_strict() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; credit_sync_console=tok; b=2"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("tok"));
        assert_eq!(cookie(&headers, "missing"), None);
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("credit_sync_console=other"),
        );
        assert_eq!(cookie(&headers, COOKIE), None, "a planted twin");
        let set = set_cookie(COOKIE, "tok", "/console", 60, true);
        assert_eq!(
            set.to_str().unwrap(),
            "credit_sync_console=tok; Path=/console; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(token_hash("a").len(), 64);
        assert_ne!(new_token(), new_token());
    }
}
