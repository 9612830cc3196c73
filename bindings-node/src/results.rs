//! Core results to plain JS objects with camelCase fields, matching the Python
//! package's results (`success`, `code`, `message`, `balance`, `duplicate`,
//! `recordId`, `data`, `reference`, `attempts`, `retryable`, `requestId`).
//!
//! Integers are never rounded silently: a JS number holds integers exactly only up to
//! 2^53−1, so by default a larger value fails the call with `unsafe_integer`, and a
//! client made with `bigint: true` returns every integer field as a `BigInt`.

use credit_sync::model::{FlowResult, HoldData, ReverseData, TransferData};
use credit_sync::{model, Code, Error};
use napi::bindgen_prelude::{BigInt, Either};
use napi_derive::napi;

/// An integer field: a `number` by default, a `bigint` for a `bigint: true` client. The
/// structs spell it out, since napi's generated `.d.ts` would not know this alias.
pub type Int = Either<f64, BigInt>;

/// How a client returns integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ints {
    /// JS numbers; a value beyond ±(2^53−1) is the error `unsafe_integer`.
    Number,
    /// `BigInt`s, exact for every i64.
    BigInt,
}

/// 2^53 − 1, the largest integer a JS number holds exactly.
const MAX_SAFE: i64 = 9_007_199_254_740_991;

impl Ints {
    fn int(self, name: &str, v: i64) -> Result<Int, Error> {
        match self {
            Ints::BigInt => Ok(Either::B(BigInt::from(v))),
            Ints::Number if (-MAX_SAFE..=MAX_SAFE).contains(&v) => Ok(Either::A(v as f64)),
            Ints::Number => Err(Error::Server {
                code: Code::UnsafeInteger,
                status: 0,
                message: format!(
                    "{name} is {v}, beyond what a JS number holds exactly (2^53-1); the call \
                     itself completed on the server. Create the client with `bigint: true` to \
                     get integers as BigInt"
                ),
            }),
        }
    }

    fn opt(self, name: &str, v: Option<i64>) -> Result<Option<Int>, Error> {
        v.map(|v| self.int(name, v)).transpose()
    }
}

/// `data` of a successful credit change.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct SyncData {
    pub record_id: Either<f64, BigInt>,
    pub telegram_id: Either<f64, BigInt>,
    /// Signed change: negative for a deduct.
    pub change: Either<f64, BigInt>,
    pub balance: Either<f64, BigInt>,
    pub duplicate: bool,
}

/// The outcome of one credit change, in the guide's style: check `success`.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct SyncResult {
    pub success: bool,
    /// `"ok"`, or the stable error code (`insufficient_credits`, ...).
    pub code: String,
    pub message: String,
    /// Balance after the change; on `insufficient_credits`, the current balance when known.
    pub balance: Option<Either<f64, BigInt>>,
    /// `true` when the server had already applied this reference (a safe replay).
    pub duplicate: bool,
    pub record_id: Option<Either<f64, BigInt>>,
    pub telegram_id: Either<f64, BigInt>,
    pub change: Either<f64, BigInt>,
    /// The reference the change was sent with (the caller's, or the SDK's `auto-<uuid v7>`).
    /// After a failure with an unknown outcome, send the change again with it.
    pub reference: Option<String>,
    /// HTTP attempts the call made (0 when it was refused before sending).
    pub attempts: u32,
    /// On failure: `true` when the same call may succeed later (with the same reference
    /// a retry never applies twice).
    pub retryable: bool,
    /// The server's `X-Request-Id` of the last answer, when one arrived.
    pub request_id: Option<String>,
    /// On failure, the core's error kind, which `throwIfFailed` maps to an error class.
    pub kind: Option<String>,
    /// On a validation failure, the field at fault.
    pub field: Option<String>,
    /// On `reference_conflict`, the fields that differ.
    pub fields: Option<Vec<String>>,
    /// On `timestamp_out_of_window`, the server clock (Unix seconds).
    pub server_time: Option<Either<f64, BigInt>>,
    /// On `rate_limited`, the server's hint.
    pub retry_after_ms: Option<f64>,
    /// On a server failure, the HTTP status.
    pub status: Option<u32>,
    /// `null` when the change failed.
    pub data: Option<SyncData>,
}

/// The error details a failed result carries, so `throwIfFailed` builds the same error
/// the call would have rejected with.
struct Details {
    kind: Option<String>,
    field: Option<String>,
    fields: Option<Vec<String>>,
    server_time: Option<i64>,
    retry_after_ms: Option<f64>,
    status: Option<u32>,
    balance: Option<i64>,
}

fn details(error: Option<&Error>) -> Details {
    let mut d = Details {
        kind: error.map(|e| e.kind().as_str().to_string()),
        field: None,
        fields: None,
        server_time: None,
        retry_after_ms: None,
        status: None,
        balance: None,
    };
    match error {
        Some(Error::InsufficientCredits { balance, .. }) => d.balance = *balance,
        Some(Error::Validation { field, .. }) => d.field = field.clone(),
        Some(Error::ReferenceConflict { fields, .. }) => d.fields = Some(fields.clone()),
        Some(Error::Timestamp { server_time, .. }) => d.server_time = *server_time,
        Some(Error::RateLimited { retry_after, .. }) => {
            d.retry_after_ms = retry_after.map(|r| r.as_millis() as f64)
        }
        Some(Error::Server { status, .. }) => d.status = Some(u32::from(*status)),
        _ => {}
    }
    d
}

impl SyncResult {
    pub fn convert(r: model::SyncResult, ints: Ints) -> Result<Self, Error> {
        let data = match (r.success, r.record_id, r.balance) {
            (true, Some(record_id), Some(balance)) => Some(SyncData {
                record_id: ints.int("recordId", record_id)?,
                telegram_id: ints.int("telegramId", r.telegram_id)?,
                change: ints.int("change", r.change)?,
                balance: ints.int("balance", balance)?,
                duplicate: r.duplicate,
            }),
            _ => None,
        };
        let d = details(r.error.as_ref());
        Ok(SyncResult {
            success: r.success,
            code: r.code.as_str().to_string(),
            message: r.message,
            balance: ints.opt("balance", r.balance)?,
            duplicate: r.duplicate,
            record_id: ints.opt("recordId", r.record_id)?,
            telegram_id: ints.int("telegramId", r.telegram_id)?,
            change: ints.int("change", r.change)?,
            reference: r.reference,
            attempts: r.attempts,
            retryable: r.retryable,
            request_id: r.request_id,
            kind: d.kind,
            field: d.field,
            fields: d.fields,
            server_time: ints.opt("serverTime", d.server_time)?,
            retry_after_ms: d.retry_after_ms,
            status: d.status,
            data,
        })
    }
}

/// `data` of a batch: `success` and `failed` are counts, as in the guide.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct BatchData {
    pub success: u32,
    pub failed: u32,
    /// One result per item, in order (empty when the batch was refused as a whole).
    pub results: Vec<SyncResult>,
}

/// The outcome of a batch. `success` is true when every item succeeded.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct BatchResult {
    pub success: bool,
    /// `"ok"`, `"partial_failure"`, or the error code of a batch refused as a whole.
    pub code: String,
    pub message: String,
    /// HTTP attempts the call made.
    pub attempts: u32,
    /// When refused as a whole: `true` when the same call may succeed later.
    pub retryable: bool,
    /// The server's `X-Request-Id` of the last answer, when one arrived.
    pub request_id: Option<String>,
    /// When refused as a whole, the core's error kind (see `throwIfFailed`).
    pub kind: Option<String>,
    /// When refused as a whole for bad input, the field at fault (`items[3].amount`).
    pub field: Option<String>,
    /// When refused with `timestamp_out_of_window`, the server clock.
    pub server_time: Option<Either<f64, BigInt>>,
    /// When refused with `rate_limited`, the server's hint.
    pub retry_after_ms: Option<f64>,
    /// When refused by a server failure, the HTTP status.
    pub status: Option<u32>,
    pub data: BatchData,
}

impl BatchResult {
    pub fn convert(r: model::BatchResult, ints: Ints) -> Result<Self, Error> {
        let d = details(r.error.as_ref());
        Ok(BatchResult {
            success: r.success,
            code: r.code.as_str().to_string(),
            message: r.message,
            attempts: r.attempts,
            retryable: r.retryable,
            request_id: r.request_id,
            kind: d.kind,
            field: d.field,
            server_time: ints.opt("serverTime", d.server_time)?,
            retry_after_ms: d.retry_after_ms,
            status: d.status,
            data: BatchData {
                success: r.succeeded as u32,
                failed: r.failed as u32,
                results: r
                    .results
                    .into_iter()
                    .map(|x| SyncResult::convert(x, ints))
                    .collect::<Result<_, _>>()?,
            },
        })
    }
}

/// A user's balance.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct Balance {
    pub telegram_id: Either<f64, BigInt>,
    /// The sum of the user's records.
    pub credits: Either<f64, BigInt>,
    /// The sum of the open holds.
    pub held: Either<f64, BigInt>,
    /// `credits - held`: what deducts, holds and transfers may take.
    pub available: Either<f64, BigInt>,
    pub nickname: Option<String>,
}

impl Balance {
    pub fn convert(b: model::Balance, ints: Ints) -> Result<Self, Error> {
        Ok(Balance {
            telegram_id: ints.int("telegramId", b.telegram_id)?,
            credits: ints.int("credits", b.credits)?,
            held: ints.int("held", b.held)?,
            available: ints.int("available", b.available.unwrap_or(b.credits))?,
            nickname: b.nickname,
        })
    }
}

/// One hold.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct Hold {
    pub hold_id: String,
    pub telegram_id: Either<f64, BigInt>,
    /// The source that placed it.
    pub source: String,
    /// What was reserved.
    pub amount: Either<f64, BigInt>,
    /// What a capture charged (0 unless `captured`).
    pub captured: Either<f64, BigInt>,
    /// `"open"`, `"captured"`, `"voided"` or `"expired"`.
    pub state: String,
    pub reason: String,
    pub external_reference: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: from then on the hold no longer counts and cannot be captured.
    pub expires_at: String,
    pub resolved_at: Option<String>,
    /// The deduction a capture wrote.
    pub record_id: Option<Either<f64, BigInt>>,
}

impl Hold {
    pub fn convert(h: &model::Hold, ints: Ints) -> Result<Self, Error> {
        Ok(Hold {
            hold_id: h.hold_id.clone(),
            telegram_id: ints.int("telegramId", h.telegram_id)?,
            source: h.source.clone(),
            amount: ints.int("amount", h.amount)?,
            captured: ints.int("captured", h.captured)?,
            state: h.state.as_str().to_string(),
            reason: h.reason.clone(),
            external_reference: h.external_reference.clone(),
            created_at: h.created_at.clone(),
            expires_at: h.expires_at.clone(),
            resolved_at: h.resolved_at.clone(),
            record_id: ints.opt("recordId", h.record_id)?,
        })
    }
}

/// A user's open holds (oldest first) and balance view.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct Holds {
    pub telegram_id: Either<f64, BigInt>,
    pub credits: Either<f64, BigInt>,
    pub held: Either<f64, BigInt>,
    pub available: Either<f64, BigInt>,
    pub holds: Vec<Hold>,
}

impl Holds {
    pub fn convert(h: model::Holds, ints: Ints) -> Result<Self, Error> {
        Ok(Holds {
            telegram_id: ints.int("telegramId", h.telegram_id)?,
            credits: ints.int("credits", h.credits)?,
            held: ints.int("held", h.held)?,
            available: ints.int("available", h.available)?,
            holds: h
                .holds
                .iter()
                .map(|x| Hold::convert(x, ints))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// What every flow result shares, converted once: the guide's fields, what a retry
/// needs, and the error's details for `throwIfFailed`.
struct Common {
    success: bool,
    code: String,
    message: String,
    reference: Option<String>,
    attempts: u32,
    retryable: bool,
    request_id: Option<String>,
    kind: Option<String>,
    field: Option<String>,
    fields: Option<Vec<String>>,
    server_time: Option<Int>,
    retry_after_ms: Option<f64>,
    status: Option<u32>,
    balance: Option<Int>,
}

fn common<T>(r: &FlowResult<T>, ints: Ints) -> Result<Common, Error> {
    let d = details(r.error.as_ref());
    Ok(Common {
        success: r.success,
        code: r.code.as_str().to_string(),
        message: r.message.clone(),
        reference: r.reference.clone(),
        attempts: r.attempts,
        retryable: r.retryable,
        request_id: r.request_id.clone(),
        kind: d.kind,
        field: d.field,
        fields: d.fields,
        server_time: ints.opt("serverTime", d.server_time)?,
        retry_after_ms: d.retry_after_ms,
        status: d.status,
        balance: ints.opt("balance", d.balance)?,
    })
}

/// The outcome of `holdCredits`, `captureHold` and `voidHold`, in the guide's style.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct HoldResult {
    pub success: bool,
    pub code: String,
    pub message: String,
    /// `true` when the server had already done this call (a safe replay).
    pub duplicate: bool,
    /// The hold's id (pass it to `captureHold` / `voidHold`).
    pub hold_id: Option<String>,
    /// The hold as the call left it, or on `hold_resolved` its final state.
    pub hold: Option<Hold>,
    /// The balance view after the call.
    pub credits: Option<Either<f64, BigInt>>,
    pub held: Option<Either<f64, BigInt>>,
    pub available: Option<Either<f64, BigInt>>,
    /// On `insufficient_credits`, the current balance when known.
    pub balance: Option<Either<f64, BigInt>>,
    /// The reference the call was sent with (yours, or the SDK's `auto-<uuid v7>`).
    pub reference: Option<String>,
    pub attempts: u32,
    pub retryable: bool,
    pub request_id: Option<String>,
    pub kind: Option<String>,
    pub field: Option<String>,
    pub fields: Option<Vec<String>>,
    pub server_time: Option<Either<f64, BigInt>>,
    pub retry_after_ms: Option<f64>,
    pub status: Option<u32>,
}

impl HoldResult {
    pub fn convert(r: FlowResult<HoldData>, ints: Ints) -> Result<Self, Error> {
        let c = common(&r, ints)?;
        let hold = r.hold().map(|h| Hold::convert(h, ints)).transpose()?;
        let data = r.data.as_ref();
        Ok(HoldResult {
            success: c.success,
            code: c.code,
            message: c.message,
            duplicate: r.duplicate(),
            hold_id: r.hold().map(|h| h.hold_id.clone()),
            hold,
            credits: ints.opt("credits", data.map(|d| d.credits))?,
            held: ints.opt("held", data.map(|d| d.held))?,
            available: ints.opt("available", data.map(|d| d.available))?,
            balance: c.balance,
            reference: c.reference,
            attempts: c.attempts,
            retryable: c.retryable,
            request_id: c.request_id,
            kind: c.kind,
            field: c.field,
            fields: c.fields,
            server_time: c.server_time,
            retry_after_ms: c.retry_after_ms,
            status: c.status,
        })
    }
}

/// The outcome of `reverseRecord` and `refundStarsPayment`.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct ReverseResult {
    pub success: bool,
    pub code: String,
    pub message: String,
    pub duplicate: bool,
    /// The reversal's own record.
    pub record_id: Option<Either<f64, BigInt>>,
    /// The record it reverses.
    pub reverses: Option<Either<f64, BigInt>>,
    pub telegram_id: Option<Either<f64, BigInt>>,
    /// The reversal's signed change (the opposite sign of the original's).
    pub change: Option<Either<f64, BigInt>>,
    /// The balance after the reversal; on `insufficient_credits`, the current one.
    pub balance: Option<Either<f64, BigInt>>,
    /// How much of the original is reversed now, this reversal included.
    pub reversed: Option<Either<f64, BigInt>>,
    /// How much of the original is left to reverse.
    pub remaining: Option<Either<f64, BigInt>>,
    pub reference: Option<String>,
    pub attempts: u32,
    pub retryable: bool,
    pub request_id: Option<String>,
    pub kind: Option<String>,
    pub field: Option<String>,
    pub fields: Option<Vec<String>>,
    pub server_time: Option<Either<f64, BigInt>>,
    pub retry_after_ms: Option<f64>,
    pub status: Option<u32>,
}

impl ReverseResult {
    pub fn convert(r: FlowResult<ReverseData>, ints: Ints) -> Result<Self, Error> {
        let c = common(&r, ints)?;
        let data = r.data.as_ref();
        let balance = match data {
            Some(d) => Some(ints.int("balance", d.balance)?),
            None => c.balance,
        };
        Ok(ReverseResult {
            success: c.success,
            code: c.code,
            message: c.message,
            duplicate: r.duplicate(),
            record_id: ints.opt("recordId", data.map(|d| d.record_id))?,
            reverses: ints.opt("reverses", data.map(|d| d.reverses))?,
            telegram_id: ints.opt("telegramId", data.map(|d| d.telegram_id))?,
            change: ints.opt("change", data.map(|d| d.change))?,
            balance,
            reversed: ints.opt("reversed", data.map(|d| d.reversed))?,
            remaining: ints.opt("remaining", data.map(|d| d.remaining))?,
            reference: c.reference,
            attempts: c.attempts,
            retryable: c.retryable,
            request_id: c.request_id,
            kind: c.kind,
            field: c.field,
            fields: c.fields,
            server_time: c.server_time,
            retry_after_ms: c.retry_after_ms,
            status: c.status,
        })
    }
}

/// One side of a transfer.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct TransferLeg {
    pub telegram_id: Either<f64, BigInt>,
    pub record_id: Either<f64, BigInt>,
    /// Negative for the sender, positive for the receiver.
    pub change: Either<f64, BigInt>,
    pub balance: Either<f64, BigInt>,
}

impl TransferLeg {
    fn convert(l: &model::TransferLeg, ints: Ints) -> Result<Self, Error> {
        Ok(TransferLeg {
            telegram_id: ints.int("telegramId", l.telegram_id)?,
            record_id: ints.int("recordId", l.record_id)?,
            change: ints.int("change", l.change)?,
            balance: ints.int("balance", l.balance)?,
        })
    }
}

/// The outcome of `transferCredits`.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct TransferResult {
    pub success: bool,
    pub code: String,
    pub message: String,
    pub duplicate: bool,
    /// The id both records of the transfer share.
    pub transfer_id: Option<String>,
    pub amount: Option<Either<f64, BigInt>>,
    /// The sender's side.
    pub from: Option<TransferLeg>,
    /// The receiver's side.
    pub to: Option<TransferLeg>,
    /// On `insufficient_credits`, the sender's current balance when known.
    pub balance: Option<Either<f64, BigInt>>,
    pub reference: Option<String>,
    pub attempts: u32,
    pub retryable: bool,
    pub request_id: Option<String>,
    pub kind: Option<String>,
    pub field: Option<String>,
    pub fields: Option<Vec<String>>,
    pub server_time: Option<Either<f64, BigInt>>,
    pub retry_after_ms: Option<f64>,
    pub status: Option<u32>,
}

impl TransferResult {
    pub fn convert(r: FlowResult<TransferData>, ints: Ints) -> Result<Self, Error> {
        let c = common(&r, ints)?;
        let data = r.data.as_ref();
        Ok(TransferResult {
            success: c.success,
            code: c.code,
            message: c.message,
            duplicate: r.duplicate(),
            transfer_id: data.map(|d| d.transfer_id.clone()),
            amount: ints.opt("amount", data.map(|d| d.amount))?,
            from: data
                .map(|d| TransferLeg::convert(&d.from, ints))
                .transpose()?,
            to: data
                .map(|d| TransferLeg::convert(&d.to, ints))
                .transpose()?,
            balance: c.balance,
            reference: c.reference,
            attempts: c.attempts,
            retryable: c.retryable,
            request_id: c.request_id,
            kind: c.kind,
            field: c.field,
            fields: c.fields,
            server_time: c.server_time,
            retry_after_ms: c.retry_after_ms,
            status: c.status,
        })
    }
}

/// One ledger record.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct Record {
    pub id: Either<f64, BigInt>,
    pub change: Either<f64, BigInt>,
    pub balance_after: Either<f64, BigInt>,
    pub reason: String,
    pub source: String,
    pub external_reference: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// For a capture: the hold it charged.
    pub hold_id: Option<String>,
    /// For a reversal: the record it reverses.
    pub reverses: Option<Either<f64, BigInt>>,
    /// For either leg of a transfer: the id both legs share.
    pub transfer_id: Option<String>,
}

/// One page of records, newest first.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct RecordsPage {
    pub records: Vec<Record>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl Record {
    pub fn convert(r: model::Record, ints: Ints) -> Result<Self, Error> {
        Ok(Record {
            id: ints.int("id", r.id)?,
            change: ints.int("change", r.change)?,
            balance_after: ints.int("balanceAfter", r.balance_after)?,
            reason: r.reason,
            source: r.source,
            external_reference: r.external_reference,
            created_at: r.created_at,
            hold_id: r.hold_id,
            reverses: ints.opt("reverses", r.reverses)?,
            transfer_id: r.transfer_id,
        })
    }
}

impl RecordsPage {
    pub fn convert(p: model::RecordsPage, ints: Ints) -> Result<Self, Error> {
        Ok(RecordsPage {
            records: p
                .records
                .into_iter()
                .map(|r| Record::convert(r, ints))
                .collect::<Result<_, Error>>()?,
            next_cursor: p.next_cursor,
        })
    }
}

/// A registered (or updated) user.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct UserData {
    pub telegram_id: Either<f64, BigInt>,
    pub credits: Either<f64, BigInt>,
    pub nickname: Option<String>,
    /// `true` when the user did not exist before.
    pub created: bool,
}

impl UserData {
    pub fn convert(u: model::UserData, ints: Ints) -> Result<Self, Error> {
        Ok(UserData {
            telegram_id: ints.int("telegramId", u.telegram_id)?,
            credits: ints.int("credits", u.credits)?,
            nickname: u.nickname,
            created: u.created,
        })
    }
}

/// One event of the feed (the wire event, camelCase), with the `cursor` that resumes the
/// feed right after it.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct Event {
    /// Stable `evt_…` id: the same event always has the same id.
    pub id: String,
    pub seq: Either<f64, BigInt>,
    /// `credits.added`, `credits.deducted`, `hold.created`, ...
    #[napi(js_name = "type")]
    pub kind: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The source whose request made the change (`null` for an operator's command).
    pub source: Option<String>,
    pub telegram_id: Either<f64, BigInt>,
    /// The record, hold, transfer or user, as the other calls return it (snake_case, as on the wire).
    pub data: serde_json::Value,
    /// Store it once the event is handled; pass it as `after` to resume.
    pub cursor: String,
}

impl Event {
    pub fn convert(e: credit_sync::Event, ints: Ints) -> Result<Self, Error> {
        Ok(Event {
            cursor: e.cursor(),
            id: e.id,
            seq: ints.int("seq", e.seq)?,
            kind: e.kind.as_str().to_string(),
            created_at: e.created_at,
            source: e.source,
            telegram_id: ints.int("telegramId", e.telegram_id)?,
            data: e.data,
        })
    }
}

/// One page of the feed, oldest first.
#[napi(object, use_nullable = true, object_from_js = false)]
pub struct EventsPage {
    pub events: Vec<Event>,
    /// Pass as `after` for the next page; store it to resume. Always set (the same cursor
    /// again after an empty page).
    pub next_cursor: String,
}

impl EventsPage {
    pub fn convert(p: credit_sync::EventsPage, ints: Ints) -> Result<Self, Error> {
        Ok(EventsPage {
            events: p
                .events
                .into_iter()
                .map(|e| Event::convert(e, ints))
                .collect::<Result<_, Error>>()?,
            next_cursor: p.next_cursor,
        })
    }
}
