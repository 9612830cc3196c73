//! The seam between the ledger's rules and a database: every operation a backend must
//! offer is a method of [`LedgerBackend`], so a backend that lacks one does not compile.
//! [`AnyBackend`] is the one chosen at startup; it dispatches by `match`, so a call costs
//! no box and no virtual call.

use super::postgres::PgLedger;
use super::rows::{BalanceRow, Counts, Findings, HoldRow, RecordRow};
use super::sqlite::SqliteLedger;
use super::{
    Actor, Change, HoldOutcome, LedgerError, NewHold, Outcome, Refusal, Resolve, Reversal,
    ReverseOutcome, Spend, Transfer, TransferOutcome, User,
};
use crate::console::store::{
    AuditEntry, AuditRow, DayVolume, NewSession, SessionRow, Totals, UserRow,
};
use std::future::Future;

/// What a database must do for the ledger. Each write is atomic: it is applied whole, with
/// its signature spent, or not at all; a refusal writes nothing but the spent signature.
pub trait LedgerBackend: Clone + Send + Sync + 'static {
    /// Closes the database's connections.
    fn close(&self) -> impl Future<Output = ()> + Send;

    /// A trivial query, for the health check.
    fn ping(&self) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// The backend's own Prometheus lines (nothing, when it has none).
    fn render_metrics(&self, out: &mut String);

    /// Applies one change, spending `spend`'s signatures with it. A replay of the same
    /// referenced change spends nothing and answers as the first time; a spent signature
    /// that is not such a replay is refused with `signature_reused`.
    fn apply(
        &self,
        actor: Actor,
        change: Change,
        spend: Spend,
    ) -> impl Future<Output = Result<Outcome, LedgerError>> + Send;

    /// Applies many changes in one transaction, each on its own rules, an item seeing the
    /// items before it. With `atomic`, the first refusal rolls every change back (the
    /// signatures stay spent) and every other item reports `batch_aborted`. `Err(refusal)`:
    /// the signature was spent and this is not a replay of the same referenced changes.
    fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
        spend: Spend,
    ) -> impl Future<Output = Result<Result<Vec<Outcome>, Refusal>, LedgerError>> + Send;

    /// Registers a user, or updates the nickname of a known one (when `nickname` is
    /// given). `spend` is `None` only for the operator's unsigned `users add`.
    fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
        spend: Option<Spend>,
    ) -> impl Future<Output = Result<Result<User, Refusal>, LedgerError>> + Send;

    /// Places a hold of `hold.amount` on the user's available credits (`credits` minus
    /// the open, unexpired holds), at most `MAX_OPEN_HOLDS_PER_USER` open at once. A hold's
    /// reference is unique among its source's holds: the same hold again is its replay
    /// (`duplicate`), another is `reference_conflict`. Spends `spend` like `apply`.
    fn place_hold(
        &self,
        actor: Actor,
        hold: NewHold,
        spend: Spend,
    ) -> impl Future<Output = Result<HoldOutcome, LedgerError>> + Send;

    /// Captures (one deduction record, linked to the hold; the rest released) or voids
    /// (no record) an open hold, exactly once, as `hold::judge` decides; a refusal of an
    /// already resolved hold carries its final state (`Refusal::with_hold`). Spends
    /// `spend` like `apply` (a replay spends nothing).
    fn resolve_hold(
        &self,
        actor: Actor,
        resolve: Resolve,
        spend: Spend,
    ) -> impl Future<Output = Result<HoldOutcome, LedgerError>> + Send;

    /// A user's balance view and open, unexpired holds (oldest first); `None` for an
    /// unknown user.
    fn holds(
        &self,
        telegram_id: i64,
    ) -> impl Future<Output = Result<Option<(BalanceRow, Vec<HoldRow>)>, LedgerError>> + Send;

    /// Writes a reversal of all or part of a record, as `reversal::judge` decides: a
    /// reversal of an add deducts (from the available balance), of a deduct or a capture
    /// adds back. Idempotent by reference like any change. Spends `spend` like `apply`.
    fn reverse(
        &self,
        actor: Actor,
        reversal: Reversal,
        spend: Spend,
    ) -> impl Future<Output = Result<ReverseOutcome, LedgerError>> + Send;

    /// Moves credits from one user's available balance to another user: two records with
    /// one `transfer_id`, written together or not at all (the sender's carries the
    /// reference). The receiver is registered when the actor auto-registers. Spends
    /// `spend` like `apply`.
    fn transfer(
        &self,
        actor: Actor,
        transfer: Transfer,
        spend: Spend,
    ) -> impl Future<Output = Result<TransferOutcome, LedgerError>> + Send;

    /// A user's balance, nickname and open, unexpired holds' sum; `None` for an unknown
    /// user.
    fn balance(
        &self,
        telegram_id: i64,
    ) -> impl Future<Output = Result<Option<BalanceRow>, LedgerError>> + Send;

    /// Up to `limit` records of a user, newest first, with ids below `before`.
    fn records(
        &self,
        telegram_id: i64,
        before: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecordRow>, LedgerError>> + Send;

    /// The invariant queries of `verify`, on one consistent view of the ledger.
    fn verify(&self) -> impl Future<Output = Result<Findings, LedgerError>> + Send;

    /// How many users and records there are.
    fn counts(&self) -> impl Future<Output = Result<Counts, LedgerError>> + Send;

    /// Console: stores a signed-in session, deleting the expired ones.
    fn console_session_create(
        &self,
        session: NewSession,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Console: the session whose token hashes to `token_hash`, unless it expired by `now_ms`.
    fn console_session_find(
        &self,
        token_hash: String,
        now_ms: i64,
    ) -> impl Future<Output = Result<Option<SessionRow>, LedgerError>> + Send;

    /// Console: ends a session (signing out).
    fn console_session_delete(
        &self,
        token_hash: String,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;

    /// Console: appends to the audit log; `false` when an entry with its reference is
    /// already there (the same form submitted twice).
    fn console_audit_append(
        &self,
        entry: AuditEntry,
    ) -> impl Future<Output = Result<bool, LedgerError>> + Send;

    /// Console: up to `limit` audit entries with ids below `before`, newest first.
    fn console_audit_list(
        &self,
        before: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<AuditRow>, LedgerError>> + Send;

    /// Console: users, credits outstanding and held (open holds unexpired at `now_ms`).
    fn console_totals(
        &self,
        now_ms: i64,
    ) -> impl Future<Output = Result<Totals, LedgerError>> + Send;

    /// Console: each source's added and deducted credits per UTC day, from `since_ms` on.
    fn console_volumes(
        &self,
        since_ms: i64,
    ) -> impl Future<Output = Result<Vec<DayVolume>, LedgerError>> + Send;

    /// Console: up to `limit` users whose nickname starts with `prefix` (ASCII case
    /// ignored), by nickname.
    fn console_find_users(
        &self,
        prefix: String,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<UserRow>, LedgerError>> + Send;

    /// Console: the reversals of the records `ids`, oldest first.
    fn console_reversals(
        &self,
        ids: Vec<i64>,
    ) -> impl Future<Output = Result<Vec<RecordRow>, LedgerError>> + Send;
}

/// The backend a URL chose: a translation table onto the two implementations.
#[derive(Clone)]
pub enum AnyBackend {
    Sqlite(SqliteLedger),
    Postgres(PgLedger),
}

impl LedgerBackend for AnyBackend {
    async fn close(&self) {
        match self {
            AnyBackend::Sqlite(db) => db.close().await,
            AnyBackend::Postgres(db) => db.close().await,
        }
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.ping().await,
            AnyBackend::Postgres(db) => db.ping().await,
        }
    }

    fn render_metrics(&self, out: &mut String) {
        match self {
            AnyBackend::Sqlite(db) => db.render_metrics(out),
            AnyBackend::Postgres(db) => db.render_metrics(out),
        }
    }

    async fn apply(
        &self,
        actor: Actor,
        change: Change,
        spend: Spend,
    ) -> Result<Outcome, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.apply(actor, change, spend).await,
            AnyBackend::Postgres(db) => db.apply(actor, change, spend).await,
        }
    }

    async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
        spend: Spend,
    ) -> Result<Result<Vec<Outcome>, Refusal>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.apply_batch(actor, changes, atomic, spend).await,
            AnyBackend::Postgres(db) => db.apply_batch(actor, changes, atomic, spend).await,
        }
    }

    async fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
        spend: Option<Spend>,
    ) -> Result<Result<User, Refusal>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.register(telegram_id, nickname, spend).await,
            AnyBackend::Postgres(db) => db.register(telegram_id, nickname, spend).await,
        }
    }

    async fn place_hold(
        &self,
        actor: Actor,
        hold: NewHold,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.place_hold(actor, hold, spend).await,
            AnyBackend::Postgres(db) => db.place_hold(actor, hold, spend).await,
        }
    }

    async fn resolve_hold(
        &self,
        actor: Actor,
        resolve: Resolve,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.resolve_hold(actor, resolve, spend).await,
            AnyBackend::Postgres(db) => db.resolve_hold(actor, resolve, spend).await,
        }
    }

    async fn holds(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(BalanceRow, Vec<HoldRow>)>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.holds(telegram_id).await,
            AnyBackend::Postgres(db) => db.holds(telegram_id).await,
        }
    }

    async fn reverse(
        &self,
        actor: Actor,
        reversal: Reversal,
        spend: Spend,
    ) -> Result<ReverseOutcome, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.reverse(actor, reversal, spend).await,
            AnyBackend::Postgres(db) => db.reverse(actor, reversal, spend).await,
        }
    }

    async fn transfer(
        &self,
        actor: Actor,
        transfer: Transfer,
        spend: Spend,
    ) -> Result<TransferOutcome, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.transfer(actor, transfer, spend).await,
            AnyBackend::Postgres(db) => db.transfer(actor, transfer, spend).await,
        }
    }

    async fn balance(&self, telegram_id: i64) -> Result<Option<BalanceRow>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.balance(telegram_id).await,
            AnyBackend::Postgres(db) => db.balance(telegram_id).await,
        }
    }

    async fn records(
        &self,
        telegram_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.records(telegram_id, before, limit).await,
            AnyBackend::Postgres(db) => db.records(telegram_id, before, limit).await,
        }
    }

    async fn verify(&self) -> Result<Findings, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.verify().await,
            AnyBackend::Postgres(db) => db.verify().await,
        }
    }

    async fn counts(&self) -> Result<Counts, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.counts().await,
            AnyBackend::Postgres(db) => db.counts().await,
        }
    }

    async fn console_session_create(&self, session: NewSession) -> Result<(), LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_session_create(session).await,
            AnyBackend::Postgres(db) => db.console_session_create(session).await,
        }
    }

    async fn console_session_find(
        &self,
        token_hash: String,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_session_find(token_hash, now_ms).await,
            AnyBackend::Postgres(db) => db.console_session_find(token_hash, now_ms).await,
        }
    }

    async fn console_session_delete(&self, token_hash: String) -> Result<(), LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_session_delete(token_hash).await,
            AnyBackend::Postgres(db) => db.console_session_delete(token_hash).await,
        }
    }

    async fn console_audit_append(&self, entry: AuditEntry) -> Result<bool, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_audit_append(entry).await,
            AnyBackend::Postgres(db) => db.console_audit_append(entry).await,
        }
    }

    async fn console_audit_list(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_audit_list(before, limit).await,
            AnyBackend::Postgres(db) => db.console_audit_list(before, limit).await,
        }
    }

    async fn console_totals(&self, now_ms: i64) -> Result<Totals, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_totals(now_ms).await,
            AnyBackend::Postgres(db) => db.console_totals(now_ms).await,
        }
    }

    async fn console_volumes(&self, since_ms: i64) -> Result<Vec<DayVolume>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_volumes(since_ms).await,
            AnyBackend::Postgres(db) => db.console_volumes(since_ms).await,
        }
    }

    async fn console_find_users(
        &self,
        prefix: String,
        limit: i64,
    ) -> Result<Vec<UserRow>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_find_users(prefix, limit).await,
            AnyBackend::Postgres(db) => db.console_find_users(prefix, limit).await,
        }
    }

    async fn console_reversals(&self, ids: Vec<i64>) -> Result<Vec<RecordRow>, LedgerError> {
        match self {
            AnyBackend::Sqlite(db) => db.console_reversals(ids).await,
            AnyBackend::Postgres(db) => db.console_reversals(ids).await,
        }
    }
}
