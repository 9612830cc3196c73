//! One user's ledger read back from the server, and the promises it must keep:
//! the balance is the sum of the records, every `balance_after` follows from the
//! one before, none is negative, and no reference appears twice.

use credit_sync::protocol::Record;
use credit_sync_testkit::Wire;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct Ledger {
    pub telegram_id: i64,
    /// `None` when the user is not registered.
    pub balance: Option<i64>,
    /// Oldest first.
    pub records: Vec<Record>,
}

impl Ledger {
    pub async fn read(wire: &Wire, telegram_id: i64) -> Ledger {
        // Records first, then the balance: with no writer running both are final.
        let mut records = wire.records(telegram_id).await;
        records.reverse();
        let balance = wire.balance(telegram_id).await;
        Ledger {
            telegram_id,
            balance,
            records,
        }
    }

    pub fn sum(&self) -> i64 {
        self.records.iter().map(|r| r.change).sum()
    }

    /// How many records carry each reference.
    pub fn references(&self) -> HashMap<&str, usize> {
        let mut out = HashMap::new();
        for r in &self.records {
            if let Some(reference) = r.external_reference.as_deref() {
                *out.entry(reference).or_insert(0) += 1;
            }
        }
        out
    }

    /// Panics with a precise message when a promise is broken.
    pub fn assert_consistent(&self) {
        let id = self.telegram_id;
        let mut running = 0i64;
        for (i, r) in self.records.iter().enumerate() {
            running = running
                .checked_add(r.change)
                .unwrap_or_else(|| panic!("user {id}: records overflow i64 at #{i}"));
            assert_eq!(
                r.balance_after, running,
                "user {id}: record #{i} (id {}) has balance_after {} but the changes sum to {running}",
                r.id, r.balance_after
            );
            assert!(
                r.balance_after >= 0,
                "user {id}: record #{i} (id {}) has a negative balance_after {}",
                r.id,
                r.balance_after
            );
        }
        if !self.records.is_empty() || self.balance.is_some() {
            assert_eq!(
                self.balance,
                Some(running),
                "user {id}: balance differs from the sum of its {} records",
                self.records.len()
            );
        }
        for (reference, n) in self.references() {
            assert_eq!(
                n, 1,
                "user {id}: reference {reference} was applied {n} times"
            );
        }
        let mut ids: Vec<i64> = self.records.iter().map(|r| r.id).collect();
        ids.dedup();
        assert_eq!(
            ids.len(),
            self.records.len(),
            "user {id}: a record was listed twice"
        );
    }
}
