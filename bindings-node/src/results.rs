//! Core results to plain JS objects with camelCase fields, matching the Python
//! package's results (`success`, `code`, `message`, `balance`, `duplicate`,
//! `recordId`, `data`). Integers are JS numbers: ids and balances stay far below 2^53.

use credit_sync::model;
use napi_derive::napi;

/// `data` of a successful credit change.
#[napi(object, use_nullable = true)]
pub struct SyncData {
    pub record_id: i64,
    pub telegram_id: i64,
    /// Signed change: negative for a deduct.
    pub change: i64,
    pub balance: i64,
    pub duplicate: bool,
}

/// The outcome of one credit change, in the guide's style: check `success`.
#[napi(object, use_nullable = true)]
pub struct SyncResult {
    pub success: bool,
    /// `"ok"`, or the stable error code (`insufficient_credits`, ...).
    pub code: String,
    pub message: String,
    /// Balance after the change; on `insufficient_credits`, the current balance when known.
    pub balance: Option<i64>,
    /// `true` when the server had already applied this reference (a safe replay).
    pub duplicate: bool,
    pub record_id: Option<i64>,
    pub telegram_id: i64,
    pub change: i64,
    /// The reference the change was sent with (the caller's, or the SDK's `auto-<uuid v7>`).
    pub reference: Option<String>,
    /// `null` when the change failed.
    pub data: Option<SyncData>,
}

impl From<model::SyncResult> for SyncResult {
    fn from(r: model::SyncResult) -> Self {
        let data = match (r.success, r.record_id, r.balance) {
            (true, Some(record_id), Some(balance)) => Some(SyncData {
                record_id,
                telegram_id: r.telegram_id,
                change: r.change,
                balance,
                duplicate: r.duplicate,
            }),
            _ => None,
        };
        SyncResult {
            success: r.success,
            code: r.code.as_str().to_string(),
            message: r.message,
            balance: r.balance,
            duplicate: r.duplicate,
            record_id: r.record_id,
            telegram_id: r.telegram_id,
            change: r.change,
            reference: r.reference,
            data,
        }
    }
}

/// `data` of a batch: `success` and `failed` are counts, as in the guide.
#[napi(object, use_nullable = true)]
pub struct BatchData {
    pub success: u32,
    pub failed: u32,
    /// One result per item, in order.
    pub results: Vec<SyncResult>,
}

/// The outcome of a batch. `success` is true when every item succeeded.
#[napi(object, use_nullable = true)]
pub struct BatchResult {
    pub success: bool,
    /// `"ok"`, `"partial_failure"`, or the error code of a batch rejected as a whole.
    pub code: String,
    pub message: String,
    pub data: BatchData,
}

impl From<model::BatchResult> for BatchResult {
    fn from(r: model::BatchResult) -> Self {
        BatchResult {
            success: r.success,
            code: r.code.as_str().to_string(),
            message: r.message,
            data: BatchData {
                success: r.succeeded as u32,
                failed: r.failed as u32,
                results: r.results.into_iter().map(SyncResult::from).collect(),
            },
        }
    }
}

/// A user's balance.
#[napi(object, use_nullable = true)]
pub struct Balance {
    pub telegram_id: i64,
    pub credits: i64,
    pub nickname: Option<String>,
}

impl From<model::Balance> for Balance {
    fn from(b: model::Balance) -> Self {
        Balance {
            telegram_id: b.telegram_id,
            credits: b.credits,
            nickname: b.nickname,
        }
    }
}

/// One ledger record.
#[napi(object, use_nullable = true)]
pub struct Record {
    pub id: i64,
    pub change: i64,
    pub balance_after: i64,
    pub reason: String,
    pub source: String,
    pub external_reference: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
}

/// One page of records, newest first.
#[napi(object, use_nullable = true)]
pub struct RecordsPage {
    pub records: Vec<Record>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl From<model::RecordsPage> for RecordsPage {
    fn from(p: model::RecordsPage) -> Self {
        RecordsPage {
            records: p
                .records
                .into_iter()
                .map(|r| Record {
                    id: r.id,
                    change: r.change,
                    balance_after: r.balance_after,
                    reason: r.reason,
                    source: r.source,
                    external_reference: r.external_reference,
                    created_at: r.created_at,
                })
                .collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// A registered (or updated) user.
#[napi(object, use_nullable = true)]
pub struct UserData {
    pub telegram_id: i64,
    pub credits: i64,
    pub nickname: Option<String>,
    /// `true` when the user did not exist before.
    pub created: bool,
}

impl From<model::UserData> for UserData {
    fn from(u: model::UserData) -> Self {
        UserData {
            telegram_id: u.telegram_id,
            credits: u.credits,
            nickname: u.nickname,
            created: u.created,
        }
    }
}
