//! The operator console's writes on SQLite, as jobs of the group-commit writer (the one
//! connection that writes): sessions and the audit log (migration `0004_console.sql`).

use super::group_commit::{Job, Step};
use super::raw::{Db, Value};
use crate::console::store::{AuditEntry, NewSession};

/// Stores a session, and deletes the expired ones while at it.
pub(super) struct CreateSession(pub NewSession);

impl Job for CreateSession {
    type Output = ();

    fn apply(&mut self, db: &mut Db) -> Result<Step<()>, sqlx::Error> {
        let session = &self.0;
        db.execute(
            "DELETE FROM console_sessions WHERE expires_at_ms <= ?",
            &[Value::Int(session.created_at_ms)],
        )?;
        db.execute(
            "INSERT INTO console_sessions
                 (token_hash, operator, csrf, created_at_ms, expires_at_ms)
             VALUES (?, ?, ?, ?, ?)",
            &[
                Value::Text(&session.token_hash),
                Value::Text(&session.operator),
                Value::Text(&session.csrf),
                Value::Int(session.created_at_ms),
                Value::Int(session.expires_at_ms),
            ],
        )?;
        Ok(Step {
            output: (),
            keep: true,
        })
    }
}

/// Ends a session.
pub(super) struct DeleteSession(pub String);

impl Job for DeleteSession {
    type Output = ();

    fn apply(&mut self, db: &mut Db) -> Result<Step<()>, sqlx::Error> {
        db.execute(
            "DELETE FROM console_sessions WHERE token_hash = ?",
            &[Value::Text(&self.0)],
        )?;
        Ok(Step {
            output: (),
            keep: true,
        })
    }
}

/// Appends one audit entry, unless its reference is already there (`false`).
pub(super) struct AppendAudit(pub AuditEntry);

impl Job for AppendAudit {
    type Output = bool;

    fn apply(&mut self, db: &mut Db) -> Result<Step<bool>, sqlx::Error> {
        let entry = &self.0;
        // `NULLIF(?, 0)`: the writer binds no NULL integers, and neither a telegram_id
        // nor an amount is ever 0.
        let added = db.execute(
            "INSERT INTO console_audit
                 (at_ms, operator, action, telegram_id, target, amount, reason, reference,
                  outcome, detail)
             VALUES (?, ?, ?, NULLIF(?, 0), ?, NULLIF(?, 0), ?, ?, ?, ?)
             ON CONFLICT (reference) WHERE reference IS NOT NULL DO NOTHING",
            &[
                Value::Int(entry.at_ms),
                Value::Text(&entry.operator),
                Value::Text(&entry.action),
                Value::Int(entry.telegram_id.unwrap_or(0)),
                Value::OptText(entry.target.as_deref()),
                Value::Int(entry.amount.unwrap_or(0)),
                Value::OptText(entry.reason.as_deref()),
                Value::OptText(entry.reference.as_deref()),
                Value::Text(&entry.outcome),
                Value::OptText(entry.detail.as_deref()),
            ],
        )? == 1;
        Ok(Step {
            output: added,
            keep: added,
        })
    }
}
