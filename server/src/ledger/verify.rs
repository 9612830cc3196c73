//! The ledger's self-check (`credit-sync-server verify`): balances against records.

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
        Ok(problems)
    }

    /// Counts for `verify`'s summary.
    pub async fn counts(&self) -> Result<Counts, LedgerError> {
        self.backend.counts().await
    }
}
