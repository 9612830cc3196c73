//! What the SDK's calls return: typed results in the guide's
//! `success` / `message` style, built from protocol responses or errors.

use crate::error::{Error, WriteError};
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
    /// After a failure whose outcome is unknown, send the change again with it.
    pub reference: Option<String>,
    /// HTTP attempts the call made (0 when it was refused before sending; a batch
    /// item shares its batch's count).
    pub attempts: u32,
    /// On failure: `true` when the same call may succeed later; with the same
    /// `reference` a retry never applies twice. `false` on success.
    pub retryable: bool,
    /// The server's `X-Request-Id` of the last answer, when one arrived.
    pub request_id: Option<String>,
    /// The error, when `success` is false.
    pub error: Option<Error>,
}

impl SyncResult {
    /// The failed result of a write, in the guide's style, for callers that check
    /// `success` instead of `Err`. It keeps everything the error knew: the reference the
    /// change was sent with, the attempts, whether a retry may help, the request id.
    pub fn failed(failure: WriteError) -> Self {
        let WriteError {
            error,
            reference,
            telegram_id,
            change,
            attempts,
            retryable,
            request_id,
        } = failure;
        let balance = match &error {
            Error::InsufficientCredits { balance, .. } => *balance,
            _ => None,
        };
        SyncResult {
            success: false,
            code: error.code(),
            message: error.message(),
            telegram_id: telegram_id.unwrap_or(0),
            change: change.unwrap_or(0),
            balance,
            record_id: None,
            duplicate: false,
            reference,
            attempts,
            retryable,
            request_id,
            error: Some(error),
        }
    }

    /// The one rule every binding applies to a single change's outcome: a failure the
    /// guide reports as `success == false` ([`Error::is_write_outcome`]) becomes a failed
    /// result; anything else stays `Err`.
    pub fn settle(outcome: Result<SyncResult, WriteError>) -> Result<SyncResult, WriteError> {
        match outcome {
            Ok(r) => Ok(r),
            Err(e) if e.error.is_write_outcome() => Ok(SyncResult::failed(e)),
            Err(e) => Err(e),
        }
    }

    /// The [`WriteError`] of a failed result (with its reference and attempts), or `Ok`.
    pub fn into_write_result(self) -> Result<SyncResult, WriteError> {
        match self.error.clone() {
            Some(error) if !self.success => Err(WriteError {
                error,
                reference: self.reference,
                telegram_id: Some(self.telegram_id),
                change: Some(self.change),
                attempts: self.attempts,
                retryable: self.retryable,
                request_id: self.request_id,
            }),
            _ => Ok(self),
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
    /// One result per item, in the order given (empty when the batch failed as a whole).
    pub results: Vec<SyncResult>,
    /// HTTP attempts the call made (0 when it was refused before sending).
    pub attempts: u32,
    /// When the batch failed as a whole: `true` when the same call may succeed later
    /// (each item keeps its reference, so a retry never applies one twice).
    pub retryable: bool,
    /// The server's `X-Request-Id` of the last answer, when one arrived.
    pub request_id: Option<String>,
    /// The error, when the batch failed as a whole.
    pub error: Option<Error>,
}

impl BatchResult {
    /// The result of a batch of `items` changes refused as a whole, in the guide's style:
    /// `success == false`, the error's `code`, none succeeded and every item failed.
    pub fn failed(items: usize, failure: WriteError) -> Self {
        BatchResult {
            success: false,
            code: failure.error.code(),
            message: failure.error.message(),
            succeeded: 0,
            failed: items,
            results: Vec::new(),
            attempts: failure.attempts,
            retryable: failure.retryable,
            request_id: failure.request_id,
            error: Some(failure.error),
        }
    }

    /// The batch rule of every binding, as [`SyncResult::settle`] is for one change.
    pub fn settle(
        items: usize,
        outcome: Result<BatchResult, WriteError>,
    ) -> Result<BatchResult, WriteError> {
        match outcome {
            Ok(r) => Ok(r),
            Err(e) if e.error.is_write_outcome() => Ok(BatchResult::failed(items, e)),
            Err(e) => Err(e),
        }
    }
}

/// The signed change of a deduct of `amount` (> 0): the one place the sign is made,
/// for the core and for bindings that report a change refused before sending.
pub fn deduct_change(amount: i64) -> i64 {
    amount.checked_neg().unwrap_or(i64::MIN)
}

/// The outcome of a money flow: a hold, its capture or void, a reversal, a transfer.
/// The guide's style, as [`SyncResult`] is for a change: check `success`; `data` is the
/// server's answer ([`HoldData`], [`ReverseData`], [`TransferData`]) when it succeeded.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowResult<T> {
    /// `true` when the call did what it asked (or replayed a call that had).
    pub success: bool,
    /// `ok`, or the error's stable code.
    pub code: Code,
    /// Human-readable text; never parse it.
    pub message: String,
    /// The answer, when `success`.
    pub data: Option<T>,
    /// The `external_reference` the call was sent with (the caller's, or the SDK's
    /// `auto-<uuid v7>`). After a failure whose outcome is unknown, call again with it.
    pub reference: Option<String>,
    /// HTTP attempts the call made (0 when it was refused before sending).
    pub attempts: u32,
    /// On failure: `true` when the same call may succeed later (with the same `reference`
    /// it never applies twice). `false` on success.
    pub retryable: bool,
    /// The server's `X-Request-Id` of the last answer, when one arrived.
    pub request_id: Option<String>,
    /// The error, when `success` is false.
    pub error: Option<Error>,
}

/// The outcome of `hold_credits`, `capture_hold` and `void_hold`.
pub type HoldResult = FlowResult<HoldData>;
/// The outcome of `reverse_record` and `refund_stars_payment`.
pub type ReverseResult = FlowResult<ReverseData>;
/// The outcome of `transfer_credits`.
pub type TransferResult = FlowResult<TransferData>;

impl<T> FlowResult<T> {
    /// A successful answer.
    pub(crate) fn answered(
        code: Code,
        message: String,
        data: T,
        reference: String,
        attempts: u32,
        request_id: Option<String>,
    ) -> Self {
        FlowResult {
            success: true,
            code,
            message,
            data: Some(data),
            reference: Some(reference),
            attempts,
            retryable: false,
            request_id,
            error: None,
        }
    }

    /// The failed result of a flow, in the guide's style; it keeps everything the error
    /// knew (the reference, the attempts, whether a retry may help, the request id).
    pub fn failed(failure: WriteError) -> Self {
        FlowResult {
            success: false,
            code: failure.error.code(),
            message: failure.error.message(),
            data: None,
            reference: failure.reference,
            attempts: failure.attempts,
            retryable: failure.retryable,
            request_id: failure.request_id,
            error: Some(failure.error),
        }
    }

    /// The flows' rule, the same one [`SyncResult::settle`] applies to a change: a failure
    /// the guide reports as `success == false` ([`Error::is_write_outcome`]) becomes a
    /// failed result; anything else stays `Err`.
    pub fn settle(outcome: Result<Self, WriteError>) -> Result<Self, WriteError> {
        match outcome {
            Ok(r) => Ok(r),
            Err(e) if e.error.is_write_outcome() => Ok(FlowResult::failed(e)),
            Err(e) => Err(e),
        }
    }

    /// `Err` with the error when the result failed.
    pub fn into_result(self) -> Result<Self, Error> {
        match self.error.clone() {
            Some(e) if !self.success => Err(e),
            _ => Ok(self),
        }
    }
}

impl FlowResult<HoldData> {
    /// The hold: as the call left it, or, when it failed with `hold_resolved`, its final
    /// state.
    pub fn hold(&self) -> Option<&Hold> {
        match (&self.data, &self.error) {
            (Some(data), _) => Some(&data.hold),
            (None, Some(Error::HoldResolved { hold, .. })) => hold.as_deref(),
            _ => None,
        }
    }
}

impl<T: Replayed> FlowResult<T> {
    /// `true` when the server had already done this call (the same reference): a safe replay.
    pub fn duplicate(&self) -> bool {
        self.data.as_ref().is_some_and(Replayed::duplicate)
    }
}

/// The answers that say whether they were a replay.
pub trait Replayed {
    fn duplicate(&self) -> bool;
}

impl Replayed for HoldData {
    fn duplicate(&self) -> bool {
        self.duplicate
    }
}

impl Replayed for ReverseData {
    fn duplicate(&self) -> bool {
        self.duplicate
    }
}

impl Replayed for TransferData {
    fn duplicate(&self) -> bool {
        self.duplicate
    }
}

/// The bindings' `reverse_record` / `reverseRecord` `reason` when the caller gives none
/// (Rust's [`Client::reverse_record`](crate::Client::reverse_record) takes it as an argument).
pub const DEFAULT_REVERSAL_REASON: &str = "reversal";

/// The record a reversal names: by its id, or by the `external_reference` it was made with
/// (the caller's own, for this source).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    Record(i64),
    Reference(String),
}

impl Original {
    /// The original from a binding's two optional arguments (Python's `record_id=` and
    /// `reference=`): exactly one must be given (`invalid_argument` otherwise).
    pub fn from_parts(record_id: Option<i64>, reference: Option<String>) -> Result<Self, Error> {
        match (record_id, reference) {
            (Some(id), None) => Ok(Original::Record(id)),
            (None, Some(reference)) => Ok(Original::Reference(reference)),
            (None, None) => Err(Error::invalid_argument(
                "name the record to reverse: give its record_id or its reference",
            )),
            (Some(_), Some(_)) => Err(Error::invalid_argument(
                "give the record's record_id or its reference, not both",
            )),
        }
    }
}

pub use crate::protocol::{
    Balance, Hold, HoldData, HoldState, Record, RecordsPage, ReverseData, TransferData,
    TransferLeg, UserData,
};

/// A user's open holds and balance view (`get_holds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holds {
    pub telegram_id: i64,
    pub credits: i64,
    pub held: i64,
    pub available: i64,
    /// Oldest first.
    pub holds: Vec<Hold>,
}
