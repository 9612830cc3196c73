//! The asyncio side of an async call: the future a coroutine awaits, answered exactly
//! once, by the call's task or, when a fork stops the runtime under the task, by
//! [`cut_all`] (a dropped task answers nobody: without it the coroutine would wait
//! forever). Cancelling the future aborts the task.

use crate::runtime;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A call's answer for Python, made under the GIL: `Ok` a result, `Err` an exception.
type Answer = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// An unanswered call: its asyncio future, and what it answers if it is cut off.
struct Pending {
    future: Py<PyAny>,
    cut: Answer,
}

/// Unanswered calls by id. Whoever removes an entry answers its future: the task
/// ([`deliver`]), the fork ([`cut_all`]), or nobody (the future was cancelled). Only
/// touched with the GIL held, so a fork hook, which holds it too, never finds it
/// locked by another thread.
static PENDING: Mutex<BTreeMap<u64, Pending>> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn pending() -> std::sync::MutexGuard<'static, BTreeMap<u64, Pending>> {
    PENDING
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Starts `run` on the runtime and returns the asyncio future, on the running loop,
/// that its answer resolves; `cut` is the answer if a fork stops the runtime first.
pub fn start<'py, A>(
    py: Python<'py>,
    run: impl Future<Output = A> + Send + 'static,
    cut: impl FnOnce() -> A + Send + 'static,
) -> PyResult<Bound<'py, PyAny>>
where
    A: for<'a> IntoPyObject<'a, Target = PyAny, Output = Bound<'a, PyAny>, Error = PyErr>
        + Send
        + 'static,
{
    let event_loop = py
        .import(pyo3::intern!(py, "asyncio"))?
        .call_method0(pyo3::intern!(py, "get_running_loop"))?;
    let future = event_loop.call_method0(pyo3::intern!(py, "create_future"))?;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let cut: Answer = Box::new(move |py| cut().into_pyobject(py).map(Bound::unbind));
    pending().insert(
        id,
        Pending {
            future: future.clone().unbind(),
            cut,
        },
    );
    let task = runtime::handle().spawn(async move {
        let answer = run.await;
        // Never wait for the GIL on a runtime worker: other calls' tasks run there.
        drop(tokio::task::spawn_blocking(move || {
            runtime::park_if_finalizing();
            Python::attach(|py| deliver(py, id, answer));
        }));
    });
    let on_done = Settled {
        id,
        task: task.abort_handle(),
    };
    future.call_method1(pyo3::intern!(py, "add_done_callback"), (on_done,))?;
    Ok(future)
}

/// The task's answer, unless the call was cut off or cancelled first.
fn deliver<A>(py: Python<'_>, id: u64, answer: A)
where
    A: for<'a> IntoPyObject<'a, Target = PyAny, Output = Bound<'a, PyAny>, Error = PyErr>,
{
    let Some(entry) = pending().remove(&id) else {
        return;
    };
    let value = answer.into_pyobject(py).map(Bound::unbind);
    resolve_soon(py, entry.future.bind(py), value);
}

/// Answers every unanswered call with its `cut`, once a fork has stopped the runtime.
pub fn cut_all(py: Python<'_>) {
    let entries = std::mem::take(&mut *pending());
    for entry in entries.into_values() {
        let value = (entry.cut)(py);
        resolve_soon(py, entry.future.bind(py), value);
    }
}

/// Resolves `future` on its own loop's thread (asyncio futures are not thread-safe).
fn resolve_soon(py: Python<'_>, future: &Bound<'_, PyAny>, value: PyResult<Py<PyAny>>) {
    static RESOLVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let (ok, value) = match value {
        Ok(value) => (true, value),
        Err(e) => (false, e.into_value(py).into_any()),
    };
    let scheduled = RESOLVE
        .get_or_try_init(py, || {
            wrap_pyfunction!(_resolve, py).map(|f| f.into_any().unbind())
        })
        .and_then(|resolve| {
            future
                .call_method0(pyo3::intern!(py, "get_loop"))?
                .call_method1(
                    pyo3::intern!(py, "call_soon_threadsafe"),
                    (resolve.bind(py), future, ok, value),
                )
        });
    // A closed loop refuses: no coroutine waits on it any more.
    drop(scheduled);
}

/// Runs on the future's loop: a future cancelled meanwhile stays cancelled.
#[pyfunction]
fn _resolve(future: &Bound<'_, PyAny>, ok: bool, value: &Bound<'_, PyAny>) -> PyResult<()> {
    crate::logs::drain(future.py());
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    future.call_method1(if ok { "set_result" } else { "set_exception" }, (value,))?;
    Ok(())
}

/// The done callback of each call's future: a cancelled call is dropped, and a done
/// one needs no answer from the table any more.
#[pyclass]
struct Settled {
    id: u64,
    task: tokio::task::AbortHandle,
}

#[pymethods]
impl Settled {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        let entry = pending().remove(&self.id);
        drop(entry); // outside the lock: dropping Python objects may run Python code
        if future.call_method0("cancelled")?.is_truthy()? {
            self.task.abort();
        }
        Ok(())
    }
}
