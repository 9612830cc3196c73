//! Cross-site request forgery: every form carries its session's token (or, before
//! sign-in, the token of the sign-in form's cookie), and a state change from a foreign
//! `Origin` (or a browser that says `Sec-Fetch-Site: cross-site`) is refused before any
//! token is looked at.

use axum::http::{header, HeaderMap};

/// Whether `given` is `expected`, in time that does not depend on where they differ.
pub fn token_matches(given: &str, expected: &str) -> bool {
    if given.len() != expected.len() || expected.is_empty() {
        return false;
    }
    given
        .bytes()
        .zip(expected.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Whether a state-changing request may come from where its browser says it does: its
/// `Origin` (when sent; every current browser sends it on a POST) must be `public_url`, or
/// without one, `http(s)://` and the request's own `Host`.
pub fn same_origin(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if text(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    match public_url {
        Some(url) => origin.eq_ignore_ascii_case(url),
        None => {
            let Some(host) = text(header::HOST) else {
                return false;
            };
            ["http://", "https://"].iter().any(|scheme| {
                origin
                    .strip_prefix(scheme)
                    .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn only_the_consoles_own_origin_may_change_state() {
        let host = ("host", "127.0.0.1:8080");
        assert!(
            same_origin(&headers(&[host]), None),
            "no Origin: the token decides"
        );
        assert!(same_origin(
            &headers(&[host, ("origin", "http://127.0.0.1:8080")]),
            None
        ));
        assert!(!same_origin(
            &headers(&[host, ("origin", "http://evil.example")]),
            None
        ));
        assert!(!same_origin(&headers(&[host, ("origin", "null")]), None));
        assert!(!same_origin(
            &headers(&[host, ("sec-fetch-site", "cross-site")]),
            None
        ));
        let public = Some("https://ops.example.com");
        assert!(same_origin(
            &headers(&[host, ("origin", "https://ops.example.com")]),
            public
        ));
        assert!(!same_origin(
            &headers(&[host, ("origin", "http://127.0.0.1:8080")]),
            public
        ));
    }

    #[test]
    fn tokens_match_exactly() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", ""));
    }
}
