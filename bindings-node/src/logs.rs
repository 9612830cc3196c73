//! The `logger` option: the core's `tracing` records of one client's calls, handed to a
//! JS callback `(level, message)` through a weak threadsafe function (it never keeps
//! the process alive, and never blocks a runtime thread when the JS thread is busy).

use napi::bindgen_prelude::FnArgs;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

/// The JS callback: `(level: 'error' | 'warn' | 'info' | 'debug' | 'trace', message: string) => void`.
pub type Logger =
    ThreadsafeFunction<FnArgs<(String, String)>, (), FnArgs<(String, String)>, Status, false, true>;

/// The `tracing` dispatcher a client's calls run under: every SDK event goes to its logger.
pub fn dispatch(logger: Logger) -> tracing::Dispatch {
    tracing::Dispatch::new(Forward(logger))
}

struct Forward(Logger);

fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

impl Subscriber for Forward {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if credit_sync::log::is_sdk_target(metadata.target()) {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        credit_sync::log::is_sdk_target(metadata.target())
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let level = level_name(event.metadata().level()).to_string();
        let message = credit_sync::log::line(event);
        // Non-blocking: a closed environment (a terminated worker) just drops the record.
        let _ = self.0.call(
            (level, message).into(),
            ThreadsafeFunctionCallMode::NonBlocking,
        );
    }
}
