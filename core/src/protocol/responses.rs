//! The bodies the server answers with: the write envelope and the read payloads.

use serde::{Deserialize, Serialize};

use super::Code;

/// The envelope of every write response and every error:
/// `{success, code, message, balance, data}` plus error details when they apply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope<T> {
    pub success: bool,
    pub code: Code,
    pub message: String,
    /// The balance after the change (or the current balance on `insufficient_credits`).
    #[serde(default)]
    pub balance: Option<i64>,
    #[serde(default = "none")]
    pub data: Option<T>,
    /// The offending field, for validation errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Fields that differ from the original request, for `reference_conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// Server clock (unix seconds), on every error, so clients can correct skew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_time: Option<i64>,
}

fn none<T>() -> Option<T> {
    None
}

/// `data` of a sync response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncData {
    pub record_id: i64,
    pub telegram_id: i64,
    pub change: i64,
    pub balance: i64,
    /// `true` when this is a replay of an already-applied reference.
    pub duplicate: bool,
}

pub type SyncResponse = Envelope<SyncData>;

/// One item's result in a batch response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItemResult {
    pub index: usize,
    pub success: bool,
    pub code: Code,
    pub message: String,
    pub telegram_id: i64,
    pub change: i64,
    #[serde(default)]
    pub balance: Option<i64>,
    #[serde(default)]
    pub record_id: Option<i64>,
    #[serde(default)]
    pub duplicate: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `data` of a batch response. `success` and `failed` are counts, as in the guide.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchData {
    pub success: usize,
    pub failed: usize,
    pub results: Vec<BatchItemResult>,
}

pub type BatchResponse = Envelope<BatchData>;

/// A user's balance. The read endpoints put their payload at the top level,
/// beside `success`, `code` and `message`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Balance {
    pub telegram_id: i64,
    /// The sum of the user's records.
    pub credits: i64,
    pub nickname: Option<String>,
    /// The sum of the open, unexpired holds.
    #[serde(default)]
    pub held: i64,
    /// `credits - held`: what deducts, holds and transfers may take. (Absent from servers
    /// before holds: then `credits`.)
    #[serde(default)]
    pub available: Option<i64>,
}

/// Response of `GET /api/credits/balance/{telegram_id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BalanceResponse {
    pub success: bool,
    pub code: Code,
    pub message: String,
    #[serde(flatten)]
    pub balance: Balance,
}

/// One ledger record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Record {
    pub id: i64,
    pub change: i64,
    pub balance_after: i64,
    pub reason: String,
    pub source: String,
    pub external_reference: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// For a capture: the hold it charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<String>,
    /// For a reversal: the id of the record it reverses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverses: Option<i64>,
    /// For either leg of a transfer: the id both legs share.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
}

/// Response of `GET /api/credits/records/{telegram_id}`; newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsPage {
    pub records: Vec<Record>,
    /// Pass as `cursor` to get the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordsResponse {
    pub success: bool,
    pub code: Code,
    pub message: String,
    #[serde(flatten)]
    pub page: RecordsPage,
}

/// `data` of `POST /api/users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserData {
    pub telegram_id: i64,
    pub credits: i64,
    pub nickname: Option<String>,
    /// `true` when the user did not exist before.
    pub created: bool,
}

pub type UserResponse = Envelope<UserData>;

/// Where a hold is in its life. Only `open` counts in `held`; the others are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum HoldState {
    Open,
    Captured,
    Voided,
    /// `expires_at` passed before a capture or void.
    Expired,
}

impl HoldState {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldState::Open => "open",
            HoldState::Captured => "captured",
            HoldState::Voided => "voided",
            HoldState::Expired => "expired",
        }
    }

    /// The state stored as [`HoldState::as_str`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<HoldState> {
        [
            HoldState::Open,
            HoldState::Captured,
            HoldState::Voided,
            HoldState::Expired,
        ]
        .into_iter()
        .find(|state| state.as_str() == text)
    }
}

/// One hold, as every hold endpoint shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Hold {
    pub hold_id: String,
    pub telegram_id: i64,
    /// The source that placed it (it, or an admin source, may capture or void it).
    pub source: String,
    /// What was reserved.
    pub amount: i64,
    /// What a capture charged (0 unless `captured`).
    pub captured: i64,
    pub state: HoldState,
    pub reason: String,
    pub external_reference: Option<String>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC: from then on the hold no longer counts and cannot be captured.
    pub expires_at: String,
    /// RFC 3339, UTC, once captured or voided (`null` while open, and for an expired hold).
    pub resolved_at: Option<String>,
    /// The deduction a capture wrote.
    pub record_id: Option<i64>,
}

/// `data` of a hold's create, capture and void answers (and of `hold_resolved`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldData {
    pub hold: Hold,
    /// The user's balance view after the call.
    pub credits: i64,
    pub held: i64,
    pub available: i64,
    /// `true` when this is a replay of the same call with its reference.
    pub duplicate: bool,
}

pub type HoldResponse = Envelope<HoldData>;

/// Response of `GET /api/credits/holds/{telegram_id}`: the open holds, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldsResponse {
    pub success: bool,
    pub code: Code,
    pub message: String,
    pub telegram_id: i64,
    pub credits: i64,
    pub held: i64,
    pub available: i64,
    pub holds: Vec<Hold>,
}

/// `data` of `POST /api/credits/reverse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReverseData {
    /// The reversal's own record.
    pub record_id: i64,
    /// The record it reverses.
    pub reverses: i64,
    pub telegram_id: i64,
    /// The reversal's change: the opposite sign of the original's.
    pub change: i64,
    pub balance: i64,
    /// How much of the original is reversed now, this reversal included.
    pub reversed: i64,
    /// How much of the original is left to reverse.
    pub remaining: i64,
    pub duplicate: bool,
}

pub type ReverseResponse = Envelope<ReverseData>;

/// One side of a transfer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferLeg {
    pub telegram_id: i64,
    pub record_id: i64,
    /// Negative for the sender, positive for the receiver.
    pub change: i64,
    pub balance: i64,
}

/// `data` of `POST /api/credits/transfer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferData {
    pub transfer_id: String,
    pub amount: i64,
    pub from: TransferLeg,
    pub to: TransferLeg,
    pub duplicate: bool,
}

pub type TransferResponse = Envelope<TransferData>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn envelope_shape_matches_the_guide() {
        let resp = SyncResponse {
            success: true,
            code: Code::Ok,
            message: "ok".into(),
            balance: Some(100),
            data: Some(SyncData {
                record_id: 1,
                telegram_id: 7,
                change: 100,
                balance: 100,
                duplicate: false,
            }),
            field: None,
            fields: None,
            server_time: None,
        };
        let v = serde_json::to_value(&resp).unwrap();
        assert_eq!(
            v,
            json!({"success": true, "code": "ok", "message": "ok", "balance": 100,
                   "data": {"record_id": 1, "telegram_id": 7, "change": 100, "balance": 100, "duplicate": false}})
        );
    }
}
