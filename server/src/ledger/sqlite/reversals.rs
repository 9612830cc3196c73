//! Reversals on SQLite: a job of the group-commit writer that writes one record linked to
//! the record it reverses. The rules (who, how much, which sign, what is a replay) are
//! `reversal`'s; this file only runs the SQL.

use super::funds::{funds, stored, write_record, NewRecord};
use super::group_commit::{Job, Step};
use super::raw::{Db, Value};
use super::{record_by_id, record_by_reference, replayed_or_reused, spend};
use crate::ledger::reversal::{self, Reversal, ReverseOutcome, Reversed, Target};
use crate::ledger::rows::OriginalRecord;
use crate::ledger::{now_ms, now_rfc3339, request_hash, Actor, Change, Refusal, Spend};

/// `POST /api/credits/reverse`: kept when written or refused; a replay keeps nothing.
pub(super) struct Reverse {
    pub actor: Actor,
    pub reversal: Reversal,
    pub spend: Spend,
}

impl Job for Reverse {
    type Output = ReverseOutcome;

    fn apply(&mut self, db: &mut Db) -> Result<Step<ReverseOutcome>, sqlx::Error> {
        if !spend(db, &self.spend)? {
            return Ok(Step {
                output: replayed_or_reused(self.earlier(db)?),
                keep: false,
            });
        }
        if let Some(outcome) = self.earlier(db)? {
            let keep = outcome.is_err();
            return Ok(Step {
                output: outcome,
                keep,
            });
        }
        Ok(Step {
            output: self.reverse(db)?,
            keep: true,
        })
    }
}

impl Reverse {
    /// The record to reverse, when there is one.
    fn target(&self, db: &mut Db) -> Result<Option<OriginalRecord>, sqlx::Error> {
        match &self.reversal.target {
            Target::Record(id) => record_by_id(db, *id),
            Target::Reference(reference) => record_by_reference(db, &self.actor.source, reference),
        }
    }

    /// The replay of the reversal's reference (or the conflict with it), when it was used.
    fn earlier(&self, db: &mut Db) -> Result<Option<ReverseOutcome>, sqlx::Error> {
        let Some(reference) = &self.reversal.reference else {
            return Ok(None);
        };
        let Some(earlier) = record_by_reference(db, &self.actor.source, reference)? else {
            return Ok(None);
        };
        let target = self.target(db)?.map(|target| target.id);
        if let Err(conflict) = reversal::replay(&self.reversal, target, &earlier) {
            return Ok(Some(Err(conflict)));
        }
        let Some(reverses) = earlier.reverses else {
            return Err(sqlx::Error::Protocol(
                "a replayed reversal reverses nothing".into(),
            ));
        };
        let original = record_by_id(db, reverses)?.ok_or(sqlx::Error::RowNotFound)?;
        let reversed = reversed(db, reverses)?;
        Ok(Some(Ok(Reversed {
            record_id: earlier.id,
            reverses,
            telegram_id: earlier.telegram_id,
            change: earlier.change,
            balance: earlier.balance_after,
            reversed,
            remaining: magnitude(original.change) - reversed,
            duplicate: true,
        })))
    }

    fn reverse(&self, db: &mut Db) -> Result<ReverseOutcome, sqlx::Error> {
        let Some(original) = self.target(db)? else {
            return Ok(Err(reversal::not_found(&self.reversal.target)));
        };
        let already = reversed(db, original.id)?;
        let change = match reversal::judge(&self.actor, &original, already, &self.reversal) {
            Ok(change) => change,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let telegram_id = original.telegram_id;
        let balance = if change < 0 {
            // Taking credits back: only what no open hold reserves.
            let funds = funds(db, telegram_id, now_ms())?.ok_or(sqlx::Error::RowNotFound)?;
            if funds.available() < -change {
                return Ok(Err(Refusal::unavailable(funds.credits, funds.held, change)));
            }
            funds.credits + change
        } else {
            let funds = stored(db, telegram_id)?.ok_or(sqlx::Error::RowNotFound)?;
            match funds.credits.checked_add(change) {
                Some(balance) => balance,
                None => return Ok(Err(Refusal::balance_overflow(funds.credits, change))),
            }
        };
        let created_at = now_rfc3339();
        let hash = request_hash(
            &self.actor.source,
            &Change {
                telegram_id,
                amount: change,
                reason: self.reversal.reason.clone(),
                reference: self.reversal.reference.clone(),
            },
        );
        let record_id = write_record(
            db,
            &NewRecord {
                telegram_id,
                source: &self.actor.source,
                change,
                balance_after: balance,
                reason: &self.reversal.reason,
                reference: self.reversal.reference.as_deref(),
                request_hash: &hash,
                created_at: &created_at,
                hold_id: None,
                reverses: Some(original.id),
                transfer_id: None,
            },
        )?;
        let reversed = already + magnitude(change);
        Ok(Ok(Reversed {
            record_id,
            reverses: original.id,
            telegram_id,
            change,
            balance,
            reversed,
            remaining: magnitude(original.change) - reversed,
            duplicate: false,
        }))
    }
}

/// How much of record `id` its reversals took back, as a magnitude.
fn reversed(db: &mut Db, id: i64) -> Result<i64, sqlx::Error> {
    Ok(db
        .query(
            "SELECT COALESCE(SUM(ABS(change)), 0) FROM records WHERE reverses = ?",
            &[Value::Int(id)],
            |row| row.int(0),
        )?
        .unwrap_or(0))
}

/// A change's size (a record's change is never `i64::MIN`: balances are never negative).
fn magnitude(change: i64) -> i64 {
    i64::try_from(change.unsigned_abs()).unwrap_or(i64::MAX)
}
