//! The SDK's log, as the bindings forward it: which `tracing` events are the SDK's and
//! how one reads as a line. The core never logs a credential (API key, secret, token,
//! signature), so a line is safe to hand to any logger.

use std::fmt::Write;
use tracing::field::{Field, Visit};

/// The prefix of every SDK event's target, and the bindings' logger name.
pub const TARGET: &str = "credit_sync";

/// Is this `tracing` target one of the SDK's?
pub fn is_sdk_target(target: &str) -> bool {
    target.starts_with(TARGET)
}

/// `message key=value key=value`.
pub fn line(event: &tracing::Event<'_>) -> String {
    let mut line = Line::default();
    event.record(&mut line);
    line.message.push_str(&line.fields);
    line.message
}

#[derive(Default)]
struct Line {
    message: String,
    fields: String,
}

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }
}
