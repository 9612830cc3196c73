//! Core errors to JavaScript errors. Every error is an `Error` whose `.code` is
//! the protocol's stable string; the details a variant carries become
//! properties. The JS layer (`index.js`) gives each code its subclass.

use crate::results::{Hold, Ints};
use credit_sync::Error;
use napi::bindgen_prelude::{JsObjectValue, Object, ToNapiValue};
use napi::{Env, JsError, JsTypeError, JsValue};

/// The `.code` of an SDK-side argument error, also set on `TypeError`s.
const INVALID_ARGUMENT: &str = "invalid_argument";

/// A JS `Error` for a core error, as a `napi::Error` that throws or rejects with
/// exactly that object. The match is exhaustive so a new variant cannot slip through
/// without its properties:
///
/// | variant | `.code` | extra properties |
/// |---|---|---|
/// | every variant | its code | `kind` (the core's `ErrorKind`, which picks the JS class) |
/// | `InsufficientCredits` | `insufficient_credits` | `balance` |
/// | `ReferenceConflict` | `reference_conflict` | `fields` |
/// | `UserNotFound` | `user_not_found` | |
/// | `NotFound` | `hold_not_found`, `record_not_found` | |
/// | `HoldResolved` | `hold_resolved` | `hold` (its final state) |
/// | `Conflict` | `too_many_holds`, `record_not_reversible`, `reversal_exceeds_record` | |
/// | `Authentication` | `unauthorized`, `invalid_signature`, `signature_reused`, `signature_scheme_refused`, `source_mismatch`, `forbidden` | |
/// | `Timestamp` | `timestamp_out_of_window` | `serverTime` |
/// | `Validation` | `invalid_*`, `missing_field`, `amount_too_large`, ... | `field` |
/// | `RateLimited` | `rate_limited` | `retryAfterMs` |
/// | `Timeout` | `timeout` | |
/// | `Transport` | `connection_error` | |
/// | `Server` | `internal_error`, `service_unavailable`, `invalid_response`, ... | `status` |
/// | `Closed` | `client_closed` | |
pub fn core_error(env: &Env, error: Error) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let code = error.code().as_str();
        let js = JsError::from(napi::Error::new(code, error.message())).into_unknown(*env);
        // SAFETY: `js` was made from a `JsError` just above, so it is an object.
        let mut obj: Object<'_> = unsafe { js.cast()? };
        // The JS layer picks the error class from the core's kind, never from a code table.
        obj.set_named_property("kind", error.kind().as_str())?;
        match &error {
            Error::InsufficientCredits { balance, .. } => set(&mut obj, "balance", *balance)?,
            Error::ReferenceConflict { fields, .. } => {
                set(&mut obj, "fields", Some(fields.clone()))?
            }
            Error::Timestamp { server_time, .. } => set(&mut obj, "serverTime", *server_time)?,
            Error::Validation { field, .. } => set(&mut obj, "field", field.clone())?,
            Error::RateLimited { retry_after, .. } => set(
                &mut obj,
                "retryAfterMs",
                retry_after.map(|d| d.as_millis() as f64),
            )?,
            Error::Server { status, .. } => set(&mut obj, "status", Some(*status))?,
            // A write resolves with a failed result instead, which carries the hold in the
            // client's integer style; here numbers, unless one is beyond 2^53-1.
            Error::HoldResolved { hold, .. } => set(
                &mut obj,
                "hold",
                hold.as_deref()
                    .and_then(|h| Hold::convert(h, Ints::Number).ok()),
            )?,
            Error::NotFound { .. }
            | Error::Conflict { .. }
            | Error::UserNotFound { .. }
            | Error::Authentication { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. }
            | Error::Closed
            | Error::CursorExpired { .. }
            | Error::Webhook { .. } => {}
        }
        Ok(napi::Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|e| e)
}

/// A `TypeError` for a JS argument of the wrong type or value, with `.code = "invalid_argument"`.
pub fn type_error(env: &Env, message: String) -> napi::Error {
    let js = JsTypeError::from(napi::Error::new(INVALID_ARGUMENT, message)).into_unknown(*env);
    napi::Error::from(js)
}

fn set<V: ToNapiValue>(obj: &mut Object<'_>, key: &str, value: Option<V>) -> napi::Result<()> {
    match value {
        Some(v) => obj.set_named_property(key, v),
        None => Ok(()),
    }
}
