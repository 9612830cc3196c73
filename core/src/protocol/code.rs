//! The stable `code` of every response, with its wire string and HTTP status.

use serde::{Deserialize, Serialize};
use std::fmt;

#[cfg(doc)]
use super::messages;

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
    /// `reason` is too long or has control characters.
    InvalidReason = "invalid_reason" => 400,
    /// `nickname` is too long or has control characters (servers before 0.2 sent `invalid_reason`).
    InvalidNickname = "invalid_nickname" => 400,
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
    /// No hold has this id.
    HoldNotFound = "hold_not_found" => 404,
    /// The hold was already captured, voided or has expired; `data.hold` is its final
    /// state. (The same capture or void again, with its own reference, is a replay instead.)
    HoldResolved = "hold_resolved" => 409,
    /// The user has `limits::MAX_OPEN_HOLDS_PER_USER` open holds already.
    TooManyHolds = "too_many_holds" => 409,
    /// No record has this `record_id` (or `original_reference`, for this source).
    RecordNotFound = "record_not_found" => 404,
    /// The record is a reversal or a leg of a transfer, which are not reversed.
    RecordNotReversible = "record_not_reversible" => 409,
    /// The reversals of a record would sum to more than the record; nothing was written.
    ReversalExceedsRecord = "reversal_exceeds_record" => 409,
    /// The feed's cursor is older than the retention: events after it were pruned.
    /// Start again without `after` (from the oldest retained event).
    CursorExpired = "cursor_expired" => 410,

    // --- throttling and server faults ---
    /// Too many requests for this API key; see `Retry-After`.
    RateLimited = "rate_limited" => 429,
    /// The server failed; the change was not applied.
    InternalError = "internal_error" => 500,
    /// The server is overloaded or shutting down, or its database cannot write
    /// right now (busy, full, an I/O error, cannot be opened); retry later.
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
    /// A received webhook's signature matches none of the secrets (`verify_webhook`,
    /// client side).
    WebhookSignatureInvalid = "webhook_signature_invalid" => 401,
    /// A received webhook's `webhook-timestamp` is more than the tolerance (5 min) from
    /// now: a replay or a skewed clock (`verify_webhook`, client side).
    WebhookTimestampOutOfTolerance = "webhook_timestamp_out_of_tolerance" => 401,
    /// A received webhook lacks a `webhook-*` header or one is malformed
    /// (`verify_webhook`, client side).
    WebhookHeaderMalformed = "webhook_header_malformed" => 400,
    /// The secret given to `verify_webhook` is not `whsec_` and base64 (client side).
    WebhookSecretMalformed = "webhook_secret_malformed" => 400,
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
                | Code::WebhookSignatureInvalid
                | Code::WebhookTimestampOutOfTolerance
                | Code::WebhookHeaderMalformed
                | Code::WebhookSecretMalformed
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
