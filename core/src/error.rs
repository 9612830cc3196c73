//! The SDK's one error type. Every variant carries the protocol's stable
//! [`Code`], so bindings map errors by code and never by message text.

use crate::protocol::{Code, Envelope, FieldError};
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

    /// `internal_error`, `service_unavailable`, `invalid_response` or any unknown code:
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
}

impl Error {
    /// The stable protocol code of this error.
    pub fn code(&self) -> Code {
        match self {
            Error::InsufficientCredits { .. } => Code::InsufficientCredits,
            Error::ReferenceConflict { .. } => Code::ReferenceConflict,
            Error::UserNotFound { .. } => Code::UserNotFound,
            Error::Authentication { code, .. } => *code,
            Error::Timestamp { .. } => Code::TimestampOutOfWindow,
            Error::Validation { code, .. } => *code,
            Error::RateLimited { .. } => Code::RateLimited,
            Error::Timeout { .. } => Code::Timeout,
            Error::Transport { .. } => Code::ConnectionError,
            Error::Server { code, .. } => *code,
            Error::Closed => Code::ClientClosed,
        }
    }

    /// The human-readable message.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// An SDK-side argument error.
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Error::Validation {
            code: Code::InvalidArgument,
            message: message.into(),
            field: None,
        }
    }

    /// Builds the error for a server error envelope.
    pub fn from_envelope<T>(status: u16, env: &Envelope<T>, retry_after: Option<Duration>) -> Self {
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
            Code::Ok
            | Code::PartialFailure
            | Code::NotFound
            | Code::MethodNotAllowed
            | Code::InternalError
            | Code::ServiceUnavailable
            | Code::InvalidResponse
            | Code::Unknown => Error::Server {
                code: env.code,
                status,
                message,
            },
        }
    }
}

impl From<FieldError> for Error {
    fn from(e: FieldError) -> Self {
        Error::Validation {
            code: e.code,
            message: e.message,
            field: e.field.map(str::to_string),
        }
    }
}

/// The result of every SDK call.
pub type Result<T, E = Error> = std::result::Result<T, E>;
