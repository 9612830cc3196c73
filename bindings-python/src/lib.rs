//! Python bindings for the credit-sync core: the native module
//! `credit_sync_client._native`, re-exported by the `credit_sync_client` package.
//! Each file is a table of translations; the behaviour lives in the core.

// A failed write carries the core's `WriteError` (its reference, attempts, request id)
// by value, as the core does; one per network call, so its size costs nothing.
#![allow(clippy::result_large_err)]

mod client;
mod errors;
mod inflight;
mod logs;
mod results;
mod runtime;

use crate::errors::{panic_error, CoreError};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyInt, PyString, PyTuple};

/// Runs a pure core function, so a panic surfaces as `CreditSyncError`, not `PanicException`.
fn guard<T>(f: impl FnOnce() -> T) -> PyResult<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .map_err(|p| CoreError(panic_error(p)).into())
}

/// Builds a de-duplication reference from parts: `make_reference("task", 42, "2024-01-05")`
/// gives `"task_42_2024-01-05"`. Always valid for the server; different part lists never collide.
#[pyfunction]
#[pyo3(signature = (*parts))]
fn make_reference(parts: &Bound<'_, PyTuple>) -> PyResult<String> {
    let mut texts = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if part.is_instance_of::<PyString>() || part.is_instance_of::<PyInt>() {
            texts.push(part.str()?.to_string());
        } else {
            return Err(PyTypeError::new_err(format!(
                "make_reference() part {i} must be str or int, not {}",
                part.get_type().name()?
            )));
        }
    }
    guard(|| credit_sync::reference::reference(&texts))
}

/// The guide's v1 token: hex HMAC-SHA256 of `"{telegram_id}:{amount}:{source}:{timestamp}"`.
#[pyfunction]
fn generate_token(
    telegram_id: i64,
    amount: i64,
    source: &str,
    timestamp: i64,
    secret: &str,
) -> PyResult<String> {
    guard(|| credit_sync::signature::v1_token(secret, telegram_id, amount, source, timestamp))
}

/// Checks a received webhook (Standard Webhooks) with the core's `verify_webhook` and
/// returns its `Event`; raises `WebhookVerificationError` (`.code` says why).
#[pyfunction]
fn verify_webhook(
    headers: &Bound<'_, PyAny>,
    body: &Bound<'_, PyAny>,
    secret: &Bound<'_, PyAny>,
) -> PyResult<results::Event> {
    let pairs = if headers.hasattr("items")? {
        headers.call_method0("items")?
    } else {
        headers.clone()
    };
    let headers: Vec<(String, String)> = pairs
        .try_iter()?
        .map(|pair| pair?.extract())
        .collect::<PyResult<_>>()
        .map_err(|_| {
            PyTypeError::new_err(
                "verify_webhook() headers must be a mapping of str to str or a sequence of (str, str) pairs",
            )
        })?;
    let body: Vec<u8> = if let Ok(text) = body.cast::<PyString>() {
        text.extract::<String>()?.into_bytes()
    } else if let Ok(bytes) = body.cast::<PyBytes>() {
        bytes.as_bytes().to_vec()
    } else if let Ok(bytes) = body.cast::<PyByteArray>() {
        bytes.to_vec()
    } else {
        return Err(PyTypeError::new_err(format!(
            "verify_webhook() body must be bytes or str, not {}",
            body.get_type().name()?
        )));
    };
    let secrets: Vec<String> = if let Ok(one) = secret.cast::<PyString>() {
        vec![one.extract::<String>()?]
    } else {
        secret.extract().map_err(|_| {
            PyTypeError::new_err("verify_webhook() secret must be a str or a sequence of str")
        })?
    };
    guard(|| credit_sync::verify_webhook(&headers, &body, &secrets))?
        .map(results::Event)
        .map_err(|e| CoreError(e).into())
}

/// How a Stars bot answers a `pre_checkout_query` before its own payload check: `None`
/// goes on, a `str` refuses with that message (the core's rule, `stars::pre_checkout_refusal`).
#[pyfunction]
fn stars_pre_checkout_refusal(currency: &str, total_amount: i64) -> Option<&'static str> {
    credit_sync::stars::pre_checkout_refusal(currency, total_amount)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<client::CreditSyncClient>()?;
    m.add_class::<client::AsyncCreditSyncClient>()?;
    m.add_class::<results::SyncResult>()?;
    m.add_class::<results::HoldResult>()?;
    m.add_class::<results::ReverseResult>()?;
    m.add_class::<results::TransferResult>()?;
    m.add_class::<results::Event>()?;
    m.add_class::<client::EventIterator>()?;
    m.add_class::<client::AsyncEventFeed>()?;
    m.add_class::<client::RecordIterator>()?;
    m.add_class::<client::AsyncRecordWalk>()?;
    // The defaults the bindings state, from their one home in the core: the package's
    // async client takes them from here, and the tests check every stated one against them.
    m.add(
        "DEFAULT_RECORDS_PAGE_SIZE",
        credit_sync::records::DEFAULT_PAGE_SIZE,
    )?;
    m.add(
        "DEFAULT_CREDITS_PER_STAR",
        credit_sync::stars::DEFAULT_CREDITS_PER_STAR,
    )?;
    m.add(
        "DEFAULT_REFUND_REASON",
        credit_sync::stars::DEFAULT_REFUND_REASON,
    )?;
    m.add(
        "DEFAULT_REVERSAL_REASON",
        credit_sync::model::DEFAULT_REVERSAL_REASON,
    )?;
    m.add(
        "STARS_OFFER_REFUSED_MESSAGE",
        credit_sync::stars::OFFER_REFUSED_MESSAGE,
    )?;
    m.add_function(wrap_pyfunction!(stars_pre_checkout_refusal, m)?)?;
    m.add_function(wrap_pyfunction!(make_reference, m)?)?;
    m.add_function(wrap_pyfunction!(verify_webhook, m)?)?;
    m.add_function(wrap_pyfunction!(generate_token, m)?)?;
    errors::register(m)?;
    let py = m.py();
    logs::install(py)?;
    let on_exit = wrap_pyfunction!(runtime::_mark_finalizing, m)?;
    py.import("atexit")?.call_method1("register", (on_exit,))?;
    let fork_hooks = pyo3::types::PyDict::new(py);
    fork_hooks.set_item("before", wrap_pyfunction!(runtime::_before_fork, m)?)?;
    let after = wrap_pyfunction!(runtime::_after_fork, m)?;
    fork_hooks.set_item("after_in_parent", &after)?;
    fork_hooks.set_item("after_in_child", &after)?;
    py.import("os")?
        .call_method("register_at_fork", (), Some(&fork_hooks))?;
    Ok(())
}
