//! The bodies clients send, as typed structs. They serialize with serde's derive; they are
//! read only through `parse`, which holds the server's rules (null is absent, and so on).

use serde::Serialize;

/// Body of `POST /api/credits/sync`: exactly the guide's fields, plus an optional reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncRequest {
    pub telegram_id: i64,
    /// Positive adds credits, negative deducts them.
    pub amount: i64,
    pub source: String,
    pub reason: String,
    /// Unix seconds; signed by the v1 token. Optional when the request carries a v2 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// v1 token; optional when the request carries a v2 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItem {
    pub telegram_id: i64,
    pub amount: i64,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    /// Per-item v1 token over `telegram_id:amount:source:timestamp` (batch `timestamp`),
    /// when the batch has no v2 signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Body of `POST /api/credits/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchRequest {
    pub source: String,
    pub items: Vec<BatchItem>,
    /// All items apply or none do (absent or `null`: `false`).
    pub atomic: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// Body of `POST /api/users` (admin sources only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisterUserRequest {
    pub telegram_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// v1 signing of a registration uses amount `0`: `"{telegram_id}:0:{source}:{timestamp}"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}
