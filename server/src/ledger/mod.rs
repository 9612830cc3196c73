//! The ledger's promises in one place: a balance changes only together with its record,
//! a reference applies once per source forever, and no balance ever goes below zero.

//!
//! The rules that do not depend on the database (replay and conflict comparison, request
//! hashing, timestamps, cursors, verify's report) live here and in `reads`/`verify`; each
//! backend module only runs its own SQL.

mod postgres;
mod reads;
mod sqlite;
mod verify;

pub use reads::{decode_cursor, encode_cursor};
pub(crate) use sqlite::{is_unavailable, SqliteFailure};

use credit_sync::protocol::{messages, Code};
use sha2::{Digest, Sha256};
use std::future::Future;

/// One requested change of a user's balance (already validated).
#[derive(Debug, Clone)]
pub struct Change {
    pub telegram_id: i64,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
}

/// The signatures that authorized one write request (a v2 header's hex, or the v1 tokens
/// of its changes). They are spent in the write's own transaction, so each authorizes one
/// write within the timestamp window, on every process sharing the database; a request
/// that brings a spent one is refused (see [`reused`]).
#[derive(Debug, Clone)]
pub struct Spend {
    /// The source whose secret made them (the key's scope).
    source: String,
    /// The first 64 bits of each signature (see [`Spend::new`]); sorted and distinct, so
    /// two transactions always take their keys in one order.
    keys: Vec<i64>,
    /// The Unix seconds the signature covers. The first column of the key: a signature is
    /// only valid with its own timestamp, and keyed by time the rows are inserted nearly
    /// in order and pruned from the front.
    signed_at: i64,
    /// The window the signature was accepted in, for pruning.
    tolerance: i64,
}

/// Kept a little past the window, so a server clock stepped back cannot bring a pruned
/// signature back into it.
const SPENT_MARGIN_SECS: i64 = 60;

impl Spend {
    /// `source`'s signatures (lower-case hex, already verified) signed at `signed_at`,
    /// accepted within `tolerance` seconds of it.
    ///
    /// A signature is kept as its first 64 bits, beside its timestamp: an 18-byte row, so
    /// one second of writes fills few pages and a group commit writes few. Two different
    /// valid signatures of one source and second share those bits with a chance of about
    /// n² / 2⁶⁵ (n signatures in that second), and only a valid signature is ever spent.
    pub fn new(source: &str, signatures: Vec<String>, signed_at: i64, tolerance: i64) -> Spend {
        let mut keys: Vec<i64> = signatures
            .iter()
            .map(|hex| {
                let prefix = hex.get(..16).unwrap_or(hex);
                u64::from_str_radix(prefix, 16).unwrap_or(0) as i64
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        Spend {
            source: source.to_string(),
            keys,
            signed_at,
            tolerance,
        }
    }

    /// Signatures signed before this are outside every window now and can be pruned.
    fn prune_before(&self) -> i64 {
        crate::error::unix_now()
            .saturating_sub(self.tolerance)
            .saturating_sub(SPENT_MARGIN_SECS)
    }
}

/// The answer to a write whose signature was already spent: only the same referenced
/// change (an idempotent retry, `original` is its replay) is answered as before; anything
/// else would be a captured signature used again, and writes nothing.
fn reused(original: Option<Outcome>) -> Outcome {
    match original {
        Some(Ok(applied)) => Ok(applied),
        _ => Err(Refusal::signature_reused()),
    }
}

/// Who asks for a change, and whether unknown users may be registered on their behalf.
#[derive(Debug, Clone)]
pub struct Actor {
    pub source: String,
    pub auto_register: bool,
}

/// A change that is in the ledger (now, or already before: `duplicate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub record_id: i64,
    pub telegram_id: i64,
    pub change: i64,
    pub balance: i64,
    pub duplicate: bool,
}

/// A change the ledger refused; nothing was written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
    /// The current balance, when it explains the refusal.
    pub balance: Option<i64>,
    /// For `reference_conflict`: the fields that differ from the original.
    pub fields: Vec<String>,
}

impl Refusal {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            balance: None,
            fields: Vec::new(),
        }
    }

    fn user_not_found(telegram_id: i64) -> Self {
        Refusal::new(
            Code::UserNotFound,
            format!("user {telegram_id} is not registered"),
        )
    }

    /// Adding `amount` to `credits` would leave the range of a balance.
    fn balance_overflow(credits: i64, amount: i64) -> Self {
        Refusal {
            balance: Some(credits),
            ..Refusal::new(
                Code::BalanceOverflow,
                format!("adding {amount} to the balance {credits} would overflow"),
            )
        }
    }

    /// Deducting `amount` (negative) from `credits` would go below zero.
    fn insufficient(credits: i64, amount: i64) -> Self {
        Refusal {
            balance: Some(credits),
            ..Refusal::new(
                Code::InsufficientCredits,
                format!(
                    "insufficient credits: balance {credits}, deduct {}",
                    amount.unsigned_abs()
                ),
            )
        }
    }

    fn signature_reused() -> Self {
        Refusal::new(Code::SignatureReused, messages::SIGNATURE_REUSED)
    }

    pub fn aborted() -> Self {
        Refusal::new(
            Code::BatchAborted,
            "not applied: another item of the atomic batch failed",
        )
    }
}

pub type Outcome = Result<Applied, Refusal>;

/// A registered (or updated) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub telegram_id: i64,
    pub credits: i64,
    pub nickname: Option<String>,
    pub created: bool,
}

/// One row of `records` as read for a page: id, change, balance_after, reason, source,
/// external_reference, created_at.
type RecordRow = (i64, i64, i64, String, String, Option<String>, String);

/// The ledger over one of the supported databases, chosen by the URL's scheme.
#[derive(Clone)]
pub struct Ledger {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteLedger),
    Postgres(postgres::PgLedger),
}

/// Runs `$call` on whichever backend the ledger has.
macro_rules! dispatch {
    ($ledger:expr, $db:ident => $call:expr) => {
        match &$ledger.backend {
            Backend::Sqlite($db) => $call,
            Backend::Postgres($db) => $call,
        }
    };
}
pub(crate) use dispatch;

impl Ledger {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<Ledger, String> {
        Ledger::connect(url, true).await
    }

    /// Opens a database that must already exist (admin commands: a mistyped path must not
    /// turn into a fresh, empty, "consistent" ledger).
    pub async fn open_existing(url: &str) -> Result<Ledger, String> {
        Ledger::connect(url, false).await
    }

    async fn connect(url: &str, create: bool) -> Result<Ledger, String> {
        let backend = if postgres::is_postgres_url(url) {
            Backend::Postgres(postgres::PgLedger::open(url, create).await?)
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite(sqlite::SqliteLedger::open(url, create).await?)
        } else {
            return Err(format!(
                "unsupported database {:?}: use a sqlite:// or postgres:// URL",
                crate::store::redact(url)
            ));
        };
        Ok(Ledger { backend })
    }

    pub async fn close(&self) {
        dispatch!(self, db => db.close().await)
    }

    /// A trivial query, for the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.ping().await)
    }

    /// The backend's own Prometheus lines (SQLite: the group-commit sizes).
    pub fn backend_metrics(&self, out: &mut String) {
        match &self.backend {
            Backend::Sqlite(db) => db.group_commit_metrics(out),
            Backend::Postgres(_) => {}
        }
    }

    /// Applies one change atomically: checked, balance and record written together, and
    /// its signature spent with them. A refused change spends its signature too (its
    /// answer stays final); a replay of the same referenced change spends nothing.
    pub async fn apply(
        &self,
        actor: Actor,
        change: Change,
        spend: Spend,
    ) -> Result<Outcome, sqlx::Error> {
        dispatch!(self, db => db.apply(actor, change, spend).await)
    }

    /// Applies many changes in one transaction, each on its own rules. With `atomic`, the
    /// first refusal rolls every change back (the signatures stay spent) and every other
    /// change reports `batch_aborted`. `Err(refusal)`: the request's signature was spent
    /// and it is not a replay of the same referenced changes; nothing was written.
    pub async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
        spend: Spend,
    ) -> Result<Result<Vec<Outcome>, Refusal>, sqlx::Error> {
        dispatch!(self, db => db.apply_batch(actor, changes, atomic, spend).await)
    }

    /// Registers a user, or updates the nickname of a known one (when `nickname` is given),
    /// for the operator (`users add`: no signature).
    pub async fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
    ) -> Result<User, sqlx::Error> {
        dispatch!(self, db => db.register(telegram_id, nickname, None).await)?.map_err(|r| {
            sqlx::Error::Protocol(format!(
                "an unsigned registration was refused: {}",
                r.message
            ))
        })
    }

    /// [`Ledger::register`] for `POST /api/users`: the signature is spent with it.
    pub async fn register_signed(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
        spend: Spend,
    ) -> Result<Result<User, Refusal>, sqlx::Error> {
        dispatch!(self, db => db.register(telegram_id, nickname, Some(spend)).await)
    }
}

/// The outcomes of an atomic batch whose item `failed` was refused: that refusal, and
/// `batch_aborted` for every other item.
fn aborted_batch(len: usize, failed: usize, refusal: Outcome) -> Vec<Outcome> {
    let mut all: Vec<Outcome> = (0..len).map(|_| Err(Refusal::aborted())).collect();
    all[failed] = refusal;
    all
}

/// Runs a write on its own task, so a client that disconnects mid-request cannot cancel it
/// halfway: the transaction commits or rolls back as a whole; only the answer is lost.
async fn detached<T: Send + 'static>(
    write: impl Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, sqlx::Error> {
    tokio::spawn(write)
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("ledger task failed: {e}")))?
}

/// The answer to a reference seen before: the original result, or the fields that differ.
fn replay(
    change: &Change,
    record_id: i64,
    telegram_id: i64,
    amount: i64,
    reason: &str,
    balance_after: i64,
) -> Outcome {
    use credit_sync::protocol::fields;
    let mut differ = Vec::new();
    if telegram_id != change.telegram_id {
        differ.push(fields::TELEGRAM_ID.to_string());
    }
    if amount != change.amount {
        differ.push(fields::AMOUNT.to_string());
    }
    if reason != change.reason {
        differ.push(fields::REASON.to_string());
    }
    if !differ.is_empty() {
        return Err(Refusal {
            message: format!(
                "external_reference was already used with a different {}",
                differ.join(", ")
            ),
            fields: differ,
            ..Refusal::new(Code::ReferenceConflict, "")
        });
    }
    Ok(Applied {
        record_id,
        telegram_id,
        change: amount,
        balance: balance_after,
        duplicate: true,
    })
}

/// A fingerprint of what was asked, kept with the record for audits.
fn request_hash(source: &str, change: &Change) -> String {
    let text = format!(
        "{source}\n{}\n{}\n{}\n{}",
        change.telegram_id,
        change.amount,
        change.reason,
        change.reference.as_deref().unwrap_or("")
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-25T11:20:49.123Z`.
pub fn now_rfc3339() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("a UTC time always formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_names_the_differing_fields() {
        let change = Change {
            telegram_id: 1,
            amount: 5,
            reason: "a".into(),
            reference: Some("x".into()),
        };
        assert!(replay(&change, 9, 1, 5, "a", 5).unwrap().duplicate);
        let err = replay(&change, 9, 2, 6, "a", 5).unwrap_err();
        assert_eq!(err.code, Code::ReferenceConflict);
        assert_eq!(err.fields, ["telegram_id", "amount"]);
    }
}
