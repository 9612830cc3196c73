//! The ledger's self-check (`credit-sync-server verify`): balances against records, holds
//! against what they count and capture, reversals against their originals, transfers
//! against their two legs.

use super::rows::Counts;
use super::{Ledger, LedgerBackend, LedgerError};

impl Ledger {
    /// Checks the ledger's invariants; returns one line per violation (empty when sound).
    pub async fn verify(&self) -> Result<Vec<String>, LedgerError> {
        let findings = self.backend.verify().await?;
        let mut problems = Vec::new();
        for sum in findings.sums {
            problems.push(format!(
                "user {}: balance {} but its records sum to {}",
                sum.telegram_id, sum.credits, sum.sum
            ));
        }
        for link in findings.chain {
            problems.push(format!(
                "record {} (user {}): balance_after {} but the running sum is {}",
                link.id, link.telegram_id, link.balance_after, link.running
            ));
        }
        for orphan in findings.orphans {
            problems.push(format!("record {} belongs to no user", orphan.id));
        }
        for held in findings.held {
            problems.push(format!(
                "user {}: held {} but its open holds sum to {}",
                held.telegram_id, held.held, held.sum
            ));
        }
        for capture in findings.captures {
            problems.push(format!(
                "hold {}: captured {} of {} but its record's change is {:?}",
                capture.hold_id, capture.captured, capture.amount, capture.record_change
            ));
        }
        for over in findings.reversals {
            problems.push(format!(
                "record {}: change {} but its reversals sum to {}",
                over.id, over.change, over.reversed
            ));
        }
        for transfer in findings.transfers {
            problems.push(format!(
                "transfer {}: {} legs summing to {} (must be 2 summing to 0)",
                transfer.transfer_id, transfer.legs, transfer.sum
            ));
        }
        Ok(problems)
    }

    /// Counts for `verify`'s summary.
    pub async fn counts(&self) -> Result<Counts, LedgerError> {
        self.backend.counts().await
    }
}
