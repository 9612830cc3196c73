//! Transfers on SQLite: a job of the group-commit writer that writes both legs in its one
//! savepoint, so either both records are in the ledger or neither is. The replay rules are
//! `transfer`'s; this file only runs the SQL.

use super::funds::{funds, stored, write_record, NewRecord};
use super::group_commit::{Job, Step};
use super::raw::{Db, Value};
use super::{original_record, record_by_reference, register_unknown, replayed_or_reused, spend};
use crate::ledger::hold::new_transfer_id;
use crate::ledger::rows::OriginalRecord;
use crate::ledger::transfer::{self, Leg, Transfer, TransferOutcome, Transferred};
use crate::ledger::{now_ms, now_rfc3339, request_hash, Actor, Change, Refusal, Spend};

/// `POST /api/credits/transfer`: kept when written or refused; a replay keeps nothing.
pub(super) struct MoveCredits {
    pub actor: Actor,
    pub transfer: Transfer,
    pub spend: Spend,
}

impl Job for MoveCredits {
    type Output = TransferOutcome;

    fn apply(&mut self, db: &mut Db) -> Result<Step<TransferOutcome>, sqlx::Error> {
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
            output: self.transfer(db)?,
            keep: true,
        })
    }
}

impl MoveCredits {
    /// The replay of the transfer's reference (or the conflict with it), when it was used.
    fn earlier(&self, db: &mut Db) -> Result<Option<TransferOutcome>, sqlx::Error> {
        let Some(reference) = &self.transfer.reference else {
            return Ok(None);
        };
        let Some(debit) = record_by_reference(db, &self.actor.source, reference)? else {
            return Ok(None);
        };
        let credit = match &debit.transfer_id {
            Some(transfer_id) => other_leg(db, transfer_id, debit.id)?,
            None => None,
        };
        Ok(Some(transfer::replay(
            &self.transfer,
            &debit,
            credit.as_ref(),
        )))
    }

    fn transfer(&self, db: &mut Db) -> Result<TransferOutcome, sqlx::Error> {
        let t = &self.transfer;
        if t.from == t.to {
            // Validation refuses it; both legs on one balance would break its chain.
            return Err(sqlx::Error::Protocol(
                "a transfer to its own sender reached the ledger".into(),
            ));
        }
        let Some(sender) = funds(db, t.from, now_ms())? else {
            return Ok(Err(Refusal::user_not_found(t.from)));
        };
        let receiver = stored(db, t.to)?;
        if receiver.is_none() && !self.actor.auto_register {
            return Ok(Err(Refusal::user_not_found(t.to)));
        }
        if sender.available() < t.amount {
            return Ok(Err(Refusal::unavailable(
                sender.credits,
                sender.held,
                -t.amount,
            )));
        }
        let receiver_credits = receiver.map_or(0, |funds| funds.credits);
        let Some(received) = receiver_credits.checked_add(t.amount) else {
            return Ok(Err(Refusal::balance_overflow(receiver_credits, t.amount)));
        };
        // Every check passed: only now may the receiver be registered.
        let created_at = now_rfc3339();
        if receiver.is_none() {
            register_unknown(db, t.to, &created_at, &self.actor.source)?;
        }
        let transfer_id = new_transfer_id();
        let sent = sender.credits - t.amount;
        let leg = |telegram_id, change, reference: Option<&String>| {
            request_hash(
                &self.actor.source,
                &Change {
                    telegram_id,
                    amount: change,
                    reason: t.reason.clone(),
                    reference: reference.cloned(),
                },
            )
        };
        let (debit_hash, credit_hash) = (
            leg(t.from, -t.amount, t.reference.as_ref()),
            leg(t.to, t.amount, None),
        );
        let record = |telegram_id, change, balance_after, reference, request_hash| NewRecord {
            telegram_id,
            source: &self.actor.source,
            change,
            balance_after,
            reason: &t.reason,
            reference,
            request_hash,
            created_at: &created_at,
            hold_id: None,
            reverses: None,
            transfer_id: Some(&transfer_id),
        };
        let debit = write_record(
            db,
            &record(t.from, -t.amount, sent, t.reference.as_deref(), &debit_hash),
        )?;
        let credit = write_record(db, &record(t.to, t.amount, received, None, &credit_hash))?;
        Ok(Ok(Transferred {
            transfer_id,
            amount: t.amount,
            from: Leg {
                telegram_id: t.from,
                record_id: debit,
                change: -t.amount,
                balance: sent,
            },
            to: Leg {
                telegram_id: t.to,
                record_id: credit,
                change: t.amount,
                balance: received,
            },
            duplicate: false,
        }))
    }
}

/// The leg of transfer `transfer_id` that is not record `id`.
fn other_leg(
    db: &mut Db,
    transfer_id: &str,
    id: i64,
) -> Result<Option<OriginalRecord>, sqlx::Error> {
    db.query(
        "SELECT id, telegram_id, source, change, reason, balance_after, hold_id, reverses,
                transfer_id
         FROM records WHERE transfer_id = ? AND id <> ?",
        &[Value::Text(transfer_id), Value::Int(id)],
        original_record,
    )
}
