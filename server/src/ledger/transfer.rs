//! Transfers: credits moved from one user's available balance to another user, as two
//! records written together (or neither) and linked by one `transfer_id`. The rules both
//! backends share: the replay of a transfer's reference, and the answer's shape.

use super::rows::OriginalRecord;
use super::Refusal;
use credit_sync::protocol::fields;

/// A transfer to apply (already validated: two different users, a positive amount).
#[derive(Debug, Clone)]
pub struct Transfer {
    pub from: i64,
    pub to: i64,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
}

/// One side of a transfer that is in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leg {
    pub telegram_id: i64,
    pub record_id: i64,
    pub change: i64,
    pub balance: i64,
}

/// A transfer that is in the ledger (now, or already before: `duplicate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    pub transfer_id: String,
    pub amount: i64,
    pub from: Leg,
    pub to: Leg,
    pub duplicate: bool,
}

pub type TransferOutcome = Result<Transferred, Refusal>;

impl Leg {
    pub fn of(record: &OriginalRecord) -> Leg {
        Leg {
            telegram_id: record.telegram_id,
            record_id: record.id,
            change: record.change,
            balance: record.balance_after,
        }
    }
}

/// The answer to a transfer whose reference was used before: `debit` is the record that
/// carries the reference, `credit` the other leg of its transfer (`None` when `debit` is
/// no transfer's). The replay when it moved the same amount between the same users for
/// the same reason, else a conflict naming what differs.
pub fn replay(
    transfer: &Transfer,
    debit: &OriginalRecord,
    credit: Option<&OriginalRecord>,
) -> Result<Transferred, Refusal> {
    let (Some(transfer_id), Some(credit)) = (&debit.transfer_id, credit) else {
        return Err(Refusal::conflict(&[fields::OPERATION]));
    };
    let mut differ = Vec::new();
    if debit.telegram_id != transfer.from {
        differ.push(fields::FROM_TELEGRAM_ID);
    }
    if credit.telegram_id != transfer.to {
        differ.push(fields::TO_TELEGRAM_ID);
    }
    if debit.change != -transfer.amount {
        differ.push(fields::AMOUNT);
    }
    if debit.reason != transfer.reason {
        differ.push(fields::REASON);
    }
    if !differ.is_empty() {
        return Err(Refusal::conflict(&differ));
    }
    Ok(Transferred {
        transfer_id: transfer_id.clone(),
        amount: transfer.amount,
        from: Leg::of(debit),
        to: Leg::of(credit),
        duplicate: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(id: i64, telegram_id: i64, change: i64) -> OriginalRecord {
        OriginalRecord {
            id,
            telegram_id,
            source: "bot".into(),
            change,
            reason: "gift".into(),
            balance_after: 10,
            hold_id: None,
            reverses: None,
            transfer_id: Some("tr_1".into()),
        }
    }

    #[test]
    fn a_transfer_replays_only_the_same_transfer() {
        let transfer = Transfer {
            from: 1,
            to: 2,
            amount: 5,
            reason: "gift".into(),
            reference: Some("g1".into()),
        };
        let (debit, credit) = (leg(8, 1, -5), leg(9, 2, 5));
        let again = replay(&transfer, &debit, Some(&credit)).unwrap();
        assert!(again.duplicate);
        assert_eq!((again.from.record_id, again.to.record_id), (8, 9));
        let other = Transfer {
            to: 3,
            amount: 6,
            ..transfer.clone()
        };
        let err = replay(&other, &debit, Some(&credit)).unwrap_err();
        assert_eq!(err.fields, ["to_telegram_id", "amount"]);
        let mut plain = leg(8, 1, -5);
        plain.transfer_id = None;
        assert_eq!(
            replay(&transfer, &plain, None).unwrap_err().fields,
            ["operation"]
        );
    }
}
