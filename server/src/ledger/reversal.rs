//! Reversals: a new record that undoes all or part of an earlier one, linked to it
//! (`reverses`). The rules both backends share: which records may be reversed and by
//! whom, how much is left, the reversal's sign, and when a second call is a replay.

use super::rows::OriginalRecord;
use super::{Actor, Refusal};
use credit_sync::protocol::{fields, Code};

/// The record to reverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Record(i64),
    /// The caller's own `external_reference` of the original.
    Reference(String),
}

/// A reversal to apply (already validated).
#[derive(Debug, Clone)]
pub struct Reversal {
    pub target: Target,
    /// `None`: all that is left of the original.
    pub amount: Option<i64>,
    pub reason: String,
    pub reference: Option<String>,
}

/// A reversal that is in the ledger (now, or already before: `duplicate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reversed {
    pub record_id: i64,
    pub reverses: i64,
    pub telegram_id: i64,
    pub change: i64,
    pub balance: i64,
    /// How much of the original is reversed, this reversal included.
    pub reversed: i64,
    /// How much is left to reverse.
    pub remaining: i64,
    pub duplicate: bool,
}

pub type ReverseOutcome = Result<Reversed, Refusal>;

/// `record_not_found`.
pub fn not_found(target: &Target) -> Refusal {
    let message = match target {
        Target::Record(id) => format!("no record has the id {id}"),
        Target::Reference(reference) => {
            format!("no record of this source has the external_reference {reference:?}")
        }
    };
    Refusal::new(Code::RecordNotFound, message)
}

/// The change a reversal of `original` writes, given `already` reversed before (a
/// magnitude), judged for `actor`: the opposite sign of the original, at most what is left.
pub fn judge(
    actor: &Actor,
    original: &OriginalRecord,
    already: i64,
    reversal: &Reversal,
) -> Result<i64, Refusal> {
    if original.source != actor.source && !actor.admin {
        return Err(Refusal::new(
            Code::Forbidden,
            format!(
                "record {} was written by source {}: only it or an admin source may reverse it",
                original.id, original.source
            ),
        ));
    }
    if original.reverses.is_some() || original.transfer_id.is_some() {
        let what = if original.reverses.is_some() {
            "a reversal"
        } else {
            "a leg of a transfer"
        };
        return Err(Refusal::new(
            Code::RecordNotReversible,
            format!("record {} is {what}, which is not reversed", original.id),
        ));
    }
    let remaining = original.change.unsigned_abs() as i64 - already;
    let amount = reversal.amount.unwrap_or(remaining);
    if remaining <= 0 || amount > remaining {
        return Err(Refusal::new(
            Code::ReversalExceedsRecord,
            format!(
                "record {} has {remaining} left to reverse (of {}); asked for {amount}",
                original.id,
                original.change.unsigned_abs()
            ),
        ));
    }
    Ok(if original.change > 0 { -amount } else { amount })
}

/// The answer to a reversal whose reference was used before (`earlier`, a record of the
/// caller's source): its replay when it reversed the same record the same way, else a
/// conflict naming what differs.
pub fn replay(
    reversal: &Reversal,
    target_id: Option<i64>,
    earlier: &OriginalRecord,
) -> Result<(), Refusal> {
    let Some(reverses) = earlier.reverses else {
        return Err(Refusal::conflict(&[fields::OPERATION]));
    };
    let mut differ = Vec::new();
    if target_id.is_some_and(|id| id != reverses) {
        differ.push(match reversal.target {
            Target::Record(_) => fields::RECORD_ID,
            Target::Reference(_) => fields::ORIGINAL_REFERENCE,
        });
    }
    if reversal
        .amount
        .is_some_and(|amount| amount != earlier.change.abs())
    {
        differ.push(fields::AMOUNT);
    }
    if reversal.reason != earlier.reason {
        differ.push(fields::REASON);
    }
    if differ.is_empty() {
        Ok(())
    } else {
        Err(Refusal::conflict(&differ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn original(change: i64) -> OriginalRecord {
        OriginalRecord {
            id: 3,
            telegram_id: 7,
            source: "shop".into(),
            change,
            reason: "order".into(),
            balance_after: 100,
            hold_id: None,
            reverses: None,
            transfer_id: None,
        }
    }

    fn reversal(amount: Option<i64>) -> Reversal {
        Reversal {
            target: Target::Record(3),
            amount,
            reason: "refund".into(),
            reference: None,
        }
    }

    fn shop() -> Actor {
        Actor {
            source: "shop".into(),
            auto_register: false,
            admin: false,
        }
    }

    #[test]
    fn a_reversal_has_the_opposite_sign_and_never_exceeds_the_original() {
        assert_eq!(judge(&shop(), &original(50), 0, &reversal(None)), Ok(-50));
        assert_eq!(judge(&shop(), &original(-50), 20, &reversal(None)), Ok(30));
        assert_eq!(
            judge(&shop(), &original(-50), 20, &reversal(Some(10))),
            Ok(10)
        );
        for (already, amount) in [(20, Some(31)), (50, None), (50, Some(1))] {
            let err = judge(&shop(), &original(50), already, &reversal(amount)).unwrap_err();
            assert_eq!(err.code, Code::ReversalExceedsRecord);
        }
    }

    #[test]
    fn reversals_and_transfer_legs_are_not_reversed_and_only_by_their_source() {
        let mut twice = original(-5);
        twice.reverses = Some(1);
        assert_eq!(
            judge(&shop(), &twice, 0, &reversal(None)).unwrap_err().code,
            Code::RecordNotReversible
        );
        let other = Actor {
            source: "other".into(),
            ..shop()
        };
        assert_eq!(
            judge(&other, &original(5), 0, &reversal(None))
                .unwrap_err()
                .code,
            Code::Forbidden
        );
        let admin = Actor {
            admin: true,
            ..other
        };
        assert!(judge(&admin, &original(5), 0, &reversal(None)).is_ok());
    }

    #[test]
    fn a_replay_must_reverse_the_same_record_the_same_way() {
        let mut earlier = original(-5);
        earlier.reason = "refund".into();
        earlier.reverses = Some(3);
        assert_eq!(replay(&reversal(None), Some(3), &earlier), Ok(()));
        assert_eq!(replay(&reversal(Some(5)), Some(3), &earlier), Ok(()));
        let err = replay(&reversal(Some(4)), Some(4), &earlier).unwrap_err();
        assert_eq!(err.fields, ["record_id", "amount"]);
        let err = replay(&reversal(None), Some(3), &original(5)).unwrap_err();
        assert_eq!(err.fields, ["operation"]);
    }
}
