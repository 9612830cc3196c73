//! The ledger's self-check (`credit-sync-server verify`): balances against records.

use super::Ledger;

impl Ledger {
    /// Checks the ledger's invariants; returns one line per violation (empty when sound).
    pub async fn verify(&self) -> Result<Vec<String>, sqlx::Error> {
        let mut problems = Vec::new();
        let sums: Vec<(i64, i64, i64)> = sqlx::query_as(
            "SELECT u.telegram_id, u.credits, COALESCE(SUM(r.change), 0)
             FROM users u LEFT JOIN records r ON r.telegram_id = u.telegram_id
             GROUP BY u.telegram_id
             HAVING u.credits <> COALESCE(SUM(r.change), 0) OR u.credits < 0",
        )
        .fetch_all(&self.store.reader)
        .await?;
        for (telegram_id, credits, sum) in sums {
            problems.push(format!(
                "user {telegram_id}: balance {credits} but its records sum to {sum}"
            ));
        }
        let chain: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT id, telegram_id, balance_after, running FROM (
                 SELECT id, telegram_id, balance_after,
                        SUM(change) OVER (PARTITION BY telegram_id ORDER BY id) AS running
                 FROM records)
             WHERE balance_after <> running OR balance_after < 0",
        )
        .fetch_all(&self.store.reader)
        .await?;
        for (id, telegram_id, balance_after, running) in chain {
            problems.push(format!(
                "record {id} (user {telegram_id}): balance_after {balance_after} but the running sum is {running}"
            ));
        }
        let orphans: Vec<(i64,)> = sqlx::query_as(
            "SELECT r.id FROM records r LEFT JOIN users u ON u.telegram_id = r.telegram_id
             WHERE u.telegram_id IS NULL",
        )
        .fetch_all(&self.store.reader)
        .await?;
        for (id,) in orphans {
            problems.push(format!("record {id} belongs to no user"));
        }
        Ok(problems)
    }

    /// Counts for `verify`'s summary: (users, records).
    pub async fn counts(&self) -> Result<(i64, i64), sqlx::Error> {
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM records)")
            .fetch_one(&self.store.reader)
            .await
    }
}
