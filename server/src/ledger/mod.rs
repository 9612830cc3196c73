//! The ledger's promises in one place: a balance changes only together with its record,
//! a reference applies once per source forever, and no balance ever goes below zero.
//!
//! The rules that do not depend on the database (replay and conflict comparison, request
//! hashing, timestamps, cursors, verify's report) live here and in `reads`/`verify`, above
//! the [`LedgerBackend`] trait; each backend module only runs its own SQL.

mod backend;
mod error;
pub mod hold;
mod postgres;
mod reads;
pub mod reversal;
pub mod rows;
mod spend;
mod sqlite;
pub(crate) use postgres::ledger_error as postgres_error;
pub(crate) use sqlite::ledger_error as sqlite_error;
pub(crate) use sqlite::raw as sqlite_raw;
pub(crate) use sqlite::UNKNOWN_MARK as SQLITE_UNKNOWN_MARK;
pub(crate) use sqlite::{Job as SqliteJob, Step as SqliteStep};
pub mod transfer;
mod url;
mod verify;

pub use backend::{AnyBackend, LedgerBackend};
pub use error::LedgerError;
pub use postgres::PgLedger;
pub use reads::{decode_cursor, encode_cursor};
pub use spend::Spend;
pub use sqlite::SqliteLedger;
pub use url::redact;

pub use hold::{HoldApplied, HoldOutcome, NewHold, Resolution, Resolve};
pub use reversal::{Reversal, ReverseOutcome, Reversed, Target};
pub use transfer::{Leg, Transfer, TransferOutcome, Transferred};

use credit_sync::protocol::{messages, Code};
use rows::{BalanceRow, HoldRow, OriginalRecord};
use sha2::{Digest, Sha256};
use spend::reused;
use std::future::Future;

/// One requested change of a user's balance (already validated).
#[derive(Debug, Clone)]
pub struct Change {
    pub telegram_id: i64,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
}

/// Who asks for a change, and whether unknown users may be registered on their behalf.
#[derive(Debug, Clone)]
pub struct Actor {
    pub source: String,
    pub auto_register: bool,
    /// An `admin` source may also resolve other sources' holds and reverse their records.
    pub admin: bool,
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
    /// For `hold_resolved`: the hold's final state (the backend fills in the balance view).
    pub hold: Option<Box<HoldApplied>>,
}

impl Refusal {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            balance: None,
            fields: Vec::new(),
            hold: None,
        }
    }

    /// `reference_conflict`: the reference was used before, and these fields differ
    /// (`operation`: by another kind of operation).
    fn conflict(fields: &[&str]) -> Self {
        Refusal {
            fields: fields.iter().map(|f| f.to_string()).collect(),
            ..Refusal::new(
                Code::ReferenceConflict,
                format!(
                    "external_reference was already used with a different {}",
                    fields.join(", ")
                ),
            )
        }
    }

    /// `hold_resolved`, without the hold's state yet (see [`Refusal::with_hold`]).
    fn hold_resolved(hold_id: &str, state: credit_sync::protocol::HoldState) -> Self {
        Refusal::new(
            Code::HoldResolved,
            format!("hold {hold_id} is already {}", state.as_str()),
        )
    }

    /// This refusal with the hold's final state and its user's balance view.
    pub fn with_hold(self, hold: HoldApplied) -> Self {
        Refusal {
            balance: Some(hold.credits),
            hold: Some(Box::new(hold)),
            ..self
        }
    }

    /// A deduct (or hold, or transfer) of `amount` (negative) that the available balance
    /// (`credits - held`) does not cover.
    pub fn unavailable(credits: i64, held: i64, amount: i64) -> Self {
        if held == 0 {
            return Refusal::insufficient(credits, amount);
        }
        Refusal {
            balance: Some(credits),
            ..Refusal::new(
                Code::InsufficientCredits,
                format!(
                    "insufficient credits: balance {credits}, of which {held} held, available {}, deduct {}",
                    credits - held,
                    amount.unsigned_abs()
                ),
            )
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

/// How [`Ledger::connect`] opens a database.
enum Opening {
    /// For `serve`: created if missing, and held against a second serving process.
    Serve,
    /// Created if missing (registering a user, tests).
    Create,
    /// It must exist (admin commands).
    Existing,
}

/// The ledger over one of the supported databases, chosen by the URL's scheme.
#[derive(Clone)]
pub struct Ledger {
    backend: AnyBackend,
}

impl Ledger {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<Ledger, String> {
        Ledger::connect(url, Opening::Create).await
    }

    /// Opens a database that must already exist (admin commands: a mistyped path must not
    /// turn into a fresh, empty, "consistent" ledger).
    pub async fn open_existing(url: &str) -> Result<Ledger, String> {
        Ledger::connect(url, Opening::Existing).await
    }

    /// Opens (creating if needed) the database at `url` for `serve`: on SQLite it is
    /// refused while another process serves the file (one process serves a SQLite file;
    /// several instances share a PostgreSQL database).
    pub async fn serve(url: &str) -> Result<Ledger, String> {
        Ledger::connect(url, Opening::Serve).await
    }

    async fn connect(url: &str, opening: Opening) -> Result<Ledger, String> {
        let create = !matches!(opening, Opening::Existing);
        let backend = if url::is_postgres(url) {
            AnyBackend::Postgres(PgLedger::open(url, create).await?)
        } else if url::is_sqlite(url) {
            AnyBackend::Sqlite(match opening {
                Opening::Serve => SqliteLedger::serve(url).await?,
                _ => SqliteLedger::open(url, create).await?,
            })
        } else {
            return Err(format!(
                "unsupported database {:?}: use a sqlite:// or postgres:// URL",
                redact(url)
            ));
        };
        Ok(Ledger { backend })
    }

    /// The backend, for callers that drive it directly (tests of the seam).
    pub fn backend(&self) -> &AnyBackend {
        &self.backend
    }

    pub async fn close(&self) {
        self.backend.close().await
    }

    /// A trivial query, for the health check.
    pub async fn ping(&self) -> Result<(), LedgerError> {
        self.backend.ping().await
    }

    /// The backend's own Prometheus lines (SQLite: the group-commit sizes).
    pub fn backend_metrics(&self, out: &mut String) {
        self.backend.render_metrics(out)
    }

    /// Applies one change atomically: checked, balance and record written together, and
    /// its signature spent with them. A refused change spends its signature too (its
    /// answer stays final); a replay of the same referenced change spends nothing.
    pub async fn apply(
        &self,
        actor: Actor,
        change: Change,
        spend: Spend,
    ) -> Result<Outcome, LedgerError> {
        self.backend.apply(actor, change, spend).await
    }

    /// Applies many changes in one transaction (see [`LedgerBackend::apply_batch`]).
    pub async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
        spend: Spend,
    ) -> Result<Result<Vec<Outcome>, Refusal>, LedgerError> {
        self.backend
            .apply_batch(actor, changes, atomic, spend)
            .await
    }

    /// Registers a user, or updates the nickname of a known one (when `nickname` is given),
    /// for the operator (`users add`: no signature).
    pub async fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
    ) -> Result<User, LedgerError> {
        self.backend
            .register(telegram_id, nickname, None)
            .await?
            .map_err(|r| {
                LedgerError::internal(format!(
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
    ) -> Result<Result<User, Refusal>, LedgerError> {
        self.backend
            .register(telegram_id, nickname, Some(spend))
            .await
    }
}

impl Ledger {
    /// Places a hold on the user's available credits (see [`LedgerBackend::place_hold`]).
    pub async fn place_hold(
        &self,
        actor: Actor,
        hold: NewHold,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        self.backend.place_hold(actor, hold, spend).await
    }

    /// Captures or voids a hold (see [`LedgerBackend::resolve_hold`]).
    pub async fn resolve_hold(
        &self,
        actor: Actor,
        resolve: Resolve,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        self.backend.resolve_hold(actor, resolve, spend).await
    }

    /// A user's balance and open holds; `None` for an unknown user.
    pub async fn holds(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(BalanceRow, Vec<HoldRow>)>, LedgerError> {
        self.backend.holds(telegram_id).await
    }

    /// Reverses all or part of a record (see [`LedgerBackend::reverse`]).
    pub async fn reverse(
        &self,
        actor: Actor,
        reversal: Reversal,
        spend: Spend,
    ) -> Result<ReverseOutcome, LedgerError> {
        self.backend.reverse(actor, reversal, spend).await
    }

    /// Moves credits between two users (see [`LedgerBackend::transfer`]).
    pub async fn transfer(
        &self,
        actor: Actor,
        transfer: Transfer,
        spend: Spend,
    ) -> Result<TransferOutcome, LedgerError> {
        self.backend.transfer(actor, transfer, spend).await
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
fn replay(change: &Change, original: OriginalRecord) -> Outcome {
    use credit_sync::protocol::fields;
    if original.hold_id.is_some() || original.reverses.is_some() || original.transfer_id.is_some() {
        return Err(Refusal::conflict(&[fields::OPERATION]));
    }
    let mut differ = Vec::new();
    if original.telegram_id != change.telegram_id {
        differ.push(fields::TELEGRAM_ID);
    }
    if original.change != change.amount {
        differ.push(fields::AMOUNT);
    }
    if original.reason != change.reason {
        differ.push(fields::REASON);
    }
    if !differ.is_empty() {
        return Err(Refusal::conflict(&differ));
    }
    Ok(Applied {
        record_id: original.id,
        telegram_id: original.telegram_id,
        change: original.change,
        balance: original.balance_after,
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

/// The server's clock in Unix milliseconds: what hold expiry is judged by, on both
/// backends (never the database's clock).
pub fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (a hold's `expires_at`).
pub fn rfc3339_ms(ms: i64) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "9999-12-31T23:59:59.999Z".to_string())
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
        let original = |telegram_id, change| OriginalRecord {
            id: 9,
            telegram_id,
            source: "s".into(),
            change,
            reason: "a".into(),
            balance_after: 5,
            hold_id: None,
            reverses: None,
            transfer_id: None,
        };
        assert!(replay(&change, original(1, 5)).unwrap().duplicate);
        let err = replay(&change, original(2, 6)).unwrap_err();
        assert_eq!(err.code, Code::ReferenceConflict);
        assert_eq!(err.fields, ["telegram_id", "amount"]);
        let capture = OriginalRecord {
            hold_id: Some("hold_1".into()),
            ..original(1, 5)
        };
        assert_eq!(replay(&change, capture).unwrap_err().fields, ["operation"]);
        assert_eq!(rfc3339_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
