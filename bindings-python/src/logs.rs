//! The core's `tracing` records, forwarded to Python's `logging` under the logger
//! `credit_sync`. Runtime threads never touch the GIL: they queue formatted records,
//! and the Python thread that finishes a call (the blocking helper, or the asyncio
//! loop resolving a future) hands them to `logging`, where the GIL is already held.

use crate::runtime::SpinLock;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU8, Ordering};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// The logger's name: the prefix of the core's `tracing` targets.
const LOGGER: &str = credit_sync::log::TARGET;

/// A burst beyond this many unread records drops the newest: the log must never grow
/// without bound while no Python thread finishes a call.
const MAX_QUEUED: usize = 10_000;

/// The records waiting for a Python thread: (Python level number, message). A
/// [`SpinLock`] because a fork child must be able to open it (see [`after_fork_in_child`]).
pub(crate) static QUEUE: SpinLock<VecDeque<(u8, String)>> = SpinLock::new(VecDeque::new());

/// The logger's effective level, refreshed at every drain: records below it are not
/// even formatted. Starts at WARNING, `logging`'s default.
static LEVEL: AtomicU8 = AtomicU8::new(30);

fn python_level(level: &Level) -> u8 {
    match *level {
        Level::TRACE => 5,
        Level::DEBUG => 10,
        Level::INFO => 20,
        Level::WARN => 30,
        Level::ERROR => 40,
    }
}

/// Installs the forwarding subscriber as the process's `tracing` default (once; an
/// embedding program that installed its own keeps it) and reads the logger's level.
pub fn install(py: Python<'_>) -> PyResult<()> {
    let _ = tracing::subscriber::set_global_default(Forward);
    refresh_level(py, &logger(py)?.bind(py).clone());
    Ok(())
}

fn logger(py: Python<'_>) -> PyResult<&Py<PyAny>> {
    static LOGGER_OBJ: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    LOGGER_OBJ.get_or_try_init(py, || {
        Ok(py
            .import("logging")?
            .call_method1("getLogger", (LOGGER,))?
            .unbind())
    })
}

fn refresh_level(py: Python<'_>, logger: &Bound<'_, PyAny>) {
    let level = logger
        .call_method0(pyo3::intern!(py, "getEffectiveLevel"))
        .and_then(|l| l.extract::<u32>());
    if let Ok(level) = level {
        LEVEL.store(level.min(u8::MAX as u32) as u8, Ordering::Relaxed);
    }
}

/// Reads the logger's level before a call, so a level set just before it applies to it.
pub fn before_call(py: Python<'_>) {
    if let Ok(logger) = logger(py) {
        refresh_level(py, logger.bind(py));
    }
}

/// Hands the queued records to `logging`. Called with the GIL held on a Python thread;
/// a failing handler never fails the SDK call.
pub fn drain(py: Python<'_>) {
    let records = std::mem::take(&mut *QUEUE.lock());
    let Ok(logger) = logger(py) else { return };
    let logger = logger.bind(py);
    for (level, message) in records {
        let _ = logger.call_method1(pyo3::intern!(py, "log"), (level, message));
    }
    refresh_level(py, logger);
}

/// In a fork's child: the thread that held the queue at fork time does not exist
/// there, and the parent's records are the parent's to log.
pub fn after_fork_in_child() {
    // SAFETY: only the forking thread exists in the child.
    unsafe { QUEUE.force_unlock() };
    QUEUE.lock().clear();
}

/// The subscriber: formats each enabled `credit_sync` event into one line.
struct Forward;

impl Subscriber for Forward {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if credit_sync::log::is_sdk_target(metadata.target()) {
            // The level can change at any time in Python: ask `enabled` every time.
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        credit_sync::log::is_sdk_target(metadata.target())
            && python_level(metadata.level()) >= LEVEL.load(Ordering::Relaxed)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let message = credit_sync::log::line(event);
        let mut queue = QUEUE.lock();
        if queue.len() < MAX_QUEUED {
            queue.push_back((python_level(event.metadata().level()), message));
        }
    }
}
