//! `CreditSyncClient` and the native half of `AsyncCreditSyncClient`: the guide's
//! methods, each a translation of Python arguments into one core call and of its
//! outcome back. Signing, retries, validation and HTTP all happen in the core.

use crate::errors::{panic_error, CoreError};
use crate::inflight;
use crate::results::{
    BalanceDict, Event, EventsDict, HoldResult, HoldsDict, RecordDict, RecordsDict, ReverseResult,
    SyncResult, TransferResult, UserDict,
};
use crate::runtime;
use credit_sync::events::{Feed, Step, LONG_POLL_WAIT_SECS};
use credit_sync::model::DEFAULT_REVERSAL_REASON;
use credit_sync::records::{Pager, DEFAULT_PAGE_SIZE};
use credit_sync::stars::{DEFAULT_CREDITS_PER_STAR, DEFAULT_REFUND_REASON};
use credit_sync::{
    BatchEntry, Client, Config, ConfigBuilder, Error, FlowResult, Original, Proxy, RetryBudget,
    StarsPayment, WriteError,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use pyo3::BoundObject;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

/// A call's outcome on its way to Python: a value, or a core error that becomes
/// the matching exception when converted (under the GIL, never on a runtime worker).
pub struct Answer<T>(credit_sync::Result<T>);

impl<'py, T> IntoPyObject<'py> for Answer<T>
where
    T: IntoPyObject<'py>,
    T::Error: Into<PyErr>,
{
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;
    fn into_pyobject(self, py: Python<'py>) -> PyResult<Self::Output> {
        match self.0 {
            Ok(v) => Ok(v
                .into_pyobject(py)
                .map_err(Into::into)?
                .into_any()
                .into_bound()),
            Err(e) => Err(CoreError(e).into()),
        }
    }
}

/// One call: the future that makes it, and what it answers instead if a fork stops the
/// runtime under it (the same as a broken connection: a write's outcome is unknown).
pub struct Call<T> {
    run: Pin<Box<dyn Future<Output = Answer<T>> + Send>>,
    cut: Box<dyn FnOnce() -> Answer<T> + Send>,
    /// The fork count read before the call's client was resolved ([`Resolved`]).
    forks: u64,
}

impl<T> Call<T> {
    fn new(
        forks: u64,
        run: impl Future<Output = Answer<T>> + Send + 'static,
        cut: impl FnOnce() -> Answer<T> + Send + 'static,
    ) -> Self {
        Call {
            run: Box::pin(run),
            cut: Box::new(cut),
            forks,
        }
    }

    /// A read: cut off, it raises [`Error::cut_off`].
    fn read(forks: u64, run: impl Future<Output = Answer<T>> + Send + 'static) -> Self {
        Call::new(forks, run, || Answer(Err(Error::cut_off())))
    }
}

/// The core client a call runs on, and the fork count read *before* it was resolved.
///
/// The count must come first: a fork between resolving the client and reading the count
/// would leave the call holding a client of the stopped runtime while its count already
/// includes that fork, and the panic the dead runtime causes would pass for a bug.
pub struct Resolved {
    client: Result<Client, Error>,
    forks: u64,
}

/// Whether a panic caught in a call that started at fork count `forks` was the runtime
/// stopping under it (tokio panics when a stopped driver is polled) rather than a bug.
fn cut_by_fork(forks: u64) -> bool {
    runtime::forks() != forks
}

/// The settings a client was made with and, per process, the core client built from them.
struct Connection {
    config: Config,
    state: Mutex<State>,
}

enum State {
    /// `client` was built by process `pid` for runtime `generation`. Its connection pool
    /// lives on that runtime, so a new runtime (after `os.fork()`) means a new client.
    Open {
        pid: u32,
        generation: u64,
        client: Client,
    },
    Closed,
}

impl Connection {
    fn new(config: Config) -> Result<Self, Error> {
        let state = open(&config)?;
        Ok(Connection {
            config,
            state: Mutex::new(state),
        })
    }

    /// The client for this process's runtime; see [`Resolved`] for the order of reads.
    fn client(&self) -> Resolved {
        let forks = runtime::forks();
        Resolved {
            client: self.resolve(),
            forks,
        }
    }

    fn resolve(&self) -> Result<Client, Error> {
        let (_, current) = runtime::current();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match &*state {
            State::Closed => Err(Error::Closed),
            State::Open {
                pid,
                generation,
                client,
            } if *pid == std::process::id() && *generation == current => Ok(client.clone()),
            State::Open { .. } => {
                let fresh = open(&self.config)?;
                let State::Open { client, .. } = &fresh else {
                    unreachable!("open() returns an open state")
                };
                let client = client.clone();
                retire(std::mem::replace(&mut *state, fresh));
                Ok(client)
            }
        }
    }

    fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        retire(std::mem::replace(&mut *state, State::Closed));
    }

    fn repr(&self, class: &str) -> String {
        let closed = matches!(
            *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Closed
        );
        format!(
            "{class}(base_url={:?}, source={:?}{})",
            self.config.base_url,
            self.config.source,
            if closed { ", closed" } else { "" }
        )
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        retire(std::mem::replace(state, State::Closed));
    }
}

/// Drops a client, unless a parent process built it: its pool may belong to runtime
/// threads that do not exist in this child, and dropping it could wait on them.
fn retire(state: State) {
    if let State::Open { pid, client, .. } = state {
        if pid != std::process::id() {
            std::mem::forget(client);
        }
    }
}

/// Builds the core client inside the current runtime, where its connection pool will live.
fn open(config: &Config) -> Result<State, Error> {
    let (handle, generation) = runtime::current();
    let _entered = handle.enter();
    Ok(State::Open {
        pid: std::process::id(),
        generation,
        client: Client::new(config.clone())?,
    })
}

/// The keyword arguments every constructor takes, as Python passed them.
struct Settings {
    timeout: f64,
    max_retries: i64,
    attempt_timeout: Option<f64>,
    /// The bucket's capacity in tokens (a retry costs 5, after a timeout 10); `None` is off.
    retry_budget: Option<u32>,
    /// `None`: from the environment; `""`: direct; else the proxy URL.
    proxy: Option<String>,
    ca_file: Option<PathBuf>,
}

fn config(builder: ConfigBuilder, s: Settings) -> PyResult<Config> {
    // A negative or non-finite timeout becomes zero, which the core rejects with its message.
    let seconds = |v: f64| Duration::try_from_secs_f64(v).unwrap_or(Duration::ZERO);
    let max_retries = unsigned("max_retries", s.max_retries)?;
    let mut builder = builder
        .timeout(seconds(s.timeout))
        .max_retries(max_retries)
        .proxy(Proxy::from_option(s.proxy.as_deref()));
    if let Some(v) = s.attempt_timeout {
        builder = builder.attempt_timeout(seconds(v));
    }
    builder = match s.retry_budget {
        Some(capacity) => builder.retry_budget(RetryBudget {
            capacity,
            ..RetryBudget::default()
        }),
        None => builder.disable_retry_budget(),
    };
    if let Some(path) = s.ca_file {
        builder = builder.ca_file(path);
    }
    builder.build().map_err(|e| CoreError(e).into())
}

/// Python ints are signed; a negative count is a `ValueError` naming the argument.
fn unsigned(name: &str, v: i64) -> PyResult<u32> {
    u32::try_from(v).map_err(|_| {
        PyValueError::new_err(format!(
            "argument '{name}' must be between 0 and {}, got {v}",
            u32::MAX
        ))
    })
}

/// Runs one call for the sync client and waits for it.
///
/// Every blocking method goes through here, because waiting must:
/// - release the GIL (`py.detach`), so other Python threads run while we wait on the
///   network, and a runtime task that needs the GIL (an async call finishing) never
///   deadlocks against this thread;
/// - use the fork-aware runtime of [`runtime::handle`];
/// - never let a Rust panic out as `PanicException`;
/// - not take the GIL back while Python is finalizing (a daemon thread at exit).
fn block<T: Send>(py: Python<'_>, call: Call<T>) -> Answer<T> {
    match wait(py, call, false) {
        Ok(answer) => answer,
        // Only an interruptible wait raises (a signal handler's exception).
        Err(e) => Answer(Err(panic_error(Box::new(e.to_string())))),
    }
}

/// [`block`] for a long poll (the feed waits up to 25 s): every 100 ms it takes the GIL
/// back to run Python's signal handlers, so Ctrl-C raises `KeyboardInterrupt` at once
/// instead of after the poll. Dropping the poll loses nothing: the feed refetches the
/// same page.
fn block_interruptibly<T: Send>(py: Python<'_>, call: Call<T>) -> PyResult<Answer<T>> {
    // Python runs signal handlers on the main thread only; elsewhere the GIL is never
    // taken back mid-poll (a daemon thread must not take it while Python finalizes).
    let threading = py.import("threading")?;
    let main = threading.call_method0("main_thread")?.getattr("ident")?;
    let on_main = main.eq(threading.call_method0("get_ident")?)?;
    wait(py, call, on_main)
}

/// The one wait behind [`block`] and [`block_interruptibly`]; `Err` only from a signal
/// handler, and only when `interruptible`.
fn wait<T: Send>(py: Python<'_>, call: Call<T>, interruptible: bool) -> PyResult<Answer<T>> {
    let Call {
        mut run,
        cut,
        forks,
    } = call;
    crate::logs::before_call(py);
    let answer = py.detach(move || {
        let answer = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let handle = runtime::handle();
            if !interruptible {
                return Ok(handle.block_on(run));
            }
            loop {
                // The timer must be made inside the runtime.
                let slice =
                    async { tokio::time::timeout(Duration::from_millis(100), &mut run).await };
                if let Ok(answer) = handle.block_on(slice) {
                    return Ok(answer);
                }
                if !runtime::finalizing() {
                    Python::attach(|py| py.check_signals())?;
                }
            }
        }))
        .unwrap_or_else(|p| {
            Ok(if cut_by_fork(forks) {
                cut()
            } else {
                Answer(Err(panic_error(p)))
            })
        });
        runtime::park_if_finalizing();
        answer
    });
    crate::logs::drain(py);
    answer
}

/// Runs one call for the async client: returns an asyncio future bound to the running
/// loop, answered once even if a fork stops the runtime ([`inflight`]). Cancelling it
/// drops the Rust future.
fn spawn<'py, T>(py: Python<'py>, call: Call<T>) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    Answer<T>: for<'a> IntoPyObject<'a, Target = PyAny, Output = Bound<'a, PyAny>, Error = PyErr>,
{
    crate::logs::before_call(py);
    inflight::start(py, call.run, call.cut)
}

/// Awaits `f(client)` and turns a panic into a core error (see [`cut_by_fork`]).
async fn guarded<T, F, Fut>(resolved: Resolved, f: F) -> credit_sync::Result<T>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = credit_sync::Result<T>>,
{
    let Resolved { client, forks } = resolved;
    let client = client?;
    CatchUnwind(Box::pin(f(client))).await.unwrap_or_else(|p| {
        Err(if cut_by_fork(forks) {
            Error::cut_off()
        } else {
            panic_error(p)
        })
    })
}

/// A future that reports a panic while polling as `Err` instead of unwinding.
struct CatchUnwind<F>(Pin<Box<F>>);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let fut = self.0.as_mut();
        match std::panic::catch_unwind(AssertUnwindSafe(|| fut.poll(cx))) {
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Err(p) => std::task::Poll::Ready(Err(p)),
        }
    }
}

/// The table of calls, shared by both clients.
mod calls {
    use super::*;

    /// A write that fails resolves as `SyncResult(success=False)` whenever the core's one
    /// rule says so (`SyncResult::settle`), keeping the reference it carried. The
    /// reference is made here when the caller gave none (the core's `reference::auto`),
    /// so even a write refused by a closed client, or cut off by a fork, reports the one
    /// it would have sent.
    fn write<F, Fut>(
        resolved: Resolved,
        telegram_id: i64,
        change: i64,
        reference: String,
        f: F,
    ) -> Call<SyncResult>
    where
        F: FnOnce(Client, String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<credit_sync::SyncResult, WriteError>> + Send,
    {
        let Resolved { client, forks } = resolved;
        let cut_reference = reference.clone();
        let cut_off =
            move |r: String| WriteError::cut_off(Some(telegram_id), Some(change), Some(r));
        let run = async move {
            let unsent = |e: Error| {
                WriteError::unsent(e, Some(telegram_id), Some(change), Some(reference.clone()))
            };
            let outcome = match client {
                Ok(c) => CatchUnwind(Box::pin(f(c, reference.clone())))
                    .await
                    .unwrap_or_else(|p| {
                        Err(if cut_by_fork(forks) {
                            cut_off(reference.clone())
                        } else {
                            unsent(panic_error(p))
                        })
                    }),
                Err(e) => Err(unsent(e)),
            };
            settle(outcome)
        };
        Call::new(forks, run, move || settle(Err(cut_off(cut_reference))))
    }

    fn settle(outcome: Result<credit_sync::SyncResult, WriteError>) -> Answer<SyncResult> {
        Answer(
            credit_sync::SyncResult::settle(outcome)
                .map(SyncResult::of_change)
                .map_err(|e| e.error),
        )
    }

    pub fn add_credits(
        resolved: Resolved,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> Call<SyncResult> {
        let reference = reference.unwrap_or_else(credit_sync::reference::auto);
        write(
            resolved,
            telegram_id,
            amount,
            reference,
            move |c, r| async move { c.add_credits(telegram_id, amount, &reason, Some(&r)).await },
        )
    }

    pub fn deduct_credits(
        resolved: Resolved,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> Call<SyncResult> {
        let reference = reference.unwrap_or_else(credit_sync::reference::auto);
        let change = credit_sync::model::deduct_change(amount);
        write(
            resolved,
            telegram_id,
            change,
            reference,
            move |c, r| async move {
                c.deduct_credits(telegram_id, amount, &reason, Some(&r))
                    .await
            },
        )
    }

    /// A money flow (hold, capture, void, reversal, transfer), built exactly as [`write`]:
    /// the reference made up front, a closed client or a fork answered with it, the
    /// outcome settled by the core's rule (`FlowResult::settle`), then `class` wraps it.
    fn flow<T, P, F, Fut>(
        resolved: Resolved,
        reference: String,
        class: fn(FlowResult<T>) -> P,
        f: F,
    ) -> Call<P>
    where
        T: Send + 'static,
        P: Send + 'static,
        F: FnOnce(Client, String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<FlowResult<T>, WriteError>> + Send,
    {
        let Resolved { client, forks } = resolved;
        let cut_reference = reference.clone();
        let settle =
            move |outcome| Answer(FlowResult::settle(outcome).map(class).map_err(|e| e.error));
        let run = async move {
            let unsent = |e: Error| WriteError::unsent(e, None, None, Some(reference.clone()));
            let outcome = match client {
                Ok(c) => CatchUnwind(Box::pin(f(c, reference.clone())))
                    .await
                    .unwrap_or_else(|p| {
                        Err(if cut_by_fork(forks) {
                            WriteError::cut_off(None, None, Some(reference.clone()))
                        } else {
                            unsent(panic_error(p))
                        })
                    }),
                Err(e) => Err(unsent(e)),
            };
            settle(outcome)
        };
        Call::new(forks, run, move || {
            settle(Err(WriteError::cut_off(None, None, Some(cut_reference))))
        })
    }

    fn auto(reference: Option<String>) -> String {
        reference.unwrap_or_else(credit_sync::reference::auto)
    }

    pub fn hold_credits(
        resolved: Resolved,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
        ttl_secs: i64,
    ) -> Call<HoldResult> {
        flow(
            resolved,
            auto(reference),
            HoldResult,
            move |c, r| async move {
                c.hold_credits(telegram_id, amount, &reason, Some(&r), Some(ttl_secs))
                    .await
            },
        )
    }

    pub fn capture_hold(
        resolved: Resolved,
        hold_id: String,
        amount: Option<i64>,
        reference: Option<String>,
    ) -> Call<HoldResult> {
        flow(
            resolved,
            auto(reference),
            HoldResult,
            move |c, r| async move { c.capture_hold(&hold_id, amount, Some(&r)).await },
        )
    }

    pub fn void_hold(
        resolved: Resolved,
        hold_id: String,
        reference: Option<String>,
    ) -> Call<HoldResult> {
        flow(
            resolved,
            auto(reference),
            HoldResult,
            move |c, r| async move { c.void_hold(&hold_id, Some(&r)).await },
        )
    }

    pub fn reverse_record(
        resolved: Resolved,
        original: Result<Original, Error>,
        amount: Option<i64>,
        reason: String,
        reference: Option<String>,
    ) -> Call<ReverseResult> {
        flow(
            resolved,
            auto(reference),
            ReverseResult,
            move |c, r| async move {
                let original =
                    original.map_err(|e| WriteError::unsent(e, None, None, Some(r.clone())))?;
                c.reverse_record(original, amount, &reason, Some(&r)).await
            },
        )
    }

    pub fn transfer_credits(
        resolved: Resolved,
        from: i64,
        to: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> Call<TransferResult> {
        flow(
            resolved,
            auto(reference),
            TransferResult,
            move |c, r| async move {
                c.transfer_credits(from, to, amount, &reason, Some(&r))
                    .await
            },
        )
    }

    /// An add whose reference and amount the core derives from the payment.
    pub fn credit_stars_payment(
        resolved: Resolved,
        telegram_id: i64,
        payment: StarsPayment,
        credits_per_star: i64,
    ) -> Call<SyncResult> {
        let reference = credit_sync::stars::payment_reference(&payment.telegram_payment_charge_id);
        let change = credit_sync::stars::credits_for(&payment, credits_per_star).unwrap_or(0);
        write(
            resolved,
            telegram_id,
            change,
            reference,
            move |c, _| async move {
                c.credit_stars_payment(telegram_id, &payment, credits_per_star)
                    .await
            },
        )
    }

    pub fn refund_stars_payment(
        resolved: Resolved,
        charge_id: String,
        reason: String,
    ) -> Call<ReverseResult> {
        let reference = credit_sync::stars::refund_reference(&charge_id);
        flow(resolved, reference, ReverseResult, move |c, _| async move {
            c.refund_stars_payment(&charge_id, &reason).await
        })
    }

    /// `None` only for an unregistered user; other failures raise.
    pub fn get_holds(resolved: Resolved, telegram_id: i64) -> Call<Option<HoldsDict>> {
        Call::read(resolved.forks, async move {
            let r = guarded(resolved, |c| async move { c.get_holds(telegram_id).await }).await;
            Answer(r.map(|h| h.map(HoldsDict)))
        })
    }

    pub fn batch_sync(
        resolved: Resolved,
        items: Vec<BatchEntry>,
        atomic: bool,
    ) -> Call<SyncResult> {
        let Resolved { client, forks } = resolved;
        let count = items.len();
        let unsent = |e: Error| WriteError::unsent(e, None, None, None);
        let cut_off = || WriteError::cut_off(None, None, None);
        let settle = move |outcome| {
            Answer(
                credit_sync::BatchResult::settle(count, outcome)
                    .map(SyncResult::of_batch)
                    .map_err(|e| e.error),
            )
        };
        let run = async move {
            let outcome = match client {
                Ok(c) => CatchUnwind(Box::pin(async move { c.batch_sync(items, atomic).await }))
                    .await
                    .unwrap_or_else(|p| {
                        Err(if cut_by_fork(forks) {
                            cut_off()
                        } else {
                            unsent(panic_error(p))
                        })
                    }),
                Err(e) => Err(unsent(e)),
            };
            settle(outcome)
        };
        Call::new(forks, run, move || settle(Err(cut_off())))
    }

    /// `None` only for an unregistered user; other failures raise.
    pub fn get_balance(resolved: Resolved, telegram_id: i64) -> Call<Option<BalanceDict>> {
        Call::read(resolved.forks, async move {
            let r = guarded(
                resolved,
                |c| async move { c.get_balance(telegram_id).await },
            )
            .await;
            Answer(r.map(|b| b.map(BalanceDict)))
        })
    }

    pub fn get_records(
        resolved: Resolved,
        telegram_id: i64,
        limit: u32,
        cursor: Option<String>,
    ) -> Call<RecordsDict> {
        Call::read(resolved.forks, async move {
            let r = guarded(resolved, |c| async move {
                c.get_records(telegram_id, Some(limit), cursor.as_deref())
                    .await
            })
            .await;
            Answer(r.map(RecordsDict))
        })
    }

    pub fn get_events(
        resolved: Resolved,
        after: Option<String>,
        limit: Option<u32>,
        wait: Option<u32>,
    ) -> Call<EventsDict> {
        Call::read(resolved.forks, async move {
            let r = guarded(resolved, |c| async move {
                c.get_events(after.as_deref(), limit, wait).await
            })
            .await;
            Answer(r.map(EventsDict))
        })
    }

    /// The next event of an async `iter_events` (`None`: the feed ended after an error),
    /// stepping the core's [`Feed`]; a cancelled fetch leaves the feed as it was.
    pub fn next_event(
        resolved: Resolved,
        feed: std::sync::Arc<tokio::sync::Mutex<Feed>>,
    ) -> Call<Option<Event>> {
        Call::read(resolved.forks, async move {
            let mut feed = feed.lock_owned().await;
            let r = guarded(resolved, |c| async move {
                loop {
                    match feed.step() {
                        Step::Yield(e) => return Ok(Some(Event(e))),
                        Step::Done => return Ok(None),
                        Step::Fetch(after) => {
                            match c
                                .get_events(after.as_deref(), None, Some(LONG_POLL_WAIT_SECS))
                                .await
                            {
                                Ok(page) => feed.feed(page),
                                Err(e) => {
                                    feed.fail();
                                    return Err(e);
                                }
                            }
                        }
                    }
                }
            })
            .await;
            Answer(r)
        })
    }

    /// The next record of an async `iter_records` (`None`: the walk ended), stepping the
    /// core's [`Pager`]; a cancelled fetch leaves the walk as it was.
    pub fn next_record(
        resolved: Resolved,
        telegram_id: i64,
        pager: std::sync::Arc<tokio::sync::Mutex<Pager>>,
    ) -> Call<Option<RecordDict>> {
        Call::read(resolved.forks, async move {
            let mut pager = pager.lock_owned().await;
            let r = guarded(resolved, |c| async move {
                let fetch = |cursor: Option<String>, limit| {
                    let c = c.clone();
                    async move {
                        c.get_records(telegram_id, Some(limit), cursor.as_deref())
                            .await
                    }
                };
                pager
                    .next(fetch)
                    .await
                    .transpose()
                    .map(|r| r.map(RecordDict))
            })
            .await;
            Answer(r)
        })
    }

    pub fn register_user(
        resolved: Resolved,
        telegram_id: i64,
        nickname: Option<String>,
    ) -> Call<UserDict> {
        Call::read(resolved.forks, async move {
            let r = guarded(resolved, |c| async move {
                c.register_user(telegram_id, nickname.as_deref()).await
            })
            .await;
            Answer(r.map(UserDict))
        })
    }
}

/// Reads `batch_sync`'s item dicts; a wrong shape is a `TypeError` naming the item and key.
fn batch_entries(items: &Bound<'_, PyAny>) -> PyResult<Vec<BatchEntry>> {
    if items.is_instance_of::<PyString>() || items.is_instance_of::<PyDict>() {
        return Err(PyTypeError::new_err(
            "argument 'items' must be a list of dicts with telegram_id, amount, reason and optional reference",
        ));
    }
    let mut entries = Vec::new();
    for (i, item) in items.try_iter()?.enumerate() {
        let item = item?;
        let dict = item.cast::<PyDict>().map_err(|_| {
            PyTypeError::new_err(format!(
                "items[{i}] must be a dict, not {}",
                type_name(&item)
            ))
        })?;
        for key in dict.keys() {
            let key: String = key.extract().unwrap_or_default();
            if !matches!(
                key.as_str(),
                "telegram_id" | "amount" | "reason" | "reference" | "external_reference"
            ) {
                return Err(PyTypeError::new_err(format!(
                    "items[{i}] has an unexpected key {key:?} (expected telegram_id, amount, reason, reference)"
                )));
            }
        }
        let required = |key: &str| -> PyResult<Bound<'_, PyAny>> {
            dict.get_item(key)?.ok_or_else(|| {
                PyTypeError::new_err(format!("items[{i}] is missing the key {key:?}"))
            })
        };
        let typed = |key: &str, v: Bound<'_, PyAny>, want: &str| {
            PyTypeError::new_err(format!(
                "items[{i}][{key:?}] must be {want}, not {}",
                type_name(&v)
            ))
        };
        let telegram_id = required("telegram_id")?;
        let telegram_id: i64 = telegram_id
            .extract()
            .map_err(|_| typed("telegram_id", telegram_id, "int"))?;
        let amount = required("amount")?;
        let amount: i64 = amount
            .extract()
            .map_err(|_| typed("amount", amount, "int"))?;
        let reason = required("reason")?;
        let reason: String = reason
            .extract()
            .map_err(|_| typed("reason", reason, "str"))?;
        let mut entry = BatchEntry::new(telegram_id, amount, reason);
        for key in ["reference", "external_reference"] {
            if let Some(v) = dict.get_item(key)? {
                if !v.is_none() {
                    let r: String = v.extract().map_err(|_| typed(key, v, "str or None"))?;
                    entry = entry.reference(r);
                }
            }
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Reads the three fields of a Stars payment from aiogram's or python-telegram-bot's
/// `SuccessfulPayment`, a dict, or any object with those attributes; whether they make a
/// creditable payment is the core's to say.
fn stars_payment(payment: &Bound<'_, PyAny>) -> PyResult<StarsPayment> {
    let dict = payment.cast::<PyDict>().ok();
    let field = |name: &str| -> PyResult<Bound<'_, PyAny>> {
        let found = match &dict {
            Some(d) => d.get_item(name)?,
            None => payment.getattr(name).ok(),
        };
        found.filter(|v| !v.is_none()).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "argument 'payment' has no {name:?} (expected a SuccessfulPayment, or a dict or object \
                 with currency, total_amount and telegram_payment_charge_id)"
            ))
        })
    };
    let typed = |name: &str, v: Bound<'_, PyAny>, want: &str| {
        PyTypeError::new_err(format!(
            "payment.{name} must be {want}, not {}",
            type_name(&v)
        ))
    };
    let currency = field("currency")?;
    let currency: String = currency
        .extract()
        .map_err(|_| typed("currency", currency, "str"))?;
    let total_amount = field("total_amount")?;
    let total_amount: i64 = total_amount
        .extract()
        .map_err(|_| typed("total_amount", total_amount, "int"))?;
    let charge_id = field("telegram_payment_charge_id")?;
    let telegram_payment_charge_id: String = charge_id
        .extract()
        .map_err(|_| typed("telegram_payment_charge_id", charge_id, "str"))?;
    Ok(StarsPayment {
        currency,
        total_amount,
        telegram_payment_charge_id,
    })
}

fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn connect(config: PyResult<Config>) -> PyResult<Connection> {
    Connection::new(config?).map_err(|e| CoreError(e).into())
}

/// Blocking client for sync code (scripts, Flask, python-telegram-bot's sync handlers).
///
/// Safe to share between threads; each call releases the GIL while it waits.
/// Write methods return a `SyncResult`; read methods return dicts and raise
/// `CreditSyncError` subclasses on failure.
#[pyclass(frozen, module = "credit_sync_client", name = "CreditSyncClient")]
pub struct CreditSyncClient {
    conn: Connection,
}

#[pymethods]
impl CreditSyncClient {
    // One Rust argument per Python keyword argument: the signature is the API.
    #[allow(clippy::too_many_arguments)]
    #[new]
    #[pyo3(signature = (base_url, api_key, secret_key, source, *, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=Some(500), proxy=None, ca_file=None),
        text_signature = "(base_url, api_key, secret_key, source, *, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=500, proxy=None, ca_file=None)")]
    fn new(
        base_url: String,
        api_key: String,
        secret_key: String,
        source: String,
        timeout: f64,
        max_retries: i64,
        attempt_timeout: Option<f64>,
        retry_budget: Option<u32>,
        proxy: Option<String>,
        ca_file: Option<PathBuf>,
    ) -> PyResult<Self> {
        let settings = Settings {
            timeout,
            max_retries,
            attempt_timeout,
            retry_budget,
            proxy,
            ca_file,
        };
        let builder = Config::builder()
            .base_url(base_url)
            .api_key(api_key)
            .secret_key(secret_key)
            .source(source);
        Ok(CreditSyncClient {
            conn: connect(config(builder, settings))?,
        })
    }

    /// Builds a client from `CREDIT_SYNC_BASE_URL`, `CREDIT_SYNC_API_KEY`,
    /// `CREDIT_SYNC_SECRET_KEY` and `CREDIT_SYNC_SOURCE`.
    #[staticmethod]
    #[pyo3(signature = (*, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=Some(500), proxy=None, ca_file=None),
        text_signature = "(*, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=500, proxy=None, ca_file=None)")]
    fn from_env(
        timeout: f64,
        max_retries: i64,
        attempt_timeout: Option<f64>,
        retry_budget: Option<u32>,
        proxy: Option<String>,
        ca_file: Option<PathBuf>,
    ) -> PyResult<Self> {
        let settings = Settings {
            timeout,
            max_retries,
            attempt_timeout,
            retry_budget,
            proxy,
            ca_file,
        };
        Ok(CreditSyncClient {
            conn: connect(config(ConfigBuilder::from_env(), settings))?,
        })
    }

    /// The API address.
    #[getter]
    fn base_url(&self) -> String {
        self.conn.config.base_url.clone()
    }

    /// Your project's source name.
    #[getter]
    fn source(&self) -> String {
        self.conn.config.source.clone()
    }

    /// Adds `amount` (> 0) credits. `reference` de-duplicates: the same reference is applied once.
    #[pyo3(signature = (telegram_id, amount, reason, reference=None))]
    fn add_credits(
        &self,
        py: Python<'_>,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> Answer<SyncResult> {
        block(
            py,
            calls::add_credits(self.conn.client(), telegram_id, amount, reason, reference),
        )
    }

    /// Deducts `amount` (> 0) credits; fails with `insufficient_credits` rather than overdraw.
    #[pyo3(signature = (telegram_id, amount, reason, reference=None))]
    fn deduct_credits(
        &self,
        py: Python<'_>,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> Answer<SyncResult> {
        block(
            py,
            calls::deduct_credits(self.conn.client(), telegram_id, amount, reason, reference),
        )
    }

    /// Applies many changes: `items` are dicts with `telegram_id`, `amount` (negative deducts),
    /// `reason` and optional `reference`. `result.data` has the `success`/`failed` counts and `results`.
    #[pyo3(signature = (items, *, atomic=false))]
    fn batch_sync(
        &self,
        py: Python<'_>,
        items: &Bound<'_, PyAny>,
        atomic: bool,
    ) -> PyResult<Answer<SyncResult>> {
        let items = batch_entries(items)?;
        Ok(block(
            py,
            calls::batch_sync(self.conn.client(), items, atomic),
        ))
    }

    /// Reserves `amount` (> 0) of the user's available credits for `ttl_seconds` (1 to 7
    /// days), until `capture_hold` charges it or `void_hold` releases it. Returns a
    /// `HoldResult` (`.hold_id`, `.held`, `.available`, `.duplicate`).
    #[pyo3(signature = (telegram_id, amount, reason, reference=None, ttl_seconds=600))]
    fn hold_credits(
        &self,
        py: Python<'_>,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
        ttl_seconds: i64,
    ) -> Answer<HoldResult> {
        block(
            py,
            calls::hold_credits(
                self.conn.client(),
                telegram_id,
                amount,
                reason,
                reference,
                ttl_seconds,
            ),
        )
    }

    /// Charges the hold: `amount` (default all of it) is deducted, the rest released. The same
    /// capture again (same `reference`) is a replay; any other is `hold_resolved`.
    #[pyo3(signature = (hold_id, amount=None, reference=None))]
    fn capture_hold(
        &self,
        py: Python<'_>,
        hold_id: String,
        amount: Option<i64>,
        reference: Option<String>,
    ) -> Answer<HoldResult> {
        block(
            py,
            calls::capture_hold(self.conn.client(), hold_id, amount, reference),
        )
    }

    /// Releases the hold without charging it.
    #[pyo3(signature = (hold_id, reference=None))]
    fn void_hold(
        &self,
        py: Python<'_>,
        hold_id: String,
        reference: Option<String>,
    ) -> Answer<HoldResult> {
        block(py, calls::void_hold(self.conn.client(), hold_id, reference))
    }

    /// `{'telegram_id', 'credits', 'held', 'available', 'holds': [...]}` (the open holds,
    /// oldest first), or `None` for an unregistered user.
    fn get_holds(&self, py: Python<'_>, telegram_id: i64) -> Answer<Option<HoldsDict>> {
        block(py, calls::get_holds(self.conn.client(), telegram_id))
    }

    /// Reverses the record `record_id`, or the one made with your `reference`, wholly or
    /// `amount` of it, with a new linked record. `reversal_reference` de-duplicates the
    /// reversal itself (the SDK makes one when absent).
    #[pyo3(signature = (record_id=None, *, reference=None, amount=None, reason=DEFAULT_REVERSAL_REASON, reversal_reference=None),
        text_signature = "($self, record_id=None, *, reference=None, amount=None, reason=\"reversal\", reversal_reference=None)")]
    fn reverse_record(
        &self,
        py: Python<'_>,
        record_id: Option<i64>,
        reference: Option<String>,
        amount: Option<i64>,
        reason: &str,
        reversal_reference: Option<String>,
    ) -> Answer<ReverseResult> {
        let original = Original::from_parts(record_id, reference);
        block(
            py,
            calls::reverse_record(
                self.conn.client(),
                original,
                amount,
                reason.to_string(),
                reversal_reference,
            ),
        )
    }

    /// Moves `amount` (> 0) of `from_id`'s available credits to `to_id`, both records or neither.
    #[pyo3(signature = (from_id, to_id, amount, reason, reference=None))]
    fn transfer_credits(
        &self,
        py: Python<'_>,
        from_id: i64,
        to_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> Answer<TransferResult> {
        block(
            py,
            calls::transfer_credits(
                self.conn.client(),
                from_id,
                to_id,
                amount,
                reason,
                reference,
            ),
        )
    }

    /// Credits a Telegram Stars `SuccessfulPayment` (or a dict / object with `currency`,
    /// `total_amount`, `telegram_payment_charge_id`): `total_amount * credits_per_star`,
    /// once per charge id, so a redelivered update is a `duplicate`.
    #[pyo3(signature = (telegram_id, payment, credits_per_star=DEFAULT_CREDITS_PER_STAR),
        text_signature = "($self, telegram_id, payment, credits_per_star=1)")]
    fn credit_stars_payment(
        &self,
        py: Python<'_>,
        telegram_id: i64,
        payment: &Bound<'_, PyAny>,
        credits_per_star: i64,
    ) -> PyResult<Answer<SyncResult>> {
        let payment = stars_payment(payment)?;
        Ok(block(
            py,
            calls::credit_stars_payment(self.conn.client(), telegram_id, payment, credits_per_star),
        ))
    }

    /// Reverses the credit of the Stars payment `charge_id`, once: repeating it (with the same
    /// `reason`) is a `duplicate` success.
    #[pyo3(signature = (charge_id, reason=DEFAULT_REFUND_REASON),
        text_signature = "($self, charge_id, reason=\"Telegram Stars refund\")")]
    fn refund_stars_payment(
        &self,
        py: Python<'_>,
        charge_id: String,
        reason: &str,
    ) -> Answer<ReverseResult> {
        block(
            py,
            calls::refund_stars_payment(self.conn.client(), charge_id, reason.to_string()),
        )
    }

    /// `{'telegram_id', 'credits', 'held', 'available', 'nickname'}`, or `None` for an unregistered user.
    fn get_balance(&self, py: Python<'_>, telegram_id: i64) -> Answer<Option<BalanceDict>> {
        block(py, calls::get_balance(self.conn.client(), telegram_id))
    }

    /// One page of records, newest first: `{'records': [...], 'next_cursor': str | None}`.
    #[pyo3(signature = (telegram_id, limit=20, cursor=None))]
    fn get_records(
        &self,
        py: Python<'_>,
        telegram_id: i64,
        limit: i64,
        cursor: Option<String>,
    ) -> PyResult<Answer<RecordsDict>> {
        let limit = unsigned("limit", limit)?;
        Ok(block(
            py,
            calls::get_records(self.conn.client(), telegram_id, limit, cursor),
        ))
    }

    /// One page of the event feed, oldest first: `{'events': [Event, ...], 'next_cursor': str}`.
    /// `wait` > 0 long-polls that many seconds for the first event (Ctrl-C interrupts it).
    #[pyo3(signature = (after=None, limit=100, wait=0))]
    fn get_events(
        &self,
        py: Python<'_>,
        after: Option<String>,
        limit: i64,
        wait: i64,
    ) -> PyResult<Answer<EventsDict>> {
        let (limit, wait) = (unsigned("limit", limit)?, unsigned("wait", wait)?);
        let call = calls::get_events(self.conn.client(), after, Some(limit), Some(wait));
        if wait == 0 {
            Ok(block(py, call))
        } else {
            block_interruptibly(py, call)
        }
    }

    /// Every event after `after` (a stored cursor; `None`: the oldest retained), without
    /// end, long-polling. An error is raised once and the iterator ends.
    #[pyo3(signature = (after=None))]
    fn iter_events(slf: Py<Self>, after: Option<String>) -> EventIterator {
        EventIterator {
            client: slf,
            feed: Mutex::new(Some(Feed::new(after.as_deref()))),
        }
    }

    /// Every record of the user, newest first, fetching pages of `page_size` (1 to 200)
    /// as needed. An error is raised once and the iterator ends.
    #[pyo3(signature = (telegram_id, page_size=i64::from(DEFAULT_PAGE_SIZE)),
        text_signature = "($self, telegram_id, page_size=100)")]
    fn iter_records(slf: Py<Self>, telegram_id: i64, page_size: i64) -> PyResult<RecordIterator> {
        Ok(RecordIterator {
            client: slf,
            telegram_id,
            pager: Mutex::new(Some(Pager::new(unsigned("page_size", page_size)?))),
        })
    }

    /// Registers a user or updates the nickname (admin sources only).
    #[pyo3(signature = (telegram_id, nickname=None))]
    fn register_user(
        &self,
        py: Python<'_>,
        telegram_id: i64,
        nickname: Option<String>,
    ) -> Answer<UserDict> {
        block(
            py,
            calls::register_user(self.conn.client(), telegram_id, nickname),
        )
    }

    /// Closes the client; later calls fail with code `client_closed`. Calls in flight finish.
    fn close(&self) {
        self.conn.close()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.conn.close();
        false
    }

    fn __repr__(&self) -> String {
        self.conn.repr("CreditSyncClient")
    }
}

/// The async client's native half: every method returns an asyncio future bound to the
/// running loop. `credit_sync_client.AsyncCreditSyncClient` wraps each in a coroutine, so
/// calls can be made before a loop runs (`asyncio.run(client.get_balance(1))`).
///
/// Calls run on the extension's tokio runtime; cancelling an awaited call drops it.
#[pyclass(frozen, module = "credit_sync_client._native", name = "AsyncClient")]
pub struct AsyncCreditSyncClient {
    conn: Connection,
}

#[pymethods]
impl AsyncCreditSyncClient {
    // One Rust argument per Python keyword argument: the signature is the API.
    #[allow(clippy::too_many_arguments)]
    #[new]
    #[pyo3(signature = (base_url, api_key, secret_key, source, *, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=Some(500), proxy=None, ca_file=None),
        text_signature = "(base_url, api_key, secret_key, source, *, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=500, proxy=None, ca_file=None)")]
    fn new(
        base_url: String,
        api_key: String,
        secret_key: String,
        source: String,
        timeout: f64,
        max_retries: i64,
        attempt_timeout: Option<f64>,
        retry_budget: Option<u32>,
        proxy: Option<String>,
        ca_file: Option<PathBuf>,
    ) -> PyResult<Self> {
        let settings = Settings {
            timeout,
            max_retries,
            attempt_timeout,
            retry_budget,
            proxy,
            ca_file,
        };
        let builder = Config::builder()
            .base_url(base_url)
            .api_key(api_key)
            .secret_key(secret_key)
            .source(source);
        Ok(AsyncCreditSyncClient {
            conn: connect(config(builder, settings))?,
        })
    }

    /// Builds a client from the `CREDIT_SYNC_*` environment variables.
    #[staticmethod]
    #[pyo3(signature = (*, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=Some(500), proxy=None, ca_file=None),
        text_signature = "(*, timeout=10.0, max_retries=3, attempt_timeout=None, retry_budget=500, proxy=None, ca_file=None)")]
    fn from_env(
        timeout: f64,
        max_retries: i64,
        attempt_timeout: Option<f64>,
        retry_budget: Option<u32>,
        proxy: Option<String>,
        ca_file: Option<PathBuf>,
    ) -> PyResult<Self> {
        let settings = Settings {
            timeout,
            max_retries,
            attempt_timeout,
            retry_budget,
            proxy,
            ca_file,
        };
        Ok(AsyncCreditSyncClient {
            conn: connect(config(ConfigBuilder::from_env(), settings))?,
        })
    }

    /// The API address.
    #[getter]
    fn base_url(&self) -> String {
        self.conn.config.base_url.clone()
    }

    /// Your project's source name.
    #[getter]
    fn source(&self) -> String {
        self.conn.config.source.clone()
    }

    /// Adds `amount` (> 0) credits; see `CreditSyncClient.add_credits`.
    #[pyo3(signature = (telegram_id, amount, reason, reference=None))]
    fn add_credits<'py>(
        &self,
        py: Python<'py>,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::add_credits(self.conn.client(), telegram_id, amount, reason, reference),
        )
    }

    /// Deducts `amount` (> 0) credits; see `CreditSyncClient.deduct_credits`.
    #[pyo3(signature = (telegram_id, amount, reason, reference=None))]
    fn deduct_credits<'py>(
        &self,
        py: Python<'py>,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::deduct_credits(self.conn.client(), telegram_id, amount, reason, reference),
        )
    }

    /// Applies many changes; see `CreditSyncClient.batch_sync`.
    #[pyo3(signature = (items, *, atomic=false))]
    fn batch_sync<'py>(
        &self,
        py: Python<'py>,
        items: &Bound<'py, PyAny>,
        atomic: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = batch_entries(items)?;
        spawn(py, calls::batch_sync(self.conn.client(), items, atomic))
    }

    /// Reserves `amount` (> 0) of the user's available credits for `ttl_seconds` (1 to 7
    /// days), until `capture_hold` charges it or `void_hold` releases it. Returns a
    /// `HoldResult` (`.hold_id`, `.held`, `.available`, `.duplicate`).
    #[pyo3(signature = (telegram_id, amount, reason, reference=None, ttl_seconds=600))]
    fn hold_credits<'py>(
        &self,
        py: Python<'py>,
        telegram_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
        ttl_seconds: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::hold_credits(
                self.conn.client(),
                telegram_id,
                amount,
                reason,
                reference,
                ttl_seconds,
            ),
        )
    }

    /// Charges the hold: `amount` (default all of it) is deducted, the rest released. The same
    /// capture again (same `reference`) is a replay; any other is `hold_resolved`.
    #[pyo3(signature = (hold_id, amount=None, reference=None))]
    fn capture_hold<'py>(
        &self,
        py: Python<'py>,
        hold_id: String,
        amount: Option<i64>,
        reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::capture_hold(self.conn.client(), hold_id, amount, reference),
        )
    }

    /// Releases the hold without charging it.
    #[pyo3(signature = (hold_id, reference=None))]
    fn void_hold<'py>(
        &self,
        py: Python<'py>,
        hold_id: String,
        reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(py, calls::void_hold(self.conn.client(), hold_id, reference))
    }

    /// `{'telegram_id', 'credits', 'held', 'available', 'holds': [...]}` (the open holds,
    /// oldest first), or `None` for an unregistered user.
    fn get_holds<'py>(&self, py: Python<'py>, telegram_id: i64) -> PyResult<Bound<'py, PyAny>> {
        spawn(py, calls::get_holds(self.conn.client(), telegram_id))
    }

    /// Reverses the record `record_id`, or the one made with your `reference`, wholly or
    /// `amount` of it, with a new linked record. `reversal_reference` de-duplicates the
    /// reversal itself (the SDK makes one when absent).
    #[pyo3(signature = (record_id=None, *, reference=None, amount=None, reason=DEFAULT_REVERSAL_REASON, reversal_reference=None),
        text_signature = "($self, record_id=None, *, reference=None, amount=None, reason=\"reversal\", reversal_reference=None)")]
    fn reverse_record<'py>(
        &self,
        py: Python<'py>,
        record_id: Option<i64>,
        reference: Option<String>,
        amount: Option<i64>,
        reason: &str,
        reversal_reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let original = Original::from_parts(record_id, reference);
        spawn(
            py,
            calls::reverse_record(
                self.conn.client(),
                original,
                amount,
                reason.to_string(),
                reversal_reference,
            ),
        )
    }

    /// Moves `amount` (> 0) of `from_id`'s available credits to `to_id`, both records or neither.
    #[pyo3(signature = (from_id, to_id, amount, reason, reference=None))]
    fn transfer_credits<'py>(
        &self,
        py: Python<'py>,
        from_id: i64,
        to_id: i64,
        amount: i64,
        reason: String,
        reference: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::transfer_credits(
                self.conn.client(),
                from_id,
                to_id,
                amount,
                reason,
                reference,
            ),
        )
    }

    /// Credits a Telegram Stars `SuccessfulPayment` (or a dict / object with `currency`,
    /// `total_amount`, `telegram_payment_charge_id`): `total_amount * credits_per_star`,
    /// once per charge id, so a redelivered update is a `duplicate`.
    #[pyo3(signature = (telegram_id, payment, credits_per_star=DEFAULT_CREDITS_PER_STAR),
        text_signature = "($self, telegram_id, payment, credits_per_star=1)")]
    fn credit_stars_payment<'py>(
        &self,
        py: Python<'py>,
        telegram_id: i64,
        payment: &Bound<'py, PyAny>,
        credits_per_star: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let payment = stars_payment(payment)?;
        spawn(
            py,
            calls::credit_stars_payment(self.conn.client(), telegram_id, payment, credits_per_star),
        )
    }

    /// Reverses the credit of the Stars payment `charge_id`, once: repeating it (with the same
    /// `reason`) is a `duplicate` success.
    #[pyo3(signature = (charge_id, reason=DEFAULT_REFUND_REASON),
        text_signature = "($self, charge_id, reason=\"Telegram Stars refund\")")]
    fn refund_stars_payment<'py>(
        &self,
        py: Python<'py>,
        charge_id: String,
        reason: &str,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::refund_stars_payment(self.conn.client(), charge_id, reason.to_string()),
        )
    }

    /// `{'telegram_id', 'credits', 'held', 'available', 'nickname'}`, or `None` for an unregistered user.
    fn get_balance<'py>(&self, py: Python<'py>, telegram_id: i64) -> PyResult<Bound<'py, PyAny>> {
        spawn(py, calls::get_balance(self.conn.client(), telegram_id))
    }

    /// One page of records, newest first: `{'records': [...], 'next_cursor': str | None}`.
    #[pyo3(signature = (telegram_id, limit=20, cursor=None))]
    fn get_records<'py>(
        &self,
        py: Python<'py>,
        telegram_id: i64,
        limit: i64,
        cursor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let limit = unsigned("limit", limit)?;
        spawn(
            py,
            calls::get_records(self.conn.client(), telegram_id, limit, cursor),
        )
    }

    /// One page of the event feed; see `CreditSyncClient.get_events`.
    #[pyo3(signature = (after=None, limit=100, wait=0))]
    fn get_events<'py>(
        &self,
        py: Python<'py>,
        after: Option<String>,
        limit: i64,
        wait: i64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (limit, wait) = (unsigned("limit", limit)?, unsigned("wait", wait)?);
        spawn(
            py,
            calls::get_events(self.conn.client(), after, Some(limit), Some(wait)),
        )
    }

    /// The feed after `after`, read with `await feed.next()` (`None` once it ended after an
    /// error); the package's `iter_events` makes it an async iterator.
    #[pyo3(signature = (after=None))]
    fn events(slf: Py<Self>, after: Option<String>) -> AsyncEventFeed {
        AsyncEventFeed {
            client: slf,
            feed: std::sync::Arc::new(tokio::sync::Mutex::new(Feed::new(after.as_deref()))),
        }
    }

    /// The user's records, read with `await walk.next()` (`None` once all were read, or
    /// after an error); the package's `iter_records` makes it an async iterator.
    #[pyo3(signature = (telegram_id, page_size=i64::from(DEFAULT_PAGE_SIZE)),
        text_signature = "($self, telegram_id, page_size=100)")]
    fn records(slf: Py<Self>, telegram_id: i64, page_size: i64) -> PyResult<AsyncRecordWalk> {
        let pager = Pager::new(unsigned("page_size", page_size)?);
        Ok(AsyncRecordWalk {
            client: slf,
            telegram_id,
            pager: std::sync::Arc::new(tokio::sync::Mutex::new(pager)),
        })
    }

    /// Registers a user or updates the nickname (admin sources only).
    #[pyo3(signature = (telegram_id, nickname=None))]
    fn register_user<'py>(
        &self,
        py: Python<'py>,
        telegram_id: i64,
        nickname: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        spawn(
            py,
            calls::register_user(self.conn.client(), telegram_id, nickname),
        )
    }

    /// Closes the client; later calls fail with code `client_closed`. Calls in flight finish.
    fn close(&self) {
        self.conn.close()
    }

    fn __repr__(&self) -> String {
        self.conn.repr("AsyncClient")
    }
}

/// `CreditSyncClient.iter_events()`: steps the core's [`Feed`], fetching with long polls.
/// Like a generator, it refuses to be advanced from two threads at once.
#[pyclass(frozen, module = "credit_sync_client._native", name = "EventIterator")]
pub struct EventIterator {
    client: Py<CreditSyncClient>,
    /// `None` while a `__next__` runs.
    feed: Mutex<Option<Feed>>,
}

#[pymethods]
impl EventIterator {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Event>> {
        let taken = self.feed.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut feed) = taken else {
            return Err(PyValueError::new_err(
                "iter_events() iterator already executing",
            ));
        };
        let next = self.step(py, &mut feed);
        *self.feed.lock().unwrap_or_else(|p| p.into_inner()) = Some(feed);
        next
    }
}

impl EventIterator {
    fn step(&self, py: Python<'_>, feed: &mut Feed) -> PyResult<Option<Event>> {
        loop {
            match feed.step() {
                Step::Yield(e) => return Ok(Some(Event(e))),
                Step::Done => return Ok(None),
                Step::Fetch(after) => {
                    let client = self.client.get().conn.client();
                    let call = calls::get_events(client, after, None, Some(LONG_POLL_WAIT_SECS));
                    match block_interruptibly(py, call)?.0 {
                        Ok(page) => feed.feed(page.0),
                        Err(e) => {
                            feed.fail();
                            return Err(CoreError(e).into());
                        }
                    }
                }
            }
        }
    }
}

/// The native half of `AsyncCreditSyncClient.iter_events()`: each `next()` is one call
/// (see `calls::next_event`); concurrent ones take turns.
#[pyclass(frozen, module = "credit_sync_client._native", name = "AsyncEventFeed")]
pub struct AsyncEventFeed {
    client: Py<AsyncCreditSyncClient>,
    feed: std::sync::Arc<tokio::sync::Mutex<Feed>>,
}

#[pymethods]
impl AsyncEventFeed {
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.get().conn.client();
        spawn(py, calls::next_event(client, self.feed.clone()))
    }
}

/// `CreditSyncClient.iter_records()`: steps the core's [`Pager`], one `get_records` per
/// page. Like a generator, it refuses to be advanced from two threads at once.
#[pyclass(frozen, module = "credit_sync_client._native", name = "RecordIterator")]
pub struct RecordIterator {
    client: Py<CreditSyncClient>,
    telegram_id: i64,
    /// `None` while a `__next__` runs.
    pager: Mutex<Option<Pager>>,
}

#[pymethods]
impl RecordIterator {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<RecordDict>> {
        let taken = self.pager.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut pager) = taken else {
            return Err(PyValueError::new_err(
                "iter_records() iterator already executing",
            ));
        };
        let next = self.step(py, &mut pager);
        *self.pager.lock().unwrap_or_else(|p| p.into_inner()) = Some(pager);
        next
    }
}

impl RecordIterator {
    fn step(&self, py: Python<'_>, pager: &mut Pager) -> PyResult<Option<RecordDict>> {
        let next = pager.next_blocking(|cursor, limit| {
            let client = self.client.get().conn.client();
            let call = calls::get_records(client, self.telegram_id, limit, cursor);
            block(py, call).0.map(|page| page.0)
        });
        match next {
            Some(Ok(r)) => Ok(Some(RecordDict(r))),
            Some(Err(e)) => Err(CoreError(e).into()),
            None => Ok(None),
        }
    }
}

/// The native half of `AsyncCreditSyncClient.iter_records()`: each `next()` is one call
/// (see `calls::next_record`); concurrent ones take turns.
#[pyclass(
    frozen,
    module = "credit_sync_client._native",
    name = "AsyncRecordWalk"
)]
pub struct AsyncRecordWalk {
    client: Py<AsyncCreditSyncClient>,
    telegram_id: i64,
    pager: std::sync::Arc<tokio::sync::Mutex<Pager>>,
}

#[pymethods]
impl AsyncRecordWalk {
    fn next<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let client = self.client.get().conn.client();
        spawn(
            py,
            calls::next_record(client, self.telegram_id, self.pager.clone()),
        )
    }
}
