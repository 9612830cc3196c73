//! Holds on SQLite. Placing, capturing and voiding are jobs of the one group-commit writer,
//! which runs them one after the other, so a hold resolves exactly once however many calls
//! race for it; the list is a read on the reader pool. The rules are `hold`'s; this file
//! only runs the SQL.

use super::funds::{funds, write_record, Funds, NewRecord};
use super::group_commit::{Job, Step};
use super::raw::{self, Db, Value};
use super::{replayed_or_reused, spend, BALANCE_SQL};
use crate::ledger::hold::{self, HoldApplied, HoldOutcome, NewHold, Resolve, Verdict};
use crate::ledger::rows::{BalanceRow, HoldRow};
use crate::ledger::{now_ms, now_rfc3339, request_hash, Actor, Change, Refusal, Spend};
use credit_sync::protocol::{limits, Code, HoldState};
use sqlx::SqlitePool;

/// The columns of a [`HoldRow`], in its declaration order (see [`hold_row`]).
macro_rules! hold_columns {
    () => {
        "hold_id, telegram_id, source, amount, captured, state, reason, external_reference,
         created_at, expires_at_ms, resolved_at, record_id, resolved_by, resolution_reference"
    };
}

/// A [`HoldRow`] from a row of [`hold_columns`].
fn hold_row(row: &raw::Row) -> HoldRow {
    HoldRow {
        hold_id: row.text(0),
        telegram_id: row.int(1),
        source: row.text(2),
        amount: row.int(3),
        captured: row.int(4),
        state: row.text(5),
        reason: row.text(6),
        external_reference: row.opt_text(7),
        created_at: row.text(8),
        expires_at_ms: row.int(9),
        resolved_at: row.opt_text(10),
        record_id: row.opt_int(11),
        resolved_by: row.opt_text(12),
        resolution_reference: row.opt_text(13),
    }
}

fn hold_by_id(db: &mut Db, hold_id: &str) -> Result<Option<HoldRow>, sqlx::Error> {
    db.query(
        concat!("SELECT ", hold_columns!(), " FROM holds WHERE hold_id = ?"),
        &[Value::Text(hold_id)],
        hold_row,
    )
}

fn hold_by_reference(
    db: &mut Db,
    source: &str,
    reference: &str,
) -> Result<Option<HoldRow>, sqlx::Error> {
    db.query(
        concat!(
            "SELECT ",
            hold_columns!(),
            " FROM holds WHERE source = ? AND external_reference = ?"
        ),
        &[Value::Text(source), Value::Text(reference)],
        hold_row,
    )
}

/// `hold` with its user's balance view as a read sees it (nothing settled): the answer
/// of a replay, which keeps nothing.
fn answer(
    db: &mut Db,
    hold: HoldRow,
    now_ms: i64,
    duplicate: bool,
) -> Result<HoldApplied, sqlx::Error> {
    let view = db
        .query(
            BALANCE_SQL,
            &[Value::Int(now_ms), Value::Int(hold.telegram_id)],
            |row| Funds {
                credits: row.int(0),
                held: row.int(2),
            },
        )?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(HoldApplied {
        hold: hold::as_of(hold, now_ms),
        credits: view.credits,
        held: view.held,
        duplicate,
    })
}

/// `POST /api/credits/holds`: kept when placed or refused; a replay keeps nothing.
pub(super) struct PlaceHold {
    pub actor: Actor,
    pub hold: NewHold,
    pub spend: Spend,
}

impl Job for PlaceHold {
    type Output = HoldOutcome;

    fn apply(&mut self, db: &mut Db) -> Result<Step<HoldOutcome>, sqlx::Error> {
        let now = now_ms();
        if !spend(db, &self.spend)? {
            return Ok(Step {
                output: replayed_or_reused(self.earlier(db, now)?),
                keep: false,
            });
        }
        if let Some(outcome) = self.earlier(db, now)? {
            let keep = outcome.is_err();
            return Ok(Step {
                output: outcome,
                keep,
            });
        }
        Ok(Step {
            output: self.place(db, now)?,
            keep: true,
        })
    }
}

impl PlaceHold {
    /// The replay of the hold's reference (or the conflict with it), when it was used.
    fn earlier(&self, db: &mut Db, now_ms: i64) -> Result<Option<HoldOutcome>, sqlx::Error> {
        let Some(reference) = &self.hold.reference else {
            return Ok(None);
        };
        let Some(original) = hold_by_reference(db, &self.actor.source, reference)? else {
            return Ok(None);
        };
        if let Err(conflict) = hold::replay_hold(&self.hold, &original) {
            return Ok(Some(Err(conflict)));
        }
        Ok(Some(Ok(answer(db, original, now_ms, true)?)))
    }

    fn place(&self, db: &mut Db, now_ms: i64) -> Result<HoldOutcome, sqlx::Error> {
        let new = &self.hold;
        let Some(funds) = funds(db, new.telegram_id, now_ms)? else {
            return Ok(Err(Refusal::user_not_found(new.telegram_id)));
        };
        // After settling, every open hold is unexpired; none at all when nothing is held.
        if funds.held > 0 && open_holds(db, new.telegram_id)? >= limits::MAX_OPEN_HOLDS_PER_USER {
            return Ok(Err(hold::too_many(new.telegram_id)));
        }
        if funds.available() < new.amount {
            return Ok(Err(Refusal::unavailable(
                funds.credits,
                funds.held,
                -new.amount,
            )));
        }
        let row = HoldRow {
            hold_id: hold::new_hold_id(),
            telegram_id: new.telegram_id,
            source: self.actor.source.clone(),
            amount: new.amount,
            captured: 0,
            state: "open".to_string(),
            reason: new.reason.clone(),
            external_reference: new.reference.clone(),
            created_at: now_rfc3339(),
            expires_at_ms: hold::expires_at_ms(now_ms, new.ttl_secs),
            resolved_at: None,
            record_id: None,
            resolved_by: None,
            resolution_reference: None,
        };
        let hash = request_hash(
            &row.source,
            &Change {
                telegram_id: new.telegram_id,
                amount: -new.amount,
                reason: new.reason.clone(),
                reference: new.reference.clone(),
            },
        );
        db.execute(
            "INSERT INTO holds
                 (hold_id, telegram_id, source, amount, reason, external_reference,
                  request_hash, created_at, expires_at_ms)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                Value::Text(&row.hold_id),
                Value::Int(row.telegram_id),
                Value::Text(&row.source),
                Value::Int(row.amount),
                Value::Text(&row.reason),
                Value::OptText(row.external_reference.as_deref()),
                Value::Text(&hash),
                Value::Text(&row.created_at),
                Value::Int(row.expires_at_ms),
            ],
        )?;
        db.execute(
            "UPDATE users SET held = held + ? WHERE telegram_id = ?",
            &[Value::Int(row.amount), Value::Int(row.telegram_id)],
        )?;
        Ok(Ok(HoldApplied {
            hold: row,
            credits: funds.credits,
            held: funds.held + new.amount,
            duplicate: false,
        }))
    }
}

/// How many holds of the user are open (after [`funds`] settled the expired ones).
fn open_holds(db: &mut Db, telegram_id: i64) -> Result<usize, sqlx::Error> {
    let count = db
        .query(
            "SELECT COUNT(*) FROM holds WHERE telegram_id = ? AND state = 'open'",
            &[Value::Int(telegram_id)],
            |row| row.int(0),
        )?
        .unwrap_or(0);
    Ok(usize::try_from(count).unwrap_or(0))
}

/// `POST /api/credits/holds/{hold_id}/capture` and `.../void`: kept when resolved or
/// refused; a replay of the same call keeps nothing.
pub(super) struct ResolveHold {
    pub actor: Actor,
    pub resolve: Resolve,
    pub spend: Spend,
}

impl Job for ResolveHold {
    type Output = HoldOutcome;

    fn apply(&mut self, db: &mut Db) -> Result<Step<HoldOutcome>, sqlx::Error> {
        let now = now_ms();
        let found = if spend(db, &self.spend)? {
            hold_by_id(db, &self.resolve.hold_id)?
        } else {
            // A spent signature: answered only when this is the same call again.
            let replay = match hold_by_id(db, &self.resolve.hold_id)? {
                Some(row)
                    if hold::judge(&self.actor, &row, &self.resolve, now) == Verdict::Replay =>
                {
                    Some(Ok(answer(db, row, now, true)?))
                }
                _ => None,
            };
            return Ok(Step {
                output: replayed_or_reused(replay),
                keep: false,
            });
        };
        let Some(row) = found else {
            return Ok(Step {
                output: Err(hold::not_found(&self.resolve.hold_id)),
                keep: true,
            });
        };
        let output = match hold::judge(&self.actor, &row, &self.resolve, now) {
            Verdict::Capture(amount) => self.close(db, row, Some(amount), now)?,
            Verdict::Void => self.close(db, row, None, now)?,
            Verdict::Replay => {
                return Ok(Step {
                    output: Ok(answer(db, row, now, true)?),
                    keep: false,
                })
            }
            Verdict::Refused(refusal) if refusal.code == Code::HoldResolved => {
                // Settles the user's expired holds, this one among them when it expired.
                let funds = funds(db, row.telegram_id, now)?.ok_or(sqlx::Error::RowNotFound)?;
                Err(refusal.with_hold(HoldApplied {
                    hold: hold::as_of(row, now),
                    credits: funds.credits,
                    held: funds.held,
                    duplicate: false,
                }))
            }
            Verdict::Refused(refusal) => Err(refusal),
        };
        Ok(Step { output, keep: true })
    }
}

impl ResolveHold {
    /// Resolves the open, unexpired `row`: a capture of `capture` writes its deduction, a
    /// void (`None`) writes none; either way the whole hold leaves `held`.
    fn close(
        &self,
        db: &mut Db,
        row: HoldRow,
        capture: Option<i64>,
        now_ms: i64,
    ) -> Result<HoldOutcome, sqlx::Error> {
        let funds = funds(db, row.telegram_id, now_ms)?.ok_or(sqlx::Error::RowNotFound)?;
        let resolved_at = now_rfc3339();
        let mut credits = funds.credits;
        let mut record_id = None;
        let (state, captured) = match capture {
            Some(captured) => (HoldState::Captured, captured),
            None => (HoldState::Voided, 0),
        };
        if let Some(captured) = capture {
            // The hold counts in `held`, which `credits` always covers.
            credits = match funds.credits.checked_sub(captured) {
                Some(balance) if balance >= 0 => balance,
                _ => return Ok(Err(Refusal::insufficient(funds.credits, -captured))),
            };
            let hash = request_hash(
                &self.actor.source,
                &Change {
                    telegram_id: row.telegram_id,
                    amount: -captured,
                    reason: row.reason.clone(),
                    reference: self.resolve.reference.clone(),
                },
            );
            record_id = Some(write_record(
                db,
                &NewRecord {
                    telegram_id: row.telegram_id,
                    source: &self.actor.source,
                    change: -captured,
                    balance_after: credits,
                    reason: &row.reason,
                    reference: None,
                    request_hash: &hash,
                    created_at: &resolved_at,
                    hold_id: Some(&row.hold_id),
                    reverses: None,
                    transfer_id: None,
                },
            )?);
        }
        let closed = db.execute(
            "UPDATE holds SET state = ?, captured = ?, record_id = ?, resolved_by = ?,
                 resolution_reference = ?, resolved_at = ?
             WHERE hold_id = ? AND state = 'open'",
            &[
                Value::Text(state.as_str()),
                Value::Int(captured),
                Value::OptInt(record_id),
                Value::Text(&self.actor.source),
                Value::OptText(self.resolve.reference.as_deref()),
                Value::Text(&resolved_at),
                Value::Text(&row.hold_id),
            ],
        )?;
        if closed != 1 {
            return Err(sqlx::Error::Protocol(format!(
                "hold {} was no longer open when it was resolved",
                row.hold_id
            )));
        }
        db.execute(
            "UPDATE users SET held = held - ? WHERE telegram_id = ?",
            &[Value::Int(row.amount), Value::Int(row.telegram_id)],
        )?;
        let held = funds.held - row.amount;
        let hold = HoldRow {
            state: state.as_str().to_string(),
            captured,
            record_id,
            resolved_by: Some(self.actor.source.clone()),
            resolution_reference: self.resolve.reference.clone(),
            resolved_at: Some(resolved_at),
            ..row
        };
        Ok(Ok(HoldApplied {
            hold,
            credits,
            held,
            duplicate: false,
        }))
    }
}

/// A user's balance view and open, unexpired holds, oldest first, from one snapshot;
/// `None` for an unknown user.
pub(super) async fn list(
    reader: &SqlitePool,
    telegram_id: i64,
) -> Result<Option<(BalanceRow, Vec<HoldRow>)>, sqlx::Error> {
    let now = now_ms();
    let mut tx = reader.begin().await?;
    let balance: Option<BalanceRow> = sqlx::query_as(BALANCE_SQL)
        .bind(now)
        .bind(telegram_id)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(balance) = balance else {
        tx.rollback().await?;
        return Ok(None);
    };
    let holds: Vec<HoldRow> = sqlx::query_as(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM holds WHERE telegram_id = ? AND state = 'open' AND expires_at_ms > ?
          ORDER BY created_at, hold_id"
    ))
    .bind(telegram_id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    Ok(Some((balance, holds)))
}
