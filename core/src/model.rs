//! What the SDK's calls return: typed results in the guide's
//! `success` / `message` style, built from protocol responses or errors.

use crate::error::Error;
use crate::protocol::Code;

/// The outcome of one credit change (`add_credits`, `deduct_credits`, one batch item).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncResult {
    /// `true` when the change was applied (or replayed).
    pub success: bool,
    /// `ok`, or the error's stable code.
    pub code: Code,
    /// Human-readable text; never parse it.
    pub message: String,
    /// The user the change is for.
    pub telegram_id: i64,
    /// Signed change: negative for a deduct.
    pub change: i64,
    /// Balance after the change; on `insufficient_credits`, the current balance when known.
    pub balance: Option<i64>,
    /// The ledger record of the change.
    pub record_id: Option<i64>,
    /// `true` when the server had already applied this reference (a safe replay).
    pub duplicate: bool,
    /// The reference the change was sent with (the caller's, or the SDK's `auto-<uuid v7>`).
    pub reference: Option<String>,
    /// The error, when `success` is false.
    pub error: Option<Error>,
}

impl SyncResult {
    /// A failed result in the guide's style, for callers that check `success` instead of `Err`.
    pub fn failed(telegram_id: i64, change: i64, reference: Option<String>, error: Error) -> Self {
        let balance = match &error {
            Error::InsufficientCredits { balance, .. } => *balance,
            _ => None,
        };
        SyncResult {
            success: false,
            code: error.code(),
            message: error.message(),
            telegram_id,
            change,
            balance,
            record_id: None,
            duplicate: false,
            reference,
            error: Some(error),
        }
    }

    /// `Err` with the error when the result failed.
    pub fn into_result(self) -> Result<SyncResult, Error> {
        match self.error.clone() {
            Some(e) if !self.success => Err(e),
            _ => Ok(self),
        }
    }
}

/// One change of a batch, as the caller gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchEntry {
    /// The user to credit or debit.
    pub telegram_id: i64,
    /// Signed: positive adds, negative deducts.
    pub amount: i64,
    /// Free text up to 256 characters.
    pub reason: String,
    /// `None`: the SDK assigns a stable `auto-<uuid v7>` reference for this item.
    pub reference: Option<String>,
}

impl BatchEntry {
    /// A change without a reference (the SDK assigns one).
    pub fn new(telegram_id: i64, amount: i64, reason: impl Into<String>) -> Self {
        BatchEntry {
            telegram_id,
            amount,
            reason: reason.into(),
            reference: None,
        }
    }
    /// Sets the de-duplication reference.
    pub fn reference(mut self, reference: impl Into<String>) -> Self {
        self.reference = Some(reference.into());
        self
    }
}

/// The outcome of a batch: counts as in the guide, plus one result per item, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResult {
    /// `true` when every item succeeded.
    pub success: bool,
    /// `ok`, or `partial_failure` when an item failed.
    pub code: Code,
    /// Human-readable text; never parse it.
    pub message: String,
    /// How many items succeeded.
    pub succeeded: usize,
    /// How many items failed.
    pub failed: usize,
    /// One result per item, in the order given.
    pub results: Vec<SyncResult>,
}

pub use crate::protocol::{Balance, Record, RecordsPage, UserData};
