//! The ledger's self-check (`credit-sync-server verify`): balances against records.

use super::{dispatch, Backend, Ledger};

/// What a backend's invariant queries found (empty when the ledger is sound).
pub struct Findings {
    /// Users whose balance differs from the sum of their records: (user, credits, sum).
    pub sums: Vec<(i64, i64, i64)>,
    /// Records whose `balance_after` breaks the running sum: (id, user, balance_after, running).
    pub chain: Vec<(i64, i64, i64, i64)>,
    /// Records of no user: (id,).
    pub orphans: Vec<(i64,)>,
}

impl Ledger {
    /// Checks the ledger's invariants; returns one line per violation (empty when sound).
    pub async fn verify(&self) -> Result<Vec<String>, sqlx::Error> {
        let findings = dispatch!(self, db => db.verify().await)?;
        let mut problems = Vec::new();
        for (telegram_id, credits, sum) in findings.sums {
            problems.push(format!(
                "user {telegram_id}: balance {credits} but its records sum to {sum}"
            ));
        }
        for (id, telegram_id, balance_after, running) in findings.chain {
            problems.push(format!(
                "record {id} (user {telegram_id}): balance_after {balance_after} but the running sum is {running}"
            ));
        }
        for (id,) in findings.orphans {
            problems.push(format!("record {id} belongs to no user"));
        }
        Ok(problems)
    }

    /// Counts for `verify`'s summary: (users, records).
    pub async fn counts(&self) -> Result<(i64, i64), sqlx::Error> {
        dispatch!(self, db => db.counts().await)
    }
}
