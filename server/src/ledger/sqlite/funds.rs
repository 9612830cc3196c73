//! What a write may take from a user: `credits` minus the open holds that have not expired.
//! `users.held` counts every open hold, expired or not, so a user without holds costs no
//! holds query at all; a write that finds some settles the expired ones on the way (one
//! indexed UPDATE), keeping `held` exact for `verify`.

use super::raw::{Db, Value};

/// A user's balance as a write sees it inside the writer's transaction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Funds {
    pub credits: i64,
    /// The open holds that have not expired (after [`funds`] settled the others).
    pub held: i64,
}

impl Funds {
    pub fn available(&self) -> i64 {
        self.credits - self.held
    }
}

/// A user's credits and `users.held` as stored; `None` for an unknown user.
pub(super) fn stored(db: &mut Db, telegram_id: i64) -> Result<Option<Funds>, sqlx::Error> {
    db.query(
        "SELECT credits, held FROM users WHERE telegram_id = ?",
        &[Value::Int(telegram_id)],
        |row| Funds {
            credits: row.int(0),
            held: row.int(1),
        },
    )
}

/// A user's credits and live held at `now_ms`, settling the expired holds first; `None`
/// for an unknown user.
pub(super) fn funds(
    db: &mut Db,
    telegram_id: i64,
    now_ms: i64,
) -> Result<Option<Funds>, sqlx::Error> {
    let Some(mut funds) = stored(db, telegram_id)? else {
        return Ok(None);
    };
    funds.held = settle_expired(db, telegram_id, funds.held, now_ms)?;
    Ok(Some(funds))
}

/// Marks the user's open holds past their expiry `expired` and takes them out of
/// `users.held` (`held`, as stored); returns what the unexpired ones hold.
pub(super) fn settle_expired(
    db: &mut Db,
    telegram_id: i64,
    held: i64,
    now_ms: i64,
) -> Result<i64, sqlx::Error> {
    if held == 0 {
        return Ok(0);
    }
    let live = db
        .query(
            "SELECT COALESCE(SUM(amount), 0) FROM holds
             WHERE telegram_id = ? AND state = 'open' AND expires_at_ms > ?",
            &[Value::Int(telegram_id), Value::Int(now_ms)],
            |row| row.int(0),
        )?
        .unwrap_or(0);
    if live != held {
        db.execute(
            "UPDATE holds SET state = 'expired'
             WHERE telegram_id = ? AND state = 'open' AND expires_at_ms <= ?",
            &[Value::Int(telegram_id), Value::Int(now_ms)],
        )?;
        db.execute(
            "UPDATE users SET held = ? WHERE telegram_id = ?",
            &[Value::Int(live), Value::Int(telegram_id)],
        )?;
    }
    Ok(live)
}

/// A record with its links (a capture's hold, a reversal's original, a transfer's id).
pub(super) struct NewRecord<'a> {
    pub telegram_id: i64,
    pub source: &'a str,
    pub change: i64,
    pub balance_after: i64,
    pub reason: &'a str,
    pub reference: Option<&'a str>,
    pub request_hash: &'a str,
    pub created_at: &'a str,
    pub hold_id: Option<&'a str>,
    pub reverses: Option<i64>,
    pub transfer_id: Option<&'a str>,
}

/// Writes `record` and sets its user's balance to its `balance_after`; returns its id.
pub(super) fn write_record(db: &mut Db, record: &NewRecord) -> Result<i64, sqlx::Error> {
    db.execute(
        "UPDATE users SET credits = ?, updated_at = ? WHERE telegram_id = ?",
        &[
            Value::Int(record.balance_after),
            Value::Text(record.created_at),
            Value::Int(record.telegram_id),
        ],
    )?;
    db.insert(
        "INSERT INTO records
             (telegram_id, source, change, balance_after, reason, external_reference,
              request_hash, created_at, hold_id, reverses, transfer_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            Value::Int(record.telegram_id),
            Value::Text(record.source),
            Value::Int(record.change),
            Value::Int(record.balance_after),
            Value::Text(record.reason),
            Value::OptText(record.reference),
            Value::Text(record.request_hash),
            Value::Text(record.created_at),
            Value::OptText(record.hold_id),
            Value::OptInt(record.reverses),
            Value::OptText(record.transfer_id),
        ],
    )
}
