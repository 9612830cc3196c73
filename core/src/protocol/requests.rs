//! The bodies clients send, as typed structs. They serialize with serde's derive; they are
//! read only through `parse`, which holds the server's rules (null is absent, and so on).

use serde::Serialize;

/// Body of `POST /api/credits/sync`: exactly the guide's fields, plus an optional reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::telegram_id))]
    pub telegram_id: i64,
    /// Positive adds credits, negative deducts them.
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::amount))]
    pub amount: i64,
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::reason))]
    pub reason: String,
    /// Unix seconds; signed by the v1 token. Optional when the request carries a v2 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::optional_int64))]
    pub timestamp: Option<i64>,
    /// v1 token; optional when the request carries a v2 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItem {
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::telegram_id))]
    pub telegram_id: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::amount))]
    pub amount: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::reason))]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
    /// Per-item v1 token over `telegram_id:amount:source:timestamp` (batch `timestamp`),
    /// when the batch has no v2 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Body of `POST /api/credits/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchRequest {
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::batch_items))]
    pub items: Vec<BatchItem>,
    /// All items apply or none do (absent or `null`: `false`).
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::flag, required = false))]
    pub atomic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::optional_int64))]
    pub timestamp: Option<i64>,
}

/// Body of `POST /api/users` (admin sources only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterUserRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::telegram_id))]
    pub telegram_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::nickname))]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// v1 signing of a registration uses amount `0`: `"{telegram_id}:0:{source}:{timestamp}"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::optional_int64))]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Body of `POST /api/credits/holds`: reserves `amount` of the user's available credits
/// until it is captured, voided, or `ttl_secs` pass. v2-signed only, like every write
/// beyond the guide's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HoldRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::telegram_id))]
    pub telegram_id: i64,
    /// What to reserve: positive.
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::positive_amount))]
    pub amount: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::reason))]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
    /// Seconds until the hold expires: 1 to `MAX_HOLD_TTL_SECS`, default
    /// `DEFAULT_HOLD_TTL_SECS`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::ttl_secs))]
    pub ttl_secs: Option<i64>,
    /// Optional; when given it must be the API key's source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Body of `POST /api/credits/holds/{hold_id}/capture`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CaptureRequest {
    /// How much to charge: 1 to the held amount; absent, the whole hold. The rest is
    /// released.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::optional_positive_amount))]
    pub amount: Option<i64>,
    /// Makes the capture retryable: the same capture with the same reference is a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Body of `POST /api/credits/holds/{hold_id}/void`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VoidRequest {
    /// Makes the void retryable: the same void with the same reference is a replay.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Body of `POST /api/credits/reverse`: names the original by `record_id` or by the
/// caller's own `original_reference` (exactly one of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReverseRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::optional_record_id))]
    pub record_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub original_reference: Option<String>,
    /// How much to reverse: positive, at most what is left of the original; absent, all
    /// that is left.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::optional_positive_amount))]
    pub amount: Option<i64>,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::reason))]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Body of `POST /api/credits/transfer`: moves `amount` of the sender's available credits
/// to another user, as two linked records written together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::telegram_id))]
    pub from_telegram_id: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::telegram_id))]
    pub to_telegram_id: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::positive_amount))]
    pub amount: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::reason))]
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = super::schema::external_reference))]
    pub external_reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}
