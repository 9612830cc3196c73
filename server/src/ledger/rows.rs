//! The rows both backends read, named by column, so the SQL's column list and the Rust
//! that reads it cannot drift apart by position.

/// `users` as a balance query reads it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BalanceRow {
    pub credits: i64,
    pub nickname: Option<String>,
    /// The user's open holds that have not expired, at the time of the read.
    pub held: i64,
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
    pub hold_id: Option<String>,
    pub reverses: Option<i64>,
    pub transfer_id: Option<String>,
}

/// One row of `holds`; `created_at` and `resolved_at` as RFC 3339 UTC text with
/// milliseconds on both backends, `state` as stored (see `hold::state_at` for the state
/// as of now).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HoldRow {
    pub hold_id: String,
    pub telegram_id: i64,
    pub source: String,
    pub amount: i64,
    pub captured: i64,
    pub state: String,
    pub reason: String,
    pub external_reference: Option<String>,
    pub created_at: String,
    pub expires_at_ms: i64,
    pub resolved_at: Option<String>,
    pub record_id: Option<i64>,
    pub resolved_by: Option<String>,
    pub resolution_reference: Option<String>,
}

/// The record a reference was first applied with: what a replay answers, and what a
/// conflicting change is compared with.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OriginalRecord {
    pub id: i64,
    pub telegram_id: i64,
    pub source: String,
    pub change: i64,
    pub reason: String,
    pub balance_after: i64,
    /// Its links: a plain change has none (a sync's reference never replays a capture,
    /// a reversal or a transfer).
    pub hold_id: Option<String>,
    pub reverses: Option<i64>,
    pub transfer_id: Option<String>,
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

/// A user whose `held` differs from the sum of their open holds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HeldMismatch {
    pub telegram_id: i64,
    pub held: i64,
    pub sum: i64,
}

/// A hold whose capture does not match its record (the record's change must be minus
/// `captured`, and only a captured hold has one).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CaptureMismatch {
    pub hold_id: String,
    pub amount: i64,
    pub captured: i64,
    pub record_change: Option<i64>,
}

/// A record whose reversals sum to more than it, or have its own sign.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OverReversed {
    pub id: i64,
    pub change: i64,
    /// The sum of its reversals' changes.
    pub reversed: i64,
}

/// A transfer whose legs are not one debit and one credit of the same amount.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct BrokenTransfer {
    pub transfer_id: String,
    pub legs: i64,
    pub sum: i64,
}

/// What the invariant queries found (all empty when the ledger is sound).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Findings {
    pub sums: Vec<SumMismatch>,
    pub chain: Vec<ChainBreak>,
    pub orphans: Vec<Orphan>,
    pub held: Vec<HeldMismatch>,
    pub captures: Vec<CaptureMismatch>,
    pub reversals: Vec<OverReversed>,
    pub transfers: Vec<BrokenTransfer>,
}

/// The sizes `verify` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Counts {
    pub users: i64,
    pub records: i64,
}
