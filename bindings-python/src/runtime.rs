//! The one tokio runtime of the extension, which both clients' calls run on. It is
//! owned here, not by the core, so a process that forks gets a fresh runtime instead
//! of one whose threads stayed behind in the parent.

use crate::inflight;
use pyo3::prelude::*;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

/// The runtime, the process that built it, and how many runtimes came before it
/// (clients rebuild their connection pool when the generation changes).
struct Slot {
    pid: u32,
    generation: u64,
    runtime: Option<Runtime>,
}

static SLOT: SpinLock<Slot> = SpinLock::new(Slot {
    pid: 0,
    generation: 0,
    runtime: None,
});

/// Set from just before `os.fork()` until just after it, in parent and child alike.
static FORKING: AtomicBool = AtomicBool::new(false);

/// The process that ran [`_before_fork`]: the one hook `_after_fork` tells parent from
/// child by (`os.register_at_fork` runs it in both).
static FORKED_BY: AtomicU32 = AtomicU32::new(0);

/// How many times this process ran [`_before_fork`]. A call that sees it change lost
/// its runtime while in flight, and answers [`credit_sync::Error::cut_off`].
static FORKS: AtomicU64 = AtomicU64::new(0);

/// The fork count now; see [`FORKS`].
pub fn forks() -> u64 {
    FORKS.load(Ordering::SeqCst)
}

/// The runtime of this process and its generation, built on first use.
///
/// Forking is the hard part. A child inherits the runtime as memory only: its threads
/// do not exist there. Worse, tokio's idle threads are parked in parking_lot's
/// process-wide table, and glibc hands their stacks to the child's next threads, so
/// a runtime alive at fork time corrupts the child's new one. So `os.fork()` runs
/// [`_before_fork`], which stops the runtime and waits for its threads to exit; each
/// process then builds a fresh runtime on its next call. A fork that skips Python's
/// hooks is still caught by the PID check: the stale runtime is leaked, never dropped
/// (dropping it would wait for threads that are gone).
pub fn current() -> (Handle, u64) {
    let pid = std::process::id();
    loop {
        wait_out_the_fork();
        let mut slot = SLOT.lock();
        if FORKING.load(Ordering::SeqCst) {
            continue;
        }
        if slot.pid != pid {
            std::mem::forget(slot.runtime.take());
        }
        if let Some(runtime) = &slot.runtime {
            return (runtime.handle().clone(), slot.generation);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("credit-sync")
            .enable_all()
            .build()
            .expect("credit-sync: cannot start the tokio runtime");
        slot.pid = pid;
        slot.generation += 1;
        let handle = runtime.handle().clone();
        slot.runtime = Some(runtime);
        return (handle, slot.generation);
    }
}

/// Waits while another thread is inside `os.fork()`.
///
/// Callers may hold the GIL (a client method asking for its connection). The forking
/// thread runs the other fork hooks, which are Python code, and hands the GIL over at
/// the switch interval; a caller that then spun with the GIL would stall the fork, and
/// itself, forever. So the wait happens detached from Python.
fn wait_out_the_fork() {
    while FORKING.load(Ordering::SeqCst) {
        Python::attach(|py| py.detach(|| std::thread::sleep(Duration::from_millis(1))));
    }
}

/// The runtime of this process; see [`current`].
pub fn handle() -> Handle {
    current().0
}

/// `os.register_at_fork(before=...)`: stop the runtime so no thread of it exists at
/// fork time. Calls in flight in other threads fail with `connection_error` (a sync
/// call sees [`forks`] change; each awaited one is answered by [`inflight::cut_all`]);
/// the next call starts a new runtime.
#[pyfunction]
pub fn _before_fork(py: Python<'_>) {
    FORKED_BY.store(std::process::id(), Ordering::SeqCst);
    FORKS.fetch_add(1, Ordering::SeqCst);
    FORKING.store(true, Ordering::SeqCst);
    let runtime = SLOT.lock().runtime.take();
    if let Some(runtime) = runtime {
        // The GIL stays held: a thread spinning in `current` must not be able to take it.
        // Tasks waiting for the GIL are left behind after the timeout; they hold no locks.
        runtime.shutdown_timeout(Duration::from_secs(2));
    }
    inflight::cut_all(py);
}

/// `os.register_at_fork(after_in_parent=..., after_in_child=...)`: lets calls go on.
///
/// Only the child may force the slot's lock open: a thread that held it at fork time
/// (one that saw `FORKING` and was about to let go) does not exist there. In the
/// parent that thread is alive and may hold the lock right now; unlocking on its behalf
/// would let a second thread into the slot beside it. The parent's runtime was already
/// stopped by [`_before_fork`], so its next call builds a new one.
#[pyfunction]
pub fn _after_fork() {
    if std::process::id() != FORKED_BY.load(Ordering::SeqCst) {
        // SAFETY: this is the child of the fork. Only the thread that forked exists in
        // it, so no other thread holds the lock or can take it meanwhile.
        unsafe { SLOT.force_unlock() };
        crate::logs::after_fork_in_child();
    }
    FORKING.store(false, Ordering::SeqCst);
}

/// A lock that the child of a fork can release on behalf of a thread that did not
/// survive the fork (a `std::sync::Mutex` held at fork time stays locked forever).
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked`.
unsafe impl<T: Send> Sync for SpinLock<T> {}

pub(crate) struct SpinGuard<'a, T>(&'a SpinLock<T>);

impl<T> SpinLock<T> {
    pub(crate) const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }
    pub(crate) fn lock(&self) -> SpinGuard<'_, T> {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::thread::yield_now();
        }
        SpinGuard(self)
    }
    /// Releases a lock whose holder did not survive a fork (see [`_after_fork`]).
    ///
    /// # Safety
    /// No live thread may hold the lock or be about to touch the value: only the child
    /// of a fork, before it starts threads, can promise that.
    pub(crate) unsafe fn force_unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}

impl<T> std::ops::Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.0.value.get() }
    }
}

impl<T> std::ops::DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock.
        unsafe { &mut *self.0.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.0.locked.store(false, Ordering::Release);
    }
}

/// Set by an `atexit` hook: from then on no other thread touches Python again.
static FINALIZING: AtomicBool = AtomicBool::new(false);

/// The thread that runs the `atexit` hooks and finalizes Python; it may still make calls.
static FINALIZER: OnceLock<std::thread::ThreadId> = OnceLock::new();

/// Registered with `atexit` when the module loads: Python is shutting down.
#[pyfunction]
pub fn _mark_finalizing() {
    let _ = FINALIZER.set(std::thread::current().id());
    FINALIZING.store(true, Ordering::SeqCst);
}

/// Whether Python is finalizing (after `atexit` ran): taking the GIL may then kill the thread.
pub fn finalizing() -> bool {
    FINALIZING.load(Ordering::SeqCst)
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
