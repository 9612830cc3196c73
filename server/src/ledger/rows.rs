//! The rows both backends read, named by column, so the SQL's column list and the Rust
//! that reads it cannot drift apart by position.

/// `users` as a balance query reads it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BalanceRow {
    pub credits: i64,
    pub nickname: Option<String>,
}

/// One row of `records` as read for a page; `created_at` as RFC 3339 UTC text with
/// milliseconds on both backends.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RecordRow {
    pub id: i64,
    pub change: i64,
    pub balance_after: i64,
    pub reason: String,
    pub source: String,
    pub external_reference: Option<String>,
    pub created_at: String,
}

/// The record a reference was first applied with: what a replay answers, and what a
/// conflicting change is compared with.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OriginalRecord {
    pub id: i64,
    pub telegram_id: i64,
    pub change: i64,
    pub reason: String,
    pub balance_after: i64,
}

/// A user whose balance differs from the sum of their records.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SumMismatch {
    pub telegram_id: i64,
    pub credits: i64,
    pub sum: i64,
}

/// A record whose `balance_after` breaks the running sum of its user's records.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ChainBreak {
    pub id: i64,
    pub telegram_id: i64,
    pub balance_after: i64,
    pub running: i64,
}

/// A record of no user.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Orphan {
    pub id: i64,
}

/// What the invariant queries found (all empty when the ledger is sound).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub sums: Vec<SumMismatch>,
    pub chain: Vec<ChainBreak>,
    pub orphans: Vec<Orphan>,
}

/// The sizes `verify` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Counts {
    pub users: i64,
    pub records: i64,
}
