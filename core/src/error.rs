//! The SDK's one error type. Every variant carries the protocol's stable
//! [`Code`], so bindings map errors by code and never by message text.

use crate::protocol::{Code, Envelope, FieldError, Hold, HoldData};
use serde_json::Value;
use std::time::Duration;

/// Everything a credit-sync call can fail with.
///
/// Bindings translate each variant one-to-one; the doc of each variant names
/// the Python exception and JS `code` it becomes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// `insufficient_credits`: the deduct is larger than the balance; nothing was written.
    /// Python: `InsufficientCreditsError`.
    #[error("{message}")]
    InsufficientCredits {
        message: String,
        balance: Option<i64>,
    },

    /// `reference_conflict`: the reference was used before with another payload.
    /// Python: `ReferenceConflictError`.
    #[error("{message}")]
    ReferenceConflict {
        message: String,
        fields: Vec<String>,
    },

    /// `user_not_found`: the user is not registered. Python: `UserNotFoundError`.
    #[error("{message}")]
    UserNotFound { message: String },

    /// `hold_not_found`, `record_not_found`: no hold has this id, or no record this id (or
    /// reference, for this source). Python: `NotFoundError`.
    #[error("{message}")]
    NotFound { code: Code, message: String },

    /// `hold_resolved`: the hold was already captured, voided or has expired, and this is
    /// not a replay of the call that resolved it. `hold` is its final state (when the
    /// server sent it). Python: `HoldResolvedError` (a subclass of `ConflictError`).
    #[error("{message}")]
    HoldResolved {
        message: String,
        hold: Option<Box<Hold>>,
    },

    /// `too_many_holds`, `record_not_reversible`, `reversal_exceeds_record`: the ledger's
    /// state refuses the change; nothing was written. Python: `ConflictError`.
    #[error("{message}")]
    Conflict { code: Code, message: String },

    /// `unauthorized`, `invalid_signature`, `signature_reused`, `signature_scheme_refused`,
    /// `source_mismatch`, `forbidden`: wrong (or spent) credentials or permissions; never
    /// retried. Python: `AuthenticationError`.
    #[error("{message}")]
    Authentication { code: Code, message: String },

    /// `timestamp_out_of_window`: the clock is off even after one corrected retry.
    /// Python: `TimestampError` (a subclass of `AuthenticationError`).
    #[error("{message}")]
    Timestamp {
        message: String,
        server_time: Option<i64>,
    },

    /// Bad input, found by the SDK before sending or by the server (`invalid_*`,
    /// `missing_field`, `amount_too_large`, `batch_too_large`, `payload_too_large`,
    /// `balance_overflow`, ...). Python: `ValidationError`.
    #[error("{message}")]
    Validation {
        code: Code,
        message: String,
        field: Option<String>,
    },

    /// `rate_limited`, after the retries ran out. Python: `RateLimitError`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Option<Duration>,
    },

    /// `timeout`: no answer in time, after the retries ran out. Python: `TimeoutError`
    /// (a subclass of `TransportError`).
    #[error("{message}")]
    Timeout { message: String },

    /// `connection_error`: the connection failed or broke, after the retries ran out.
    /// Python: `TransportError`.
    #[error("{message}")]
    Transport { message: String },

    /// `internal_error`, `service_unavailable`, `invalid_response`, `unsafe_integer` or any unknown code:
    /// the server failed. Python: `ServerError`.
    #[error("{message}")]
    Server {
        code: Code,
        status: u16,
        message: String,
    },

    /// `client_closed`: the client was closed. Python: `CreditSyncError`.
    #[error("client is closed")]
    Closed,

    /// `cursor_expired`: the feed no longer holds events after this cursor (they were
    /// pruned); resynchronise (read balances) and restart from `next_cursor` of a fresh
    /// `get_events`. Python: `CursorExpiredError`.
    #[error("{message}")]
    CursorExpired { message: String },

    /// `webhook_signature_invalid`, `webhook_timestamp_out_of_tolerance`,
    /// `webhook_header_malformed`, `webhook_secret_malformed`: `verify_webhook` refused a
    /// received webhook. Python: `WebhookVerificationError`.
    #[error("{message}")]
    Webhook { code: Code, message: String },
}

impl Error {
    /// The stable protocol code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InsufficientCredits { .. } => Code::InsufficientCredits,
            Error::ReferenceConflict { .. } => Code::ReferenceConflict,
            Error::UserNotFound { .. } => Code::UserNotFound,
            Error::NotFound { code, .. } => *code,
            Error::HoldResolved { .. } => Code::HoldResolved,
            Error::Conflict { code, .. } => *code,
            Error::Authentication { code, .. } => *code,
            Error::Timestamp { .. } => Code::TimestampOutOfWindow,
            Error::Validation { code, .. } => *code,
            Error::RateLimited { .. } => Code::RateLimited,
            Error::Timeout { .. } => Code::Timeout,
            Error::Transport { .. } => Code::ConnectionError,
            Error::Server { code, .. } => *code,
            Error::CursorExpired { .. } => Code::CursorExpired,
            Error::Webhook { code, .. } => *code,
            Error::Closed => Code::ClientClosed,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// `connection_error`: the SDK's own runtime stopped under a call in flight, before
    /// its answer arrived (a Python process forked). Like any broken connection, a write
    /// cut off this way may or may not have been applied: retry it with its reference.
    pub fn cut_off() -> Self {
        Error::Transport {
            message: "the call was cut off before its answer arrived (the process forked); \
                      a write's outcome is unknown: retry it with the same reference"
                .to_string(),
        }
    }

    /// An SDK-side argument error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::Validation {
            code: Code::InvalidArgument,
            message: message.into(),
            field: None,
        }
    }

    /// Builds the error for a server error envelope. `data` matters for `hold_resolved`
    /// only, whose `data` is the hold's final [`HoldData`].
    pub fn from_envelope(
        status: u16,
        env: &Envelope<Value>,
        retry_after: Option<Duration>,
    ) -> Self {
        let message = env.message.clone();
        match env.code {
            Code::InsufficientCredits => Error::InsufficientCredits {
                message,
                balance: env.balance,
            },
            Code::ReferenceConflict => Error::ReferenceConflict {
                message,
                fields: env.fields.clone().unwrap_or_default(),
            },
            Code::UserNotFound => Error::UserNotFound { message },
            Code::Unauthorized
            | Code::InvalidSignature
            | Code::SignatureReused
            | Code::SignatureSchemeRefused
            | Code::SourceMismatch
            | Code::Forbidden => Error::Authentication {
                code: env.code,
                message,
            },
            Code::TimestampOutOfWindow => Error::Timestamp {
                message,
                server_time: env.server_time,
            },
            Code::RateLimited => Error::RateLimited {
                message,
                retry_after,
            },
            Code::Timeout => Error::Timeout { message },
            Code::ConnectionError => Error::Transport { message },
            Code::InvalidJson
            | Code::MissingField
            | Code::InvalidField
            | Code::InvalidAmount
            | Code::AmountTooLarge
            | Code::InvalidTelegramId
            | Code::InvalidReason
            | Code::InvalidNickname
            | Code::InvalidReference
            | Code::BatchTooLarge
            | Code::PayloadTooLarge
            | Code::UnsupportedMediaType
            | Code::BalanceOverflow
            | Code::InvalidArgument
            | Code::BatchAborted => Error::Validation {
                code: env.code,
                message,
                field: env.field.clone(),
            },
            Code::ClientClosed => Error::Closed,
            Code::HoldNotFound | Code::RecordNotFound => Error::NotFound {
                code: env.code,
                message,
            },
            Code::HoldResolved => Error::HoldResolved {
                message,
                hold: env
                    .data
                    .clone()
                    .and_then(|data| serde_json::from_value::<HoldData>(data).ok())
                    .map(|data| Box::new(data.hold)),
            },
            Code::TooManyHolds | Code::RecordNotReversible | Code::ReversalExceedsRecord => {
                Error::Conflict {
                    code: env.code,
                    message,
                }
            }
            Code::CursorExpired => Error::CursorExpired { message },
            Code::WebhookSignatureInvalid
            | Code::WebhookTimestampOutOfTolerance
            | Code::WebhookHeaderMalformed
            | Code::WebhookSecretMalformed => Error::Webhook {
                code: env.code,
                message,
            },
            Code::Ok
            | Code::PartialFailure
            | Code::NotFound
            | Code::MethodNotAllowed
            | Code::InternalError
            | Code::ServiceUnavailable
            | Code::InvalidResponse
            | Code::UnsafeInteger
            | Code::Unknown => Error::Server {
                code: env.code,
                status,
                message,
            },
        }
    }
}

/// Which family an error belongs to: the one name bindings map to their exception or
/// error classes, so no binding keeps its own code-to-class table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InsufficientCredits,
    ReferenceConflict,
    UserNotFound,
    /// `hold_not_found`, `record_not_found`.
    NotFound,
    /// `hold_resolved`.
    HoldResolved,
    /// `too_many_holds`, `record_not_reversible`, `reversal_exceeds_record`.
    Conflict,
    Authentication,
    Timestamp,
    Validation,
    RateLimited,
    Timeout,
    Transport,
    Server,
    Closed,
    /// `cursor_expired`.
    CursorExpired,
    /// `webhook_*`: a received webhook was refused.
    Webhook,
}

impl ErrorKind {
    /// Every kind, for bindings that check their class table is complete.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::InsufficientCredits,
        ErrorKind::ReferenceConflict,
        ErrorKind::UserNotFound,
        ErrorKind::NotFound,
        ErrorKind::HoldResolved,
        ErrorKind::Conflict,
        ErrorKind::Authentication,
        ErrorKind::Timestamp,
        ErrorKind::Validation,
        ErrorKind::RateLimited,
        ErrorKind::Timeout,
        ErrorKind::Transport,
        ErrorKind::Server,
        ErrorKind::CursorExpired,
        ErrorKind::Webhook,
        ErrorKind::Closed,
    ];

    /// A stable snake_case name (`insufficient_credits`, `authentication`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InsufficientCredits => "insufficient_credits",
            ErrorKind::ReferenceConflict => "reference_conflict",
            ErrorKind::UserNotFound => "user_not_found",
            ErrorKind::NotFound => "not_found",
            ErrorKind::HoldResolved => "hold_resolved",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Authentication => "authentication",
            ErrorKind::Timestamp => "timestamp",
            ErrorKind::Validation => "validation",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::Server => "server",
            ErrorKind::CursorExpired => "cursor_expired",
            ErrorKind::Webhook => "webhook",
            ErrorKind::Closed => "closed",
        }
    }
}

impl Error {
    /// The family of this error (see [`ErrorKind`]).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InsufficientCredits { .. } => ErrorKind::InsufficientCredits,
            Error::ReferenceConflict { .. } => ErrorKind::ReferenceConflict,
            Error::UserNotFound { .. } => ErrorKind::UserNotFound,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::HoldResolved { .. } => ErrorKind::HoldResolved,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::Authentication { .. } => ErrorKind::Authentication,
            Error::Timestamp { .. } => ErrorKind::Timestamp,
            Error::Validation { .. } => ErrorKind::Validation,
            Error::RateLimited { .. } => ErrorKind::RateLimited,
            Error::Timeout { .. } => ErrorKind::Timeout,
            Error::Transport { .. } => ErrorKind::Transport,
            Error::Server { .. } => ErrorKind::Server,
            Error::CursorExpired { .. } => ErrorKind::CursorExpired,
            Error::Webhook { .. } => ErrorKind::Webhook,
            Error::Closed => ErrorKind::Closed,
        }
    }

    /// The one failure rule of every binding: does a *write* that failed this way
    /// resolve with the guide's `result.success == false` (and this error's `code`),
    /// rather than raise? Reads always raise.
    ///
    /// The guide checks `result.success` / `result.message` after every write and never
    /// catches, so every failure that has a stable code is a result; `raise_for_error()`
    /// (Python) and `throwIfFailed()` (Node) turn it into the typed error. The match is
    /// exhaustive so a new variant must decide.
    pub fn is_write_outcome(&self) -> bool {
        match self {
            Error::InsufficientCredits { .. }
            | Error::ReferenceConflict { .. }
            | Error::UserNotFound { .. }
            | Error::NotFound { .. }
            | Error::HoldResolved { .. }
            | Error::Conflict { .. }
            | Error::Authentication { .. }
            | Error::Timestamp { .. }
            | Error::Validation { .. }
            | Error::RateLimited { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::Server { .. }
            | Error::Closed
            | Error::CursorExpired { .. }
            | Error::Webhook { .. } => true,
        }
    }

    /// `true` when the change may or may not have been applied: no answer arrived
    /// (timeout, broken connection) or the server could not say (`internal_error`,
    /// an answer that is not this protocol). Calling again with the same reference
    /// settles it: the change applies exactly once.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::Timeout { .. }
                | Error::Transport { .. }
                | Error::Server {
                    code: Code::InternalError | Code::InvalidResponse | Code::Unknown,
                    ..
                }
        )
    }
}

/// A failed write: the error, plus what the caller needs to retry it safely.
///
/// `reference` is the `external_reference` the change was sent with (the caller's, or
/// the `auto-<uuid v7>` the SDK made). When [`Error::outcome_unknown`] is true, calling
/// the same write again with `reference` applies it exactly once.
///
/// ```no_run
/// # async fn run(client: credit_sync::Client) -> Result<(), credit_sync::Error> {
/// match client.add_credits(42, 10, "bonus", None).await {
///     Ok(r) => println!("balance {:?}", r.balance),
///     Err(e) if e.error.outcome_unknown() => {
///         // Same reference: a replay if the first one was applied, else applied now.
///         client.add_credits(42, 10, "bonus", e.reference.as_deref()).await?;
///     }
///     Err(e) => return Err(e.into()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{error}")]
pub struct WriteError {
    /// What went wrong.
    #[source]
    pub error: Error,
    /// The `external_reference` the change was sent with; `None` for a batch (each item
    /// has its own) and for a change refused before it had one.
    pub reference: Option<String>,
    /// The user of a single change; `None` for a batch.
    pub telegram_id: Option<i64>,
    /// The signed change (negative for a deduct); `None` for a batch.
    pub change: Option<i64>,
    /// HTTP attempts made (0 when the SDK refused the call before sending).
    pub attempts: u32,
    /// `true` when the same call may succeed later (a timeout, a broken connection,
    /// 408, 429, 5xx); with the same `reference` a retry never applies twice.
    pub retryable: bool,
    /// The server's `X-Request-Id` of the last answer, when one arrived.
    pub request_id: Option<String>,
}

impl WriteError {
    /// A failure before anything was sent (bad argument, closed client).
    pub fn unsent(
        error: Error,
        telegram_id: Option<i64>,
        change: Option<i64>,
        reference: Option<String>,
    ) -> Self {
        WriteError {
            error,
            reference,
            telegram_id,
            change,
            attempts: 0,
            retryable: false,
            request_id: None,
        }
    }

    /// A write cut off after it may have been sent ([`Error::cut_off`]): the number of
    /// attempts went with the runtime, so `attempts` is 0, but unlike [`WriteError::unsent`]
    /// it is `retryable`: the same reference settles it.
    pub fn cut_off(
        telegram_id: Option<i64>,
        change: Option<i64>,
        reference: Option<String>,
    ) -> Self {
        WriteError {
            retryable: true,
            ..WriteError::unsent(Error::cut_off(), telegram_id, change, reference)
        }
    }

    /// The stable protocol code.
    pub fn code(&self) -> Code {
        self.error.code()
    }
}

impl From<WriteError> for Error {
    fn from(e: WriteError) -> Self {
        e.error
    }
}

impl From<crate::webhook::WebhookError> for Error {
    fn from(e: crate::webhook::WebhookError) -> Self {
        Error::Webhook {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Validation {
            code: e.code,
            message: e.message,
            field: e.field.map(std::borrow::Cow::into_owned),
        }
    }
}

/// The result of every SDK call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error_of(body: Value) -> Error {
        let env: Envelope<Value> = serde_json::from_value(body).unwrap();
        Error::from_envelope(env.code.http_status(), &env, None)
    }

    #[test]
    fn flow_codes_have_their_own_variants() {
        let hold = json!({"hold_id": "hold_0123456789abcdef01234567", "telegram_id": 7,
            "source": "media_bot", "amount": 50, "captured": 20, "state": "captured",
            "reason": "job", "external_reference": null, "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-01T00:10:00Z", "resolved_at": "2026-01-01T00:01:00Z",
            "record_id": 9});
        let e = error_of(
            json!({"success": false, "code": "hold_resolved", "message": "m",
            "data": {"hold": hold, "credits": 80, "held": 0, "available": 80, "duplicate": false}}),
        );
        let Error::HoldResolved {
            hold: Some(hold), ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((hold.captured, hold.record_id), (20, Some(9)));
        assert_eq!(
            (e.code(), e.kind()),
            (Code::HoldResolved, ErrorKind::HoldResolved)
        );
        // Without the data it is still the same error, only without the state.
        let e = error_of(json!({"success": false, "code": "hold_resolved", "message": "m"}));
        assert!(matches!(e, Error::HoldResolved { hold: None, .. }));
        for (code, kind) in [
            ("hold_not_found", ErrorKind::NotFound),
            ("record_not_found", ErrorKind::NotFound),
            ("too_many_holds", ErrorKind::Conflict),
            ("record_not_reversible", ErrorKind::Conflict),
            ("reversal_exceeds_record", ErrorKind::Conflict),
        ] {
            let e = error_of(json!({"success": false, "code": code, "message": "m"}));
            assert_eq!((e.code().as_str(), e.kind()), (code, kind));
            assert!(e.is_write_outcome() && !e.outcome_unknown());
        }
    }

    #[test]
    fn every_server_code_but_the_successes_is_an_error_of_its_own_code() {
        for code in Code::ALL.iter().filter(|c| c.sent_by_server()) {
            if matches!(code, Code::Ok | Code::PartialFailure) {
                continue;
            }
            let e = error_of(json!({"success": false, "code": code.as_str(), "message": "m"}));
            assert_eq!(e.code(), *code, "{e:?}");
            assert!(ErrorKind::ALL.contains(&e.kind()));
        }
    }
}
