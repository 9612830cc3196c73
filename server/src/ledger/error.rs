//! How a ledger call can fail, typed by what the caller may do about it: each backend
//! sorts its database's errors into these kinds, and `crate::error` turns each kind into
//! one status and code.

/// A ledger call that failed (a refusal by the ledger's rules is not an error: see
/// [`super::Refusal`]). The `cause` is the database's own text, for logs and admin output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerError {
    /// Another connection holds the database (SQLite busy or locked); nothing was applied,
    /// and the same request may succeed in a moment.
    Busy { cause: String },
    /// The database cannot write now (disk full, an I/O error); nothing was applied.
    Unavailable { cause: String },
    /// The database refused the write on a conflict the ledger's rules did not resolve (a
    /// constraint, or serialization failures and deadlocks that outlasted the retries);
    /// nothing was applied.
    Conflict { cause: String },
    /// A statement that commits was in flight when it failed: the write may or may not
    /// stand, and only a retry with the same reference can tell. `storage_failed`: the
    /// database itself reported an I/O error while committing (so also retry later),
    /// rather than its answer being lost on the way.
    OutcomeUnknown { cause: String, storage_failed: bool },
    /// Anything else (a bug, a lost connection outside a commit, a closed pool); nothing
    /// was applied.
    Internal { cause: String },
}

impl LedgerError {
    pub fn internal(cause: impl Into<String>) -> LedgerError {
        LedgerError::Internal {
            cause: cause.into(),
        }
    }

    /// The database's own description of the failure.
    pub fn cause(&self) -> &str {
        match self {
            LedgerError::Busy { cause }
            | LedgerError::Unavailable { cause }
            | LedgerError::Conflict { cause }
            | LedgerError::OutcomeUnknown { cause, .. }
            | LedgerError::Internal { cause } => cause,
        }
    }
}

impl std::fmt::Display for LedgerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.cause())
    }
}

impl std::error::Error for LedgerError {}
