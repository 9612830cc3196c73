//! What the Python methods return: `SyncResult` in the guide's `success` /
//! `message` style, and plain dicts for reads, translated from the core's models.

use crate::errors::{new_error, with_write_context, CoreError, CreditSyncError};
use credit_sync::model::{HoldData, ReverseData, TransferData, TransferLeg};
use credit_sync::{Balance, BatchResult, FlowResult, Hold, Holds, Record, RecordsPage, UserData};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The outcome of `add_credits`, `deduct_credits` (one change) or `batch_sync` (many).
///
/// Check `.success`; on failure `.code` is the protocol's stable code and `.message`
/// says why. `raise_for_error()` turns a failure into the matching exception.
#[pyclass(frozen, module = "credit_sync_client", name = "SyncResult")]
pub struct SyncResult {
    outcome: Outcome,
}

enum Outcome {
    Change(credit_sync::SyncResult),
    /// A batch; `error` is set when it was refused as a whole (the core's `BatchResult::failed`).
    Batch(BatchResult),
}

impl SyncResult {
    pub fn of_change(r: credit_sync::SyncResult) -> Self {
        SyncResult {
            outcome: Outcome::Change(r),
        }
    }
    pub fn of_batch(r: BatchResult) -> Self {
        SyncResult {
            outcome: Outcome::Batch(r),
        }
    }
    fn change_result(&self) -> Option<&credit_sync::SyncResult> {
        match &self.outcome {
            Outcome::Change(r) => Some(r),
            _ => None,
        }
    }
}

#[pymethods]
impl SyncResult {
    /// `True` when the change (or every change of a batch) was applied.
    #[getter]
    fn success(&self) -> bool {
        match &self.outcome {
            Outcome::Change(r) => r.success,
            Outcome::Batch(b) => b.success,
        }
    }

    /// The protocol's stable code: `"ok"`, `"insufficient_credits"`, `"partial_failure"`, ...
    #[getter]
    fn code(&self) -> &'static str {
        match &self.outcome {
            Outcome::Change(r) => r.code.as_str(),
            Outcome::Batch(b) => b.code.as_str(),
        }
    }

    /// Human-readable text; never parse it.
    #[getter]
    fn message(&self) -> String {
        match &self.outcome {
            Outcome::Change(r) => r.message.clone(),
            Outcome::Batch(b) => b.message.clone(),
        }
    }

    /// Balance after the change; on `insufficient_credits` the current balance. `None` for a batch.
    #[getter]
    fn balance(&self) -> Option<i64> {
        self.change_result().and_then(|r| r.balance)
    }

    /// `True` when the server had already applied this reference (a safe replay).
    #[getter]
    fn duplicate(&self) -> bool {
        self.change_result().is_some_and(|r| r.duplicate)
    }

    /// The ledger record id of the change, when it was applied.
    #[getter]
    fn record_id(&self) -> Option<i64> {
        self.change_result().and_then(|r| r.record_id)
    }

    /// The user of a single change.
    #[getter]
    fn telegram_id(&self) -> Option<i64> {
        self.change_result().map(|r| r.telegram_id)
    }

    /// The signed change: negative for a deduct.
    #[getter]
    fn change(&self) -> Option<i64> {
        self.change_result().map(|r| r.change)
    }

    /// The reference the change was sent with (yours, or the SDK's `auto-...`); `None` for
    /// a batch (each item has its own). After a failure with an unknown outcome, call the
    /// same write again with `reference=result.reference`: it applies exactly once.
    #[getter]
    fn reference(&self) -> Option<String> {
        self.change_result().and_then(|r| r.reference.clone())
    }

    /// HTTP attempts the call made (0 when it was refused before sending).
    #[getter]
    fn attempts(&self) -> u32 {
        match &self.outcome {
            Outcome::Change(r) => r.attempts,
            Outcome::Batch(b) => b.attempts,
        }
    }

    /// On failure, `True` when the same call may succeed later (with the same reference
    /// a retry never applies twice). `False` on success.
    #[getter]
    fn retryable(&self) -> bool {
        match &self.outcome {
            Outcome::Change(r) => r.retryable,
            Outcome::Batch(b) => b.retryable,
        }
    }

    /// The server's `X-Request-Id` of the last answer, when one arrived.
    #[getter]
    fn request_id(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Change(r) => r.request_id.clone(),
            Outcome::Batch(b) => b.request_id.clone(),
        }
    }

    /// The payload: for a change `{record_id, telegram_id, change, balance, duplicate}`
    /// (`None` on failure); for a batch `{'success': n, 'failed': n, 'results': [SyncResult, ...]}`.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        match &self.outcome {
            Outcome::Change(r) if r.success => {
                let d = PyDict::new(py);
                d.set_item("record_id", r.record_id)?;
                d.set_item("telegram_id", r.telegram_id)?;
                d.set_item("change", r.change)?;
                d.set_item("balance", r.balance)?;
                d.set_item("duplicate", r.duplicate)?;
                Ok(Some(d))
            }
            Outcome::Change(_) => Ok(None),
            Outcome::Batch(b) => {
                let d = PyDict::new(py);
                d.set_item("success", b.succeeded)?;
                d.set_item("failed", b.failed)?;
                let results = PyList::empty(py);
                for r in &b.results {
                    results.append(Py::new(py, SyncResult::of_change(r.clone()))?)?;
                }
                d.set_item("results", results)?;
                Ok(Some(d))
            }
        }
    }

    /// Returns `self` when successful, otherwise raises the matching `CreditSyncError` subclass.
    /// The exception keeps the result's `reference`, `attempts`, `retryable` and `request_id`.
    fn raise_for_error(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        let py = slf.py();
        let err = match &slf.get().outcome {
            Outcome::Change(r) if !r.success => match &r.error {
                Some(e) => CoreError(e.clone()).into(),
                None => new_error(
                    &py.get_type::<CreditSyncError>(),
                    r.code.as_str(),
                    &r.message,
                    vec![],
                ),
            },
            Outcome::Batch(b) if !b.success => match &b.error {
                Some(e) => CoreError(e.clone()).into(),
                None => new_error(
                    &py.get_type::<CreditSyncError>(),
                    b.code.as_str(),
                    &b.message,
                    vec![],
                ),
            },
            _ => return Ok(slf),
        };
        let this = slf.get();
        Err(with_write_context(
            py,
            err,
            this.reference(),
            this.attempts(),
            this.retryable(),
            this.request_id(),
        ))
    }

    fn __repr__(&self) -> String {
        match &self.outcome {
            Outcome::Change(r) => format!(
                "SyncResult(success={}, code={:?}, balance={}, duplicate={}, reference={}, message={:?})",
                py_bool(r.success),
                r.code.as_str(),
                r.balance.map_or("None".to_string(), |b| b.to_string()),
                py_bool(r.duplicate),
                r.reference.as_ref().map_or("None".to_string(), |s| format!("{s:?}")),
                r.message
            ),
            Outcome::Batch(b) => format!(
                "SyncResult(success={}, code={:?}, succeeded={}, failed={}, message={:?})",
                py_bool(b.success),
                b.code.as_str(),
                b.succeeded,
                b.failed,
                b.message
            ),
        }
    }
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A money flow's result class: the getters every flow result shares (the guide's
/// `success` / `code` / `message`, what a retry needs, `raise_for_error()`), and the ones
/// of its own answer, written out in `$own`. One macro, so the three classes cannot drift.
macro_rules! flow_result {
    ($(#[$doc:meta])* $class:ident, $name:literal, $data:ty, { $($own:tt)* }) => {
        $(#[$doc])*
        #[pyclass(frozen, module = "credit_sync_client", name = $name)]
        pub struct $class(pub FlowResult<$data>);

        impl $class {
            fn data(&self) -> Option<&$data> {
                self.0.data.as_ref()
            }
        }

        #[pymethods]
        impl $class {
            /// `True` when the call did what it asked (or replayed a call that had).
            #[getter]
            fn success(&self) -> bool {
                self.0.success
            }

            /// The protocol's stable code: `"ok"`, `"insufficient_credits"`, ...
            #[getter]
            fn code(&self) -> &'static str {
                self.0.code.as_str()
            }

            /// Human-readable text; never parse it.
            #[getter]
            fn message(&self) -> String {
                self.0.message.clone()
            }

            /// `True` when the server had already done this call (a safe replay).
            #[getter]
            fn duplicate(&self) -> bool {
                self.0.duplicate()
            }

            /// The reference the call was sent with (yours, or the SDK's `auto-...`).
            #[getter]
            fn reference(&self) -> Option<String> {
                self.0.reference.clone()
            }

            /// HTTP attempts the call made (0 when it was refused before sending).
            #[getter]
            fn attempts(&self) -> u32 {
                self.0.attempts
            }

            /// On failure, `True` when the same call may succeed later.
            #[getter]
            fn retryable(&self) -> bool {
                self.0.retryable
            }

            /// The server's `X-Request-Id` of the last answer, when one arrived.
            #[getter]
            fn request_id(&self) -> Option<String> {
                self.0.request_id.clone()
            }

            /// Returns `self` when successful, otherwise raises the matching `CreditSyncError`
            /// subclass, with the result's `reference`, `attempts`, `retryable` and `request_id`.
            fn raise_for_error(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
                let py = slf.py();
                let r = &slf.get().0;
                if r.success {
                    return Ok(slf);
                }
                let err = match &r.error {
                    Some(e) => CoreError(e.clone()).into(),
                    None => new_error(
                        &py.get_type::<CreditSyncError>(),
                        r.code.as_str(),
                        &r.message,
                        vec![],
                    ),
                };
                Err(with_write_context(
                    py,
                    err,
                    r.reference.clone(),
                    r.attempts,
                    r.retryable,
                    r.request_id.clone(),
                ))
            }

            fn __repr__(&self) -> String {
                format!(
                    "{}(success={}, code={:?}, duplicate={}, reference={}, message={:?})",
                    $name,
                    py_bool(self.0.success),
                    self.0.code.as_str(),
                    py_bool(self.0.duplicate()),
                    self.0.reference.as_ref().map_or("None".to_string(), |s| format!("{s:?}")),
                    self.0.message
                )
            }

            $($own)*
        }
    };
}

flow_result!(
    /// The outcome of `hold_credits`, `capture_hold` and `void_hold`: check `.success`;
    /// `.hold_id`, `.hold` and the balance view (`.credits`, `.held`, `.available`) after it.
    HoldResult, "HoldResult", HoldData, {
    /// The hold's id (pass it to `capture_hold` / `void_hold`).
    #[getter]
    fn hold_id(&self) -> Option<String> {
        self.0.hold().map(|h| h.hold_id.clone())
    }

    /// The hold as a dict (`hold_id`, `state`, `amount`, `captured`, `expires_at`, ...): as
    /// the call left it, or on `hold_resolved` its final state.
    #[getter]
    fn hold<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.0.hold().map(|h| hold_dict(py, h)).transpose()
    }

    /// `"open"`, `"captured"`, `"voided"` or `"expired"`, when the hold is known.
    #[getter]
    fn state(&self) -> Option<&'static str> {
        self.0.hold().map(|h| h.state.as_str())
    }

    /// The user's credits (the sum of the records) after the call.
    #[getter]
    fn credits(&self) -> Option<i64> {
        self.data().map(|d| d.credits)
    }

    /// The user's open holds' sum after the call.
    #[getter]
    fn held(&self) -> Option<i64> {
        self.data().map(|d| d.held)
    }

    /// `credits - held` after the call: what deducts, holds and transfers may take.
    #[getter]
    fn available(&self) -> Option<i64> {
        self.data().map(|d| d.available)
    }
});

flow_result!(
    /// The outcome of `reverse_record` and `refund_stars_payment`.
    ReverseResult, "ReverseResult", ReverseData, {
    /// The reversal's own record.
    #[getter]
    fn record_id(&self) -> Option<i64> {
        self.data().map(|d| d.record_id)
    }

    /// The record it reverses.
    #[getter]
    fn reverses(&self) -> Option<i64> {
        self.data().map(|d| d.reverses)
    }

    /// The user whose record was reversed.
    #[getter]
    fn telegram_id(&self) -> Option<i64> {
        self.data().map(|d| d.telegram_id)
    }

    /// The reversal's signed change (the opposite sign of the original's).
    #[getter]
    fn change(&self) -> Option<i64> {
        self.data().map(|d| d.change)
    }

    /// The user's balance after the reversal.
    #[getter]
    fn balance(&self) -> Option<i64> {
        self.data().map(|d| d.balance)
    }

    /// How much of the original is reversed now, this reversal included.
    #[getter]
    fn reversed(&self) -> Option<i64> {
        self.data().map(|d| d.reversed)
    }

    /// How much of the original is left to reverse.
    #[getter]
    fn remaining(&self) -> Option<i64> {
        self.data().map(|d| d.remaining)
    }
});

flow_result!(
    /// The outcome of `transfer_credits`.
    TransferResult, "TransferResult", TransferData, {
    /// The id both records of the transfer share.
    #[getter]
    fn transfer_id(&self) -> Option<String> {
        self.data().map(|d| d.transfer_id.clone())
    }

    /// The credits moved.
    #[getter]
    fn amount(&self) -> Option<i64> {
        self.data().map(|d| d.amount)
    }

    /// The sender's side: `{'telegram_id', 'record_id', 'change', 'balance'}`.
    #[getter]
    fn sender<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.data().map(|d| leg_dict(py, &d.from)).transpose()
    }

    /// The receiver's side: `{'telegram_id', 'record_id', 'change', 'balance'}`.
    #[getter]
    fn receiver<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.data().map(|d| leg_dict(py, &d.to)).transpose()
    }
});

/// A hold as Python sees it, in a result, in `get_holds` and on `HoldResolvedError.hold`.
pub fn hold_dict<'py>(py: Python<'py>, h: &Hold) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("hold_id", &h.hold_id)?;
    d.set_item("telegram_id", h.telegram_id)?;
    d.set_item("source", &h.source)?;
    d.set_item("amount", h.amount)?;
    d.set_item("captured", h.captured)?;
    d.set_item("state", h.state.as_str())?;
    d.set_item("reason", &h.reason)?;
    d.set_item("external_reference", &h.external_reference)?;
    d.set_item("created_at", &h.created_at)?;
    d.set_item("expires_at", &h.expires_at)?;
    d.set_item("resolved_at", &h.resolved_at)?;
    d.set_item("record_id", h.record_id)?;
    Ok(d)
}

fn leg_dict<'py>(py: Python<'py>, leg: &TransferLeg) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("telegram_id", leg.telegram_id)?;
    d.set_item("record_id", leg.record_id)?;
    d.set_item("change", leg.change)?;
    d.set_item("balance", leg.balance)?;
    Ok(d)
}

/// `get_holds`' dict: `{'telegram_id', 'credits', 'held', 'available', 'holds': [...]}`.
pub struct HoldsDict(pub Holds);

impl<'py> IntoPyObject<'py> for HoldsDict {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let holds = PyList::empty(py);
        for h in &self.0.holds {
            holds.append(hold_dict(py, h)?)?;
        }
        let d = PyDict::new(py);
        d.set_item("telegram_id", self.0.telegram_id)?;
        d.set_item("credits", self.0.credits)?;
        d.set_item("held", self.0.held)?;
        d.set_item("available", self.0.available)?;
        d.set_item("holds", holds)?;
        Ok(d)
    }
}

/// `get_balance`'s dict: `{'telegram_id', 'credits', 'held', 'available', 'nickname'}`.
pub struct BalanceDict(pub Balance);

/// `get_records`' dict: `{'records': [...], 'next_cursor'}`.
pub struct RecordsDict(pub RecordsPage);

/// One record of `iter_records`: the dict `get_records` lists.
pub struct RecordDict(pub Record);

/// `register_user`'s dict: `{'telegram_id', 'credits', 'nickname', 'created'}`.
pub struct UserDict(pub UserData);

impl<'py> IntoPyObject<'py> for BalanceDict {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let d = PyDict::new(py);
        d.set_item("telegram_id", self.0.telegram_id)?;
        d.set_item("credits", self.0.credits)?;
        d.set_item("held", self.0.held)?;
        d.set_item("available", self.0.available.unwrap_or(self.0.credits))?;
        d.set_item("nickname", self.0.nickname)?;
        Ok(d)
    }
}

impl<'py> IntoPyObject<'py> for UserDict {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let d = PyDict::new(py);
        d.set_item("telegram_id", self.0.telegram_id)?;
        d.set_item("credits", self.0.credits)?;
        d.set_item("nickname", self.0.nickname)?;
        d.set_item("created", self.0.created)?;
        Ok(d)
    }
}

impl<'py> IntoPyObject<'py> for RecordsDict {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let records = PyList::empty(py);
        for r in self.0.records {
            records.append(record(py, r)?)?;
        }
        let d = PyDict::new(py);
        d.set_item("records", records)?;
        d.set_item("next_cursor", self.0.next_cursor)?;
        Ok(d)
    }
}

impl<'py> IntoPyObject<'py> for RecordDict {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        record(py, self.0)
    }
}

fn record(py: Python<'_>, r: Record) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", r.id)?;
    d.set_item("change", r.change)?;
    d.set_item("balance_after", r.balance_after)?;
    d.set_item("reason", r.reason)?;
    d.set_item("source", r.source)?;
    d.set_item("external_reference", r.external_reference)?;
    d.set_item("created_at", r.created_at)?;
    d.set_item("hold_id", r.hold_id)?;
    d.set_item("reverses", r.reverses)?;
    d.set_item("transfer_id", r.transfer_id)?;
    Ok(d)
}

/// One committed ledger change, from the feed or a verified webhook. Store `.cursor` once
/// it is handled and pass it as `after` to resume right after it.
#[pyclass(frozen, module = "credit_sync_client", name = "Event")]
pub struct Event(pub credit_sync::Event);

#[pymethods]
impl Event {
    /// Stable (`evt_` and a UUID v7): the same event always has the same id.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }
    /// Strictly increasing in commit order.
    #[getter]
    fn seq(&self) -> i64 {
        self.0.seq
    }
    /// `credits.added`, `hold.created`, ...
    #[getter(r#type)]
    fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    #[getter]
    fn created_at(&self) -> &str {
        &self.0.created_at
    }
    /// The source whose request made the change (`None` for an operator's command).
    #[getter]
    fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    #[getter]
    fn telegram_id(&self) -> i64 {
        self.0.telegram_id
    }
    /// The record, hold, transfer or user, as the other endpoints show it (a new dict each time).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("json")?
            .call_method1("loads", (self.0.data.to_string(),))
    }
    /// Resumes the feed right after this event (the core's `Event::cursor`).
    #[getter]
    fn cursor(&self) -> String {
        self.0.cursor()
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<Event>().is_ok_and(|o| o.get().0 == self.0)
    }
    fn __hash__(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.0.id.hash(&mut h);
        h.finish()
    }
    fn __repr__(&self) -> String {
        format!(
            "Event(id={:?}, seq={}, type={:?}, telegram_id={}, source={:?})",
            self.0.id,
            self.0.seq,
            self.0.kind.as_str(),
            self.0.telegram_id,
            self.0.source
        )
    }
}

/// `get_events`'s dict: `{'events': [Event, ...], 'next_cursor': str}`.
pub struct EventsDict(pub credit_sync::EventsPage);

impl<'py> IntoPyObject<'py> for EventsDict {
    type Target = PyDict;
    type Output = Bound<'py, PyDict>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        let events = PyList::empty(py);
        for e in self.0.events {
            events.append(Event(e))?;
        }
        let d = PyDict::new(py);
        d.set_item("events", events)?;
        d.set_item("next_cursor", self.0.next_cursor)?;
        Ok(d)
    }
}
