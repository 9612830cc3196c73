//! What the console keeps in the ledger's database (migration `0004_console.sql`) and the
//! figures it reads from it: the types of the console's `LedgerBackend` methods, which
//! both backends fill.

/// A session to store: the SHA-256 of the cookie's token, never the token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token_hash: String,
    pub operator: String,
    pub csrf: String,
    pub created_at_ms: i64,
    pub expires_at_ms: i64,
}

/// A stored session that has not expired.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRow {
    pub operator: String,
    pub csrf: String,
    pub expires_at_ms: i64,
}

/// One line of the audit log, to append. `telegram_id` and `amount` are never 0 when set.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub at_ms: i64,
    pub operator: String,
    pub action: String,
    pub telegram_id: Option<i64>,
    /// A record id or a hold id.
    pub target: Option<String>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    /// The form's reference: the same action submitted twice is one entry.
    pub reference: Option<String>,
    /// `ok`, `duplicate`, or the refusal's code.
    pub outcome: String,
    pub detail: Option<String>,
}

/// One line of the audit log, as read.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: i64,
    pub at_ms: i64,
    pub operator: String,
    pub action: String,
    pub telegram_id: Option<i64>,
    pub target: Option<String>,
    pub amount: Option<i64>,
    pub reason: Option<String>,
    pub reference: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
}

/// The ledger's totals for the overview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Totals {
    pub users: i64,
    /// The sum of every balance.
    pub outstanding: i64,
    /// The open, unexpired holds.
    pub held: i64,
}

/// What one source added and deducted on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DayVolume {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub source: String,
    pub added: i64,
    /// A magnitude.
    pub deducted: i64,
    pub changes: i64,
}

/// A user found by nickname.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub telegram_id: i64,
    pub nickname: Option<String>,
    pub credits: i64,
}

/// `text` as a LIKE pattern that matches it as a prefix (`\` escapes).
pub fn prefix_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_prefix_pattern_matches_wildcards_literally() {
        assert_eq!(super::prefix_pattern("a_b%c\\"), "a\\_b\\%c\\\\%");
    }
}
