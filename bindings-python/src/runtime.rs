//! The one tokio runtime of the extension, and the bridge that lets
//! pyo3-async-runtimes run coroutines on it. It is owned here, not by the core,
//! so a process that forks gets a fresh runtime instead of one whose threads
//! stayed behind in the parent.

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime as GenericRuntime};
use pyo3_async_runtimes::TaskLocals;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::OnceLock;
use tokio::runtime::{Handle, Runtime};

/// A runtime and the process that built it.
struct Owned {
    pid: u32,
    runtime: Runtime,
}

static RUNTIME: AtomicPtr<Owned> = AtomicPtr::new(std::ptr::null_mut());

/// Set by an `atexit` hook: from then on no other thread touches Python again.
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// The thread that runs the `atexit` hooks and finalizes Python; it may still make calls.
static FINALIZER: OnceLock<std::thread::ThreadId> = OnceLock::new();

/// The runtime of this process, built on first use and rebuilt after `os.fork()`.
///
/// A forked child inherits the parent's runtime as memory only: its worker and
/// I/O threads do not exist there, so using it would hang forever. The PID check
/// notices the fork and builds a new runtime. The old one is leaked on purpose:
/// dropping it would wait for threads that are gone. No lock is taken, so a
/// lock held by some parent thread at fork time cannot block the child.
pub fn handle() -> Handle {
    let pid = std::process::id();
    let current = RUNTIME.load(Ordering::Acquire);
    // SAFETY: every pointer stored in RUNTIME comes from `Box::into_raw` and is never freed.
    if let Some(owned) = unsafe { current.as_ref() } {
        if owned.pid == pid {
            return owned.runtime.handle().clone();
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("credit-sync")
        .enable_all()
        .build()
        .expect("credit-sync: cannot start the tokio runtime");
    let fresh = Box::into_raw(Box::new(Owned { pid, runtime }));
    match RUNTIME.compare_exchange(current, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // The stale runtime (if any) is leaked, see above.
        Ok(_) => unsafe { &*fresh }.runtime.handle().clone(),
        Err(winner) => {
            // Another thread installed a runtime first; ours has live threads and can go.
            // SAFETY: `fresh` was never shared.
            let ours = unsafe { Box::from_raw(fresh) };
            ours.runtime.shutdown_background();
            match unsafe { winner.as_ref() } {
                Some(owned) if owned.pid == pid => owned.runtime.handle().clone(),
                _ => handle(),
            }
        }
    }
}

/// Registered with `atexit` when the module loads: Python is shutting down.
#[pyfunction]
pub fn _mark_finalizing() {
    let _ = FINALIZER.set(std::thread::current().id());
    FINALIZING.store(true, Ordering::SeqCst);
}

/// Once Python is finalizing, a thread other than the finalizing one that tries to
/// take the GIL is killed with `pthread_exit` (3.8 to 3.13), unwinding through Rust
/// frames. A call still in flight at exit (a daemon thread, an async call's result)
/// waits here instead, until the process ends. The finalizing thread itself (an
/// `atexit` handler that makes a call) goes on.
pub fn park_if_finalizing() {
    if FINALIZING.load(Ordering::SeqCst) && FINALIZER.get() != Some(&std::thread::current().id()) {
        loop {
            std::thread::park();
        }
    }
}

/// `pyo3_async_runtimes` glue: coroutines of the async client run on [`handle`],
/// so they get the same fork check and shutdown behaviour as the sync client.
pub struct CreditSyncRuntime;

pub struct Joined(tokio::task::JoinError);

impl JoinError for Joined {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

pub struct JoinHandle(tokio::task::JoinHandle<()>);

impl Future for JoinHandle {
    type Output = Result<(), Joined>;
    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| r.map_err(Joined))
    }
}

tokio::task_local! {
    static TASK_LOCALS: OnceLock<TaskLocals>;
}

impl GenericRuntime for CreditSyncRuntime {
    type JoinError = Joined;
    type JoinHandle = JoinHandle;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        JoinHandle(handle().spawn(fut))
    }

    /// pyo3-async-runtimes hands results back to the event loop here, under the GIL.
    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        JoinHandle(handle().spawn_blocking(move || {
            park_if_finalizing();
            f()
        }))
    }
}

impl ContextExt for CreditSyncRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = OnceLock::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}
