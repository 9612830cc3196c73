//! URL paths served by the Credit Sync API, so no route or client spells one itself.

pub const SYNC: &str = "/api/credits/sync";
pub const BATCH: &str = "/api/credits/batch";
/// Followed by `/{telegram_id}`.
pub const BALANCE: &str = "/api/credits/balance";
/// Followed by `/{telegram_id}?limit=&cursor=`.
pub const RECORDS: &str = "/api/credits/records";
pub const USERS: &str = "/api/users";
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

#[cfg(test)]
mod tests {
    use crate::protocol::paths;

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
