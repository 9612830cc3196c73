//! URL paths served by the Credit Sync API, so no route or client spells one itself.

pub const SYNC: &str = "/api/credits/sync";
pub const BATCH: &str = "/api/credits/batch";
/// Followed by `/{telegram_id}`.
pub const BALANCE: &str = "/api/credits/balance";
/// Followed by `/{telegram_id}?limit=&cursor=`.
pub const RECORDS: &str = "/api/credits/records";
pub const USERS: &str = "/api/users";
/// `POST` places a hold; followed by `/{telegram_id}`, `GET` lists a user's open holds;
/// followed by `/{hold_id}/capture` or `/{hold_id}/void`, `POST` resolves one.
pub const HOLDS: &str = "/api/credits/holds";
/// The last segment of a capture's path.
pub const CAPTURE: &str = "capture";
/// The last segment of a void's path.
pub const VOID: &str = "void";
pub const REVERSE: &str = "/api/credits/reverse";
pub const TRANSFER: &str = "/api/credits/transfer";
/// `GET` the event feed: `?after=<cursor>&limit=<1..500>&wait=<0..30>`.
pub const EVENTS: &str = "/api/events";
pub const HEALTHZ: &str = "/healthz";
pub const METRICS: &str = "/metrics";
pub const OPENAPI: &str = "/openapi.json";

/// `GET` path of one user's balance.
pub fn balance(telegram_id: i64) -> String {
    format!("{BALANCE}/{telegram_id}")
}

/// `GET` path (with query) of one page of a user's records.
pub fn records(telegram_id: i64, limit: Option<u32>, cursor: Option<&str>) -> String {
    let mut path = format!("{RECORDS}/{telegram_id}");
    let mut sep = '?';
    if let Some(limit) = limit {
        path.push_str(&format!("{sep}limit={limit}"));
        sep = '&';
    }
    if let Some(cursor) = cursor {
        // Cursors are opaque but always URL-safe (see `Record`), so no escaping is needed.
        path.push_str(&format!("{sep}cursor={cursor}"));
    }
    path
}

/// `GET` path (with query) of one page of the event feed. Cursors are digits (see
/// `events::decode_event_cursor`), so no escaping is needed.
pub fn events(after: Option<&str>, limit: Option<u32>, wait: Option<u32>) -> String {
    use super::events::{AFTER, WAIT};
    let mut path = EVENTS.to_string();
    let params = [
        after.map(|a| format!("{AFTER}={a}")),
        limit.map(|l| format!("{}={l}", super::fields::LIMIT)),
        wait.map(|w| format!("{WAIT}={w}")),
    ];
    for (i, p) in params.into_iter().flatten().enumerate() {
        path.push(if i == 0 { '?' } else { '&' });
        path.push_str(&p);
    }
    path
}

/// `GET` path of one user's open holds.
pub fn holds(telegram_id: i64) -> String {
    format!("{HOLDS}/{telegram_id}")
}

/// `POST` path that captures a hold. Hold ids are URL-safe (see `limits::HOLD_ID_PREFIX`),
/// and one that is not is refused by the server, never misrouted: it is sent escaped.
pub fn capture(hold_id: &str) -> String {
    format!("{HOLDS}/{}/{CAPTURE}", segment(hold_id))
}

/// `POST` path that voids a hold.
pub fn void(hold_id: &str) -> String {
    format!("{HOLDS}/{}/{VOID}", segment(hold_id))
}

/// A path segment: kept as is when URL-safe, else percent-encoded byte by byte.
fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::protocol::paths;

    #[test]
    fn hold_paths() {
        assert_eq!(paths::holds(5), "/api/credits/holds/5");
        assert_eq!(
            paths::capture("hold_0a"),
            "/api/credits/holds/hold_0a/capture"
        );
        assert_eq!(paths::void("a/b c"), "/api/credits/holds/a%2Fb%20c/void");
    }

    #[test]
    fn records_path() {
        assert_eq!(paths::records(5, None, None), "/api/credits/records/5");
        assert_eq!(
            paths::records(5, Some(10), Some("42")),
            "/api/credits/records/5?limit=10&cursor=42"
        );
        assert_eq!(
            paths::records(5, None, Some("42")),
            "/api/credits/records/5?cursor=42"
        );
    }
}
