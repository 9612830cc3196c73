//! The audit log: who did what in the console and when, with the outcome. Sign-ins
//! (and refused ones), sign-outs and every write an operator asked for are appended;
//! a write's entry carries its form's reference, so a double click is one entry. The
//! ledger's own record of a write (source `console:<operator>`, its reason) stands
//! beside it.

use super::store::AuditEntry;
use crate::ledger::{now_ms, Ledger, LedgerBackend};

/// The actions the log names.
pub mod action {
    pub const SIGN_IN: &str = "sign_in";
    pub const SIGN_IN_REFUSED: &str = "sign_in_refused";
    pub const SIGN_OUT: &str = "sign_out";
    pub const ADJUST: &str = "adjust";
    pub const REVERSE: &str = "reverse";
    pub const VOID: &str = "void_hold";
}

/// An entry for `operator` doing `action` now, with `outcome`; the caller fills the rest.
pub fn entry(operator: &str, action: &str, outcome: &str) -> AuditEntry {
    AuditEntry {
        at_ms: now_ms(),
        operator: operator.to_string(),
        action: action.to_string(),
        outcome: outcome.to_string(),
        ..AuditEntry::default()
    }
}

/// Appends `entry`; a failure is logged, never shown as the action's failure (the
/// ledger's record of a write is already there).
pub async fn append(ledger: &Ledger, entry: AuditEntry) {
    if let Err(error) = ledger.backend().console_audit_append(entry).await {
        tracing::error!(%error, "console: cannot append to the audit log");
    }
}
