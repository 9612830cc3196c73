//! The Python exception hierarchy and the one translation of core errors into it.
//! Code that prefers exceptions catches `CreditSyncError` or a subclass and reads
//! `.code`, the protocol's stable string; it never parses messages.

use crate::results::hold_dict;
use credit_sync::Error;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::BoundObject;

create_exception!(
    credit_sync_client,
    CreditSyncError,
    PyException,
    "Base class of every credit-sync error. `.code` is the protocol's stable code, `.message` the text."
);
create_exception!(
    credit_sync_client,
    AuthenticationError,
    CreditSyncError,
    "Wrong API key, signature, source or permission (`unauthorized`, `invalid_signature`, `signature_reused`, `signature_scheme_refused`, `source_mismatch`, `forbidden`)."
);
create_exception!(
    credit_sync_client,
    TimestampError,
    AuthenticationError,
    "`timestamp_out_of_window`: the clock is off; `.server_time` is the server clock."
);
create_exception!(
    credit_sync_client,
    InsufficientCreditsError,
    CreditSyncError,
    "`insufficient_credits`: the deduct is larger than the balance (`.balance`); nothing was written."
);
create_exception!(
    credit_sync_client,
    ReferenceConflictError,
    CreditSyncError,
    "`reference_conflict`: the reference was used before with another payload; `.fields` names the differences."
);
create_exception!(
    credit_sync_client,
    UserNotFoundError,
    CreditSyncError,
    "`user_not_found`: the user is not registered."
);
create_exception!(
    credit_sync_client,
    NotFoundError,
    CreditSyncError,
    "`hold_not_found`, `record_not_found`: no hold has this id, or no record this id or reference."
);
create_exception!(
    credit_sync_client,
    ConflictError,
    CreditSyncError,
    "The ledger's state refuses the change (`too_many_holds`, `record_not_reversible`, `reversal_exceeds_record`, `hold_resolved`); nothing was written."
);
create_exception!(
    credit_sync_client,
    HoldResolvedError,
    ConflictError,
    "`hold_resolved`: the hold was already captured, voided or has expired; `.hold` is its final state (a dict, or `None`)."
);
create_exception!(
    credit_sync_client,
    ValidationError,
    CreditSyncError,
    "Bad input, found by the SDK or the server (`invalid_*`, `missing_field`, `amount_too_large`, ...); `.field` names it."
);
create_exception!(
    credit_sync_client,
    RateLimitError,
    CreditSyncError,
    "`rate_limited` after the retries ran out; `.retry_after` is the server's hint in seconds."
);
create_exception!(
    credit_sync_client,
    TransportError,
    CreditSyncError,
    "`connection_error`: the connection failed or broke after the retries ran out."
);
create_exception!(
    credit_sync_client,
    TimeoutError,
    TransportError,
    "`timeout`: no answer in time after the retries ran out."
);
create_exception!(
    credit_sync_client,
    CursorExpiredError,
    CreditSyncError,
    "`cursor_expired`: the event feed no longer holds events after this cursor; resynchronise and restart from a fresh `get_events`."
);
create_exception!(
    credit_sync_client,
    WebhookVerificationError,
    CreditSyncError,
    "`verify_webhook` refused a received webhook (`webhook_signature_invalid`, `webhook_timestamp_out_of_tolerance`, `webhook_header_malformed`, `webhook_secret_malformed`)."
);
create_exception!(
    credit_sync_client,
    ServerError,
    CreditSyncError,
    "The server failed or answered with something unexpected (`internal_error`, `service_unavailable`, `invalid_response`, `unknown`); `.status` is the HTTP status."
);

/// A core error on its way to Python (the orphan rule forbids `From<Error> for PyErr`).
pub struct CoreError(pub Error);

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        CoreError(e)
    }
}

impl From<CoreError> for PyErr {
    /// Exhaustive on purpose: a new core variant does not compile until it has an exception.
    fn from(CoreError(e): CoreError) -> PyErr {
        let code = e.code().as_str();
        let message = e.message();
        Python::attach(|py| {
            let (ty, attrs): (Bound<'_, PyType>, Vec<(&str, Py<PyAny>)>) = match &e {
                Error::InsufficientCredits { balance, .. } => (
                    py.get_type::<InsufficientCreditsError>(),
                    vec![("balance", into_py(py, *balance))],
                ),
                Error::ReferenceConflict { fields, .. } => (
                    py.get_type::<ReferenceConflictError>(),
                    vec![("fields", into_py(py, fields.clone()))],
                ),
                Error::UserNotFound { .. } => (py.get_type::<UserNotFoundError>(), vec![]),
                Error::NotFound { .. } => (py.get_type::<NotFoundError>(), vec![]),
                Error::HoldResolved { hold, .. } => (
                    py.get_type::<HoldResolvedError>(),
                    vec![(
                        "hold",
                        hold.as_deref()
                            .and_then(|h| hold_dict(py, h).ok())
                            .map_or_else(|| py.None(), |d| d.into_any().unbind()),
                    )],
                ),
                Error::Conflict { .. } => (py.get_type::<ConflictError>(), vec![]),
                Error::Authentication { .. } => (py.get_type::<AuthenticationError>(), vec![]),
                Error::Timestamp { server_time, .. } => (
                    py.get_type::<TimestampError>(),
                    vec![("server_time", into_py(py, *server_time))],
                ),
                Error::Validation { field, .. } => (
                    py.get_type::<ValidationError>(),
                    vec![("field", into_py(py, field.clone()))],
                ),
                Error::RateLimited { retry_after, .. } => (
                    py.get_type::<RateLimitError>(),
                    vec![(
                        "retry_after",
                        into_py(py, retry_after.map(|d| d.as_secs_f64())),
                    )],
                ),
                Error::Timeout { .. } => (py.get_type::<TimeoutError>(), vec![]),
                Error::Transport { .. } => (py.get_type::<TransportError>(), vec![]),
                Error::Server { status, .. } => (
                    py.get_type::<ServerError>(),
                    vec![("status", into_py(py, *status))],
                ),
                Error::Closed => (py.get_type::<CreditSyncError>(), vec![]),
                Error::CursorExpired { .. } => (py.get_type::<CursorExpiredError>(), vec![]),
                Error::Webhook { .. } => (py.get_type::<WebhookVerificationError>(), vec![]),
            };
            new_error(&ty, code, &message, attrs)
        })
    }
}

/// Builds an exception instance with `.code`, `.message` and extra attributes set.
pub fn new_error(
    ty: &Bound<'_, PyType>,
    code: &str,
    message: &str,
    attrs: Vec<(&str, Py<PyAny>)>,
) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let value = ty.call1((message,))?;
        value.setattr("code", code)?;
        value.setattr("message", message)?;
        for (name, v) in attrs {
            value.setattr(name, v)?;
        }
        Ok(PyErr::from_value(value))
    };
    build().unwrap_or_else(|e| e)
}

/// Sets what a failed write knows on its exception: `reference`, `attempts`, `retryable`
/// and `request_id` (the class defaults are `None` for errors that are not from a write).
pub fn with_write_context(
    py: Python<'_>,
    err: PyErr,
    reference: Option<String>,
    attempts: u32,
    retryable: bool,
    request_id: Option<String>,
) -> PyErr {
    let value = err.value(py);
    let set = || -> PyResult<()> {
        value.setattr("reference", reference)?;
        value.setattr("attempts", attempts)?;
        value.setattr("retryable", retryable)?;
        value.setattr("request_id", request_id)?;
        Ok(())
    };
    match set() {
        Ok(()) => err,
        Err(e) => e,
    }
}

fn into_py<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> Py<PyAny> {
    v.into_pyobject(py)
        .map(|b| b.into_any().unbind())
        .unwrap_or_else(|_| py.None())
}

/// Turns a caught panic into the core's error, so it reaches Python as a
/// `ServerError` (a `CreditSyncError`) and never as `PanicException`.
pub fn panic_error(payload: Box<dyn std::any::Any + Send>) -> Error {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    Error::Server {
        code: credit_sync::Code::Unknown,
        status: 0,
        message: format!("internal error in the credit-sync extension: {text}"),
    }
}

/// Class-level defaults, so every attribute exists even on an exception raised by user code.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let classes: [(&str, Bound<'_, PyType>); 16] = [
        ("CreditSyncError", py.get_type::<CreditSyncError>()),
        ("AuthenticationError", py.get_type::<AuthenticationError>()),
        ("TimestampError", py.get_type::<TimestampError>()),
        (
            "InsufficientCreditsError",
            py.get_type::<InsufficientCreditsError>(),
        ),
        (
            "ReferenceConflictError",
            py.get_type::<ReferenceConflictError>(),
        ),
        ("UserNotFoundError", py.get_type::<UserNotFoundError>()),
        ("NotFoundError", py.get_type::<NotFoundError>()),
        ("ConflictError", py.get_type::<ConflictError>()),
        ("HoldResolvedError", py.get_type::<HoldResolvedError>()),
        ("ValidationError", py.get_type::<ValidationError>()),
        ("RateLimitError", py.get_type::<RateLimitError>()),
        ("TransportError", py.get_type::<TransportError>()),
        ("TimeoutError", py.get_type::<TimeoutError>()),
        ("ServerError", py.get_type::<ServerError>()),
        ("CursorExpiredError", py.get_type::<CursorExpiredError>()),
        (
            "WebhookVerificationError",
            py.get_type::<WebhookVerificationError>(),
        ),
    ];
    for (name, ty) in classes {
        m.add(name, ty)?;
    }
    let base = py.get_type::<CreditSyncError>();
    base.setattr("code", "unknown")?;
    base.setattr("message", "")?;
    for name in ["reference", "attempts", "retryable", "request_id"] {
        base.setattr(name, py.None())?;
    }
    py.get_type::<InsufficientCreditsError>()
        .setattr("balance", py.None())?;
    py.get_type::<ReferenceConflictError>()
        .setattr("fields", pyo3::types::PyTuple::empty(py))?;
    py.get_type::<TimestampError>()
        .setattr("server_time", py.None())?;
    py.get_type::<ValidationError>()
        .setattr("field", py.None())?;
    py.get_type::<RateLimitError>()
        .setattr("retry_after", py.None())?;
    py.get_type::<ServerError>().setattr("status", py.None())?;
    py.get_type::<HoldResolvedError>()
        .setattr("hold", py.None())?;
    Ok(())
}
