//! The wire protocol: every path, header, field name, limit and error code that
//! crosses the network is defined here once. The server, the SDK clients, the
//! bindings and `docs/protocol.md` all take their names from this module.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

#[cfg(feature = "openapi")]
pub mod schema;

/// URL paths served by the Credit Sync API.
pub mod paths {
    pub const SYNC: &str = "/api/credits/sync";
    pub const BATCH: &str = "/api/credits/batch";
    /// Followed by `/{telegram_id}`.
    pub const BALANCE: &str = "/api/credits/balance";
    /// Followed by `/{telegram_id}?limit=&cursor=`.
    pub const RECORDS: &str = "/api/credits/records";
    pub const USERS: &str = "/api/users";
    pub const HEALTHZ: &str = "/healthz";
    pub const METRICS: &str = "/metrics";
    pub const OPENAPI: &str = "/openapi.json";

    /// `GET` path of one user's balance.
    pub fn balance(telegram_id: i64) -> String {
        format!("{BALANCE}/{telegram_id}")
    }

    /// `GET` path (with query) of one page of a user's records.
    pub fn records(telegram_id: i64, limit: Option<u32>, cursor: Option<&str>) -> String {
        let mut path = format!("{RECORDS}/{telegram_id}");
        let mut sep = '?';
        if let Some(limit) = limit {
            path.push_str(&format!("{sep}limit={limit}"));
            sep = '&';
        }
        if let Some(cursor) = cursor {
            // Cursors are opaque but always URL-safe (see `Record`), so no escaping is needed.
            path.push_str(&format!("{sep}cursor={cursor}"));
        }
        path
    }
}

/// HTTP header names.
pub mod headers {
    pub const API_KEY: &str = "X-Api-Key";
    pub const SIGNATURE: &str = "X-Signature";
    pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
    pub const RETRY_AFTER: &str = "Retry-After";
    pub const REQUEST_ID: &str = "X-Request-Id";
}

/// Limits both sides enforce.
pub mod limits {
    /// Longest `reason`, in characters (Unicode scalar values).
    pub const MAX_REASON_CHARS: usize = 256;
    /// Longest `external_reference`, in characters.
    pub const MAX_REFERENCE_CHARS: usize = 128;
    /// Longest `nickname`, in characters.
    pub const MAX_NICKNAME_CHARS: usize = 128;
    /// Most items in one batch.
    pub const MAX_BATCH_ITEMS: usize = 1000;
    /// Default largest `|amount|` of one change (configurable on the server).
    pub const DEFAULT_MAX_AMOUNT: i64 = 1_000_000_000_000;
    /// Default accepted clock difference, in seconds (configurable on the server).
    pub const DEFAULT_TIMESTAMP_TOLERANCE_SECS: i64 = 300;
    /// Largest accepted request body.
    pub const MAX_BODY_BYTES: usize = 1024 * 1024;
    /// Records page size when `limit` is not given.
    pub const DEFAULT_RECORDS_LIMIT: u32 = 20;
    /// Largest records page size.
    pub const MAX_RECORDS_LIMIT: u32 = 200;
}

/// JSON field names that appear in error messages and in `field`.
/// Messages whose wording is part of the contract (the docs quote them).
pub mod messages {
    /// The answer to a write whose signature was already spent.
    pub const SIGNATURE_REUSED: &str = "this signature already authorized a write: every write signature is single-use. \
To retry the same change, send it again with the same external_reference. \
To make another change, sign it again with a new timestamp: a v1 token covers only telegram_id, amount, source and timestamp, \
so two v1 changes of one user and amount in the same second need a second between them, or v2 signing (as the SDKs do) \
with an external_reference";
}

pub mod fields {
    pub const TELEGRAM_ID: &str = "telegram_id";
    pub const AMOUNT: &str = "amount";
    pub const SOURCE: &str = "source";
    pub const REASON: &str = "reason";
    pub const TIMESTAMP: &str = "timestamp";
    pub const TOKEN: &str = "token";
    pub const EXTERNAL_REFERENCE: &str = "external_reference";
    pub const ITEMS: &str = "items";
    pub const ATOMIC: &str = "atomic";
    pub const NICKNAME: &str = "nickname";
    pub const LIMIT: &str = "limit";
    pub const CURSOR: &str = "cursor";
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $wire:literal => $status:literal ),+ $(,)?) => {
        /// The stable, machine-readable `code` of every response.
        ///
        /// `Ok` marks success; every other variant is an error. The wire form is the
        /// snake_case string; it never changes once published. Codes a newer server
        /// sends that this build does not know deserialize as [`Code::Unknown`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $( $(#[$doc])* $variant, )+
            /// A code this build does not know (sent by a newer server).
            Unknown,
        }

        impl Code {
            /// Every known code, for docs and tests.
            pub const ALL: &'static [Code] = &[$(Code::$variant),+];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Code::$variant => $wire, )+
                    Code::Unknown => "unknown",
                }
            }

            /// The HTTP status the server answers with.
            pub fn http_status(self) -> u16 {
                match self {
                    $( Code::$variant => $status, )+
                    Code::Unknown => 500,
                }
            }

            /// Parses a wire string; unknown strings give [`Code::Unknown`].
            pub fn parse(s: &str) -> Code {
                match s {
                    $( $wire => Code::$variant, )+
                    _ => Code::Unknown,
                }
            }
        }
    };
}

codes! {
    /// The request succeeded.
    Ok = "ok" => 200,
    /// Some items of a non-atomic batch failed; see each item's result.
    PartialFailure = "partial_failure" => 200,

    // --- authentication (401/403) ---
    /// Missing or unknown `X-Api-Key`.
    Unauthorized = "unauthorized" => 401,
    /// The v1 token or v2 signature does not match.
    InvalidSignature = "invalid_signature" => 401,
    /// The signed timestamp is outside the server's window; see `server_time`.
    TimestampOutOfWindow = "timestamp_out_of_window" => 401,
    /// The v1 token or v2 signature already authorized a write within the timestamp
    /// window: a write signature is single-use. Nothing was written. See
    /// [`messages::SIGNATURE_REUSED`].
    SignatureReused = "signature_reused" => 401,
    /// The source does not accept this signature scheme (its `signatures` setting, e.g. a
    /// source that accepts only v2 gets a v1 token).
    SignatureSchemeRefused = "signature_scheme_refused" => 401,
    /// The body's `source` is not the API key's source.
    SourceMismatch = "source_mismatch" => 403,
    /// The source lacks the permission this endpoint needs (e.g. `admin`).
    Forbidden = "forbidden" => 403,

    // --- bad input (4xx) ---
    /// The body is not valid JSON, or not a JSON object.
    InvalidJson = "invalid_json" => 400,
    /// A required field is missing; `field` names it.
    MissingField = "missing_field" => 400,
    /// A field has the wrong type or an invalid value; `field` names it.
    InvalidField = "invalid_field" => 400,
    /// `amount` is zero.
    InvalidAmount = "invalid_amount" => 400,
    /// `|amount|` exceeds the configured maximum.
    AmountTooLarge = "amount_too_large" => 400,
    /// `telegram_id` is not a positive integer.
    InvalidTelegramId = "invalid_telegram_id" => 400,
    /// `reason` or `nickname` is too long or has control characters.
    InvalidReason = "invalid_reason" => 400,
    /// `external_reference` is too long or uses characters outside the allowed set.
    InvalidReference = "invalid_reference" => 400,
    /// More than `MAX_BATCH_ITEMS` items, or none.
    BatchTooLarge = "batch_too_large" => 400,
    /// The body exceeds `MAX_BODY_BYTES`.
    PayloadTooLarge = "payload_too_large" => 413,
    /// The body is not `application/json`.
    UnsupportedMediaType = "unsupported_media_type" => 415,
    /// No such route.
    NotFound = "not_found" => 404,
    /// The route does not accept this method.
    MethodNotAllowed = "method_not_allowed" => 405,

    // --- business outcomes ---
    /// The user has not been registered.
    UserNotFound = "user_not_found" => 404,
    /// A deduct larger than the balance; nothing was written.
    InsufficientCredits = "insufficient_credits" => 409,
    /// The `external_reference` was already used with a different payload; `fields` names the differences.
    ReferenceConflict = "reference_conflict" => 409,
    /// The change would overflow the balance (i64).
    BalanceOverflow = "balance_overflow" => 422,
    /// Another item of an atomic batch failed, so this one was not applied.
    BatchAborted = "batch_aborted" => 409,

    // --- throttling and server faults ---
    /// Too many requests for this API key; see `Retry-After`.
    RateLimited = "rate_limited" => 429,
    /// The server failed; the change was not applied.
    InternalError = "internal_error" => 500,
    /// The server is overloaded or shutting down; retry later.
    ServiceUnavailable = "service_unavailable" => 503,

    // --- produced by the SDK, never sent by the server ---
    /// The request did not complete in time (client side).
    Timeout = "timeout" => 504,
    /// The connection failed or broke (client side).
    ConnectionError = "connection_error" => 502,
    /// The SDK was given an invalid argument or configuration (client side).
    InvalidArgument = "invalid_argument" => 400,
    /// The client was closed (client side).
    ClientClosed = "client_closed" => 400,
    /// The server answered with something that is not this protocol (client side).
    InvalidResponse = "invalid_response" => 502,
    /// An integer result is outside the JS safe range (±(2^53−1)); Node only, unless the
    /// client was made with `bigint: true` (client side).
    UnsafeInteger = "unsafe_integer" => 502,
}

impl Code {
    pub fn is_ok(self) -> bool {
        matches!(self, Code::Ok)
    }

    /// `false` for the codes only an SDK produces (and for `Unknown`); a server never
    /// sends them.
    pub fn sent_by_server(self) -> bool {
        !matches!(
            self,
            Code::Timeout
                | Code::ConnectionError
                | Code::InvalidArgument
                | Code::ClientClosed
                | Code::InvalidResponse
                | Code::UnsafeInteger
                | Code::Unknown
        )
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Code::parse(&s))
    }
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

/// Body of `POST /api/credits/sync`: exactly the guide's fields, plus an optional reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::telegram_id))]
    pub telegram_id: i64,
    /// Positive adds credits, negative deducts them.
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::amount))]
    pub amount: i64,
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::reason))]
    pub reason: String,
    /// Unix seconds; signed by the v1 token. Optional when the request carries a v2 signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_int64))]
    pub timestamp: Option<i64>,
    /// v1 token; optional when the request carries a v2 signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::external_reference))]
    pub external_reference: Option<String>,
}

/// One item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchItem {
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::telegram_id))]
    pub telegram_id: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::amount))]
    pub amount: i64,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::reason))]
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::external_reference))]
    pub external_reference: Option<String>,
    /// Per-item v1 token over `telegram_id:amount:source:timestamp` (batch `timestamp`),
    /// when the batch has no v2 signature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// Body of `POST /api/credits/batch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchRequest {
    pub source: String,
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::batch_items))]
    pub items: Vec<BatchItem>,
    /// All items apply or none do.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::flag))]
    pub atomic: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_int64))]
    pub timestamp: Option<i64>,
}

/// Body of `POST /api/users` (admin sources only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterUserRequest {
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::telegram_id))]
    pub telegram_id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::nickname))]
    pub nickname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// v1 signing of a registration uses amount `0`: `"{telegram_id}:0:{source}:{timestamp}"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(schema_with = schema::optional_int64))]
    pub timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

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
    pub credits: i64,
    pub nickname: Option<String>,
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

// ---------------------------------------------------------------------------
// Validation shared by the server and the SDK
// ---------------------------------------------------------------------------

/// A rejected input: the code, the field it concerns and a readable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub code: Code,
    pub field: Option<&'static str>,
    pub message: String,
}

impl FieldError {
    pub fn new(code: Code, field: &'static str, message: impl Into<String>) -> Self {
        FieldError {
            code,
            field: Some(field),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FieldError {}

pub fn validate_telegram_id(telegram_id: i64) -> Result<(), FieldError> {
    if telegram_id <= 0 {
        return Err(FieldError::new(
            Code::InvalidTelegramId,
            fields::TELEGRAM_ID,
            format!("telegram_id must be a positive integer, got {telegram_id}"),
        ));
    }
    Ok(())
}

/// `amount` must be non-zero and `|amount| <= max_amount`.
pub fn validate_amount(amount: i64, max_amount: i64) -> Result<(), FieldError> {
    if amount == 0 {
        return Err(FieldError::new(
            Code::InvalidAmount,
            fields::AMOUNT,
            "amount must not be 0",
        ));
    }
    if amount.unsigned_abs() > max_amount.unsigned_abs() {
        return Err(FieldError::new(
            Code::AmountTooLarge,
            fields::AMOUNT,
            format!("|amount| must be at most {max_amount}, got {amount}"),
        ));
    }
    Ok(())
}

/// A reason is free text (any language) up to 256 characters, without control characters.
pub fn validate_reason(reason: &str) -> Result<(), FieldError> {
    validate_text(reason, fields::REASON, limits::MAX_REASON_CHARS)
}

pub fn validate_nickname(nickname: &str) -> Result<(), FieldError> {
    validate_text(nickname, fields::NICKNAME, limits::MAX_NICKNAME_CHARS)
}

fn validate_text(text: &str, field: &'static str, max: usize) -> Result<(), FieldError> {
    let chars = text.chars().count();
    if chars > max {
        return Err(FieldError::new(
            Code::InvalidReason,
            field,
            format!("{field} must be at most {max} characters, got {chars}"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(FieldError::new(
            Code::InvalidReason,
            field,
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(())
}

/// Is `c` allowed in an `external_reference`? ASCII letters, digits and `_ - . : / @ # = +`.
pub fn is_reference_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '@' | '#' | '=' | '+')
}

/// A reference is 1..=128 characters from [`is_reference_char`].
pub fn validate_reference(reference: &str) -> Result<(), FieldError> {
    if reference.is_empty() {
        return Err(FieldError::new(
            Code::InvalidReference,
            fields::EXTERNAL_REFERENCE,
            "external_reference must not be empty",
        ));
    }
    let chars = reference.chars().count();
    if chars > limits::MAX_REFERENCE_CHARS {
        return Err(FieldError::new(
            Code::InvalidReference,
            fields::EXTERNAL_REFERENCE,
            format!(
                "external_reference must be at most {} characters, got {chars}",
                limits::MAX_REFERENCE_CHARS
            ),
        ));
    }
    if let Some(bad) = reference.chars().find(|c| !is_reference_char(*c)) {
        return Err(FieldError::new(
            Code::InvalidReference,
            fields::EXTERNAL_REFERENCE,
            format!(
                "external_reference may only use ASCII letters, digits and _-.:/@#=+ (found {bad:?})"
            ),
        ));
    }
    Ok(())
}

/// Checks one change (sync or batch item) against every rule.
pub fn validate_change(
    telegram_id: i64,
    amount: i64,
    reason: &str,
    reference: Option<&str>,
    max_amount: i64,
) -> Result<(), FieldError> {
    validate_telegram_id(telegram_id)?;
    validate_amount(amount, max_amount)?;
    validate_reason(reason)?;
    if let Some(reference) = reference {
        validate_reference(reference)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Strict JSON field extraction, so every bad input names its field
// ---------------------------------------------------------------------------

/// Reads typed fields out of a JSON object with errors that name the field.
/// serde's own messages do not name the field on type errors, so the server parses
/// through this instead.
pub struct Fields<'a> {
    obj: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    /// `value` must be a JSON object.
    pub fn new(value: &'a Value) -> Result<Self, FieldError> {
        Self::with_prefix(value, "")
    }

    /// Like `new`, naming fields `"{prefix}{name}"` in messages (e.g. `items[3].`).
    pub fn with_prefix(value: &'a Value, prefix: &str) -> Result<Self, FieldError> {
        match value.as_object() {
            Some(obj) => Ok(Fields {
                obj,
                prefix: prefix.to_string(),
            }),
            None => Err(FieldError {
                code: Code::InvalidJson,
                field: None,
                message: format!("{}body must be a JSON object", prefix),
            }),
        }
    }

    fn missing(&self, name: &'static str) -> FieldError {
        FieldError::new(
            Code::MissingField,
            name,
            format!("missing field `{}{name}`", self.prefix),
        )
    }

    fn wrong(&self, name: &'static str, expected: &str) -> FieldError {
        FieldError::new(
            Code::InvalidField,
            name,
            format!("field `{}{name}` must be {expected}", self.prefix),
        )
    }

    fn get(&self, name: &'static str) -> Option<&'a Value> {
        match self.obj.get(name) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    pub fn opt_i64(&self, name: &'static str) -> Result<Option<i64>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "an integer in the i64 range")),
        }
    }

    pub fn i64(&self, name: &'static str) -> Result<i64, FieldError> {
        self.opt_i64(name)?.ok_or_else(|| self.missing(name))
    }

    pub fn opt_str(&self, name: &'static str) -> Result<Option<&'a str>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "a string")),
        }
    }

    pub fn str(&self, name: &'static str) -> Result<&'a str, FieldError> {
        self.opt_str(name)?.ok_or_else(|| self.missing(name))
    }

    pub fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, FieldError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_bool()
                .map(Some)
                .ok_or_else(|| self.wrong(name, "a boolean")),
        }
    }

    pub fn array(&self, name: &'static str) -> Result<&'a Vec<Value>, FieldError> {
        match self.get(name) {
            None => Err(self.missing(name)),
            Some(v) => v.as_array().ok_or_else(|| self.wrong(name, "an array")),
        }
    }
}

impl SyncRequest {
    /// Parses a sync body with field-naming errors (types only; see [`validate_change`] for values).
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let f = Fields::new(value)?;
        Ok(SyncRequest {
            telegram_id: f.i64(fields::TELEGRAM_ID)?,
            amount: f.i64(fields::AMOUNT)?,
            source: f.str(fields::SOURCE)?.to_string(),
            reason: f.str(fields::REASON)?.to_string(),
            timestamp: f.opt_i64(fields::TIMESTAMP)?,
            token: f.opt_str(fields::TOKEN)?.map(str::to_string),
            external_reference: f.opt_str(fields::EXTERNAL_REFERENCE)?.map(str::to_string),
        })
    }
}

impl BatchRequest {
    /// Parses a batch body with field-naming errors. Item-level type errors fail the whole
    /// request (the body is malformed); item-level value errors are reported per item.
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        Self::from_json_located(value).map_err(|(_, err)| err)
    }

    /// Like [`BatchRequest::from_json`], and also says which item an item-level error is
    /// in, so the server can name the field `items[i].amount` (see [`item_field`]).
    pub fn from_json_located(value: &Value) -> Result<Self, (Option<usize>, FieldError)> {
        let top = |err| (None, err);
        let f = Fields::new(value).map_err(top)?;
        let raw_items = f.array(fields::ITEMS).map_err(top)?;
        if raw_items.is_empty() || raw_items.len() > limits::MAX_BATCH_ITEMS {
            return Err(top(FieldError::new(
                Code::BatchTooLarge,
                fields::ITEMS,
                format!(
                    "items must hold 1 to {} entries, got {}",
                    limits::MAX_BATCH_ITEMS,
                    raw_items.len()
                ),
            )));
        }
        let mut items = Vec::with_capacity(raw_items.len());
        for (i, raw) in raw_items.iter().enumerate() {
            let parse = || -> Result<BatchItem, FieldError> {
                let item = Fields::with_prefix(raw, &format!("{}[{i}].", fields::ITEMS))?;
                Ok(BatchItem {
                    telegram_id: item.i64(fields::TELEGRAM_ID)?,
                    amount: item.i64(fields::AMOUNT)?,
                    reason: item.str(fields::REASON)?.to_string(),
                    external_reference: item
                        .opt_str(fields::EXTERNAL_REFERENCE)?
                        .map(str::to_string),
                    token: item.opt_str(fields::TOKEN)?.map(str::to_string),
                })
            };
            items.push(parse().map_err(|err| (Some(i), err))?);
        }
        Ok(BatchRequest {
            source: f.str(fields::SOURCE).map_err(top)?.to_string(),
            items,
            atomic: f.opt_bool(fields::ATOMIC).map_err(top)?.unwrap_or(false),
            timestamp: f.opt_i64(fields::TIMESTAMP).map_err(top)?,
        })
    }
}

/// The name of a field inside one batch item, as errors report it: `items[3].amount`.
pub fn item_field(index: usize, field: &str) -> String {
    format!("{}[{index}].{field}", fields::ITEMS)
}

impl RegisterUserRequest {
    pub fn from_json(value: &Value) -> Result<Self, FieldError> {
        let f = Fields::new(value)?;
        Ok(RegisterUserRequest {
            telegram_id: f.i64(fields::TELEGRAM_ID)?,
            nickname: f.opt_str(fields::NICKNAME)?.map(str::to_string),
            source: f.opt_str(fields::SOURCE)?.map(str::to_string),
            timestamp: f.opt_i64(fields::TIMESTAMP)?,
            token: f.opt_str(fields::TOKEN)?.map(str::to_string),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate wire code {code}");
            assert_eq!(Code::parse(code.as_str()), *code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), *code);
        }
        assert_eq!(Code::parse("from_the_future"), Code::Unknown);
    }

    #[test]
    fn sync_request_names_the_bad_field() {
        let err = SyncRequest::from_json(&json!({"telegram_id": 1, "source": "s", "reason": "r"}))
            .unwrap_err();
        assert_eq!((err.code, err.field), (Code::MissingField, Some("amount")));
        let err = SyncRequest::from_json(
            &json!({"telegram_id": "1", "amount": 1, "source": "s", "reason": "r"}),
        )
        .unwrap_err();
        assert_eq!(
            (err.code, err.field),
            (Code::InvalidField, Some("telegram_id"))
        );
        let err = SyncRequest::from_json(
            &json!({"telegram_id": 1.5, "amount": 1, "source": "s", "reason": "r"}),
        )
        .unwrap_err();
        assert_eq!(err.field, Some("telegram_id"));
        let err = SyncRequest::from_json(&json!([1])).unwrap_err();
        assert_eq!(err.code, Code::InvalidJson);
    }

    #[test]
    fn value_rules() {
        assert_eq!(
            validate_amount(0, 10).unwrap_err().code,
            Code::InvalidAmount
        );
        assert_eq!(
            validate_amount(11, 10).unwrap_err().code,
            Code::AmountTooLarge
        );
        assert_eq!(
            validate_amount(i64::MIN, 10).unwrap_err().code,
            Code::AmountTooLarge
        );
        assert!(validate_amount(-10, 10).is_ok());
        assert_eq!(
            validate_telegram_id(0).unwrap_err().code,
            Code::InvalidTelegramId
        );
        assert!(validate_reason(&"观".repeat(256)).is_ok());
        assert!(validate_reason(&"观".repeat(257)).is_err());
        assert!(validate_reason("a\u{0}b").is_err());
        assert!(validate_reference("video_12345").is_ok());
        assert!(validate_reference("x'; DROP TABLE users;--").is_err());
        assert!(validate_reference(&"a".repeat(129)).is_err());
        assert!(validate_reference("").is_err());
    }

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

    #[test]
    fn batch_errors_say_which_item() {
        let body = json!({"source": "s", "items": [
            {"telegram_id": 1, "amount": 1, "reason": "r"},
            {"telegram_id": 1, "amount": "1", "reason": "r"}]});
        let (index, err) = BatchRequest::from_json_located(&body).unwrap_err();
        assert_eq!(
            (index, err.code, err.field),
            (Some(1), Code::InvalidField, Some("amount"))
        );
        assert_eq!(item_field(1, fields::AMOUNT), "items[1].amount");
        let (index, err) = BatchRequest::from_json_located(&json!({"items": []})).unwrap_err();
        assert_eq!((index, err.code), (None, Code::BatchTooLarge));
    }

    #[test]
    fn records_path() {
        assert_eq!(paths::records(5, None, None), "/api/credits/records/5");
        assert_eq!(
            paths::records(5, Some(10), Some("42")),
            "/api/credits/records/5?limit=10&cursor=42"
        );
        assert_eq!(
            paths::records(5, None, Some("42")),
            "/api/credits/records/5?cursor=42"
        );
    }
}
