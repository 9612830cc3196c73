//! The SQLite backend: one writer connection (writes queue, never `SQLITE_BUSY`), a pool of
//! readers, and each change checked and applied inside a `BEGIN IMMEDIATE` transaction.

use super::verify::Findings;
use super::{
    aborted_batch, detached, now_rfc3339, replay, request_hash, Actor, Applied, Change, Outcome,
    RecordRow, Refusal, User,
};
use crate::store::Store;
use credit_sync::protocol::Code;
use sqlx::SqliteConnection;

#[derive(Clone)]
pub struct SqliteLedger {
    store: Store,
}

impl SqliteLedger {
    /// Opens the database at `url`, creating it when `create` (see [`Store`]).
    pub async fn open(url: &str, create: bool) -> Result<SqliteLedger, String> {
        let store = if create {
            Store::open(url).await?
        } else {
            Store::open_existing(url).await?
        };
        Ok(SqliteLedger { store })
    }

    pub async fn close(&self) {
        self.store.close().await;
    }

    /// A trivial read: the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.store.reader).await?;
        Ok(())
    }

    /// Applies one change in its own `BEGIN IMMEDIATE` transaction.
    pub async fn apply(&self, actor: Actor, change: Change) -> Result<Outcome, sqlx::Error> {
        let writer = self.store.writer.clone();
        detached(async move {
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
            let outcome = apply_in(&mut tx, &actor, &change).await?;
            if outcome.as_ref().is_ok_and(|a| !a.duplicate) {
                tx.commit().await?;
            } else {
                tx.rollback().await?;
            }
            Ok(outcome)
        })
        .await
    }

    /// Applies many changes in one transaction, each on its own rules. With `atomic`, the
    /// first refusal rolls everything back and every other change reports `batch_aborted`.
    pub async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
    ) -> Result<Vec<Outcome>, sqlx::Error> {
        let writer = self.store.writer.clone();
        detached(async move {
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
            let mut outcomes = Vec::with_capacity(changes.len());
            for change in &changes {
                let outcome = apply_in(&mut tx, &actor, change).await?;
                let refused = outcome.is_err();
                outcomes.push(outcome);
                if atomic && refused {
                    tx.rollback().await?;
                    let failed = outcomes.len() - 1;
                    let refusal = outcomes.pop().expect("the refused outcome");
                    return Ok(aborted_batch(changes.len(), failed, refusal));
                }
            }
            tx.commit().await?;
            Ok(outcomes)
        })
        .await
    }

    /// Registers a user, or updates the nickname of a known one (when `nickname` is given).
    pub async fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
    ) -> Result<User, sqlx::Error> {
        let writer = self.store.writer.clone();
        let nickname = nickname.map(str::to_string);
        detached(async move {
            let nickname = nickname.as_deref();
            let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
            let now = now_rfc3339();
            let created = sqlx::query(
                "INSERT INTO users (telegram_id, nickname, credits, created_at, updated_at)
                 VALUES (?, ?, 0, ?, ?) ON CONFLICT (telegram_id) DO NOTHING",
            )
            .bind(telegram_id)
            .bind(nickname)
            .bind(&now)
            .bind(&now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !created && nickname.is_some() {
                sqlx::query("UPDATE users SET nickname = ?, updated_at = ? WHERE telegram_id = ?")
                    .bind(nickname)
                    .bind(&now)
                    .bind(telegram_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let (credits, nickname): (i64, Option<String>) =
                sqlx::query_as("SELECT credits, nickname FROM users WHERE telegram_id = ?")
                    .bind(telegram_id)
                    .fetch_one(&mut *tx)
                    .await?;
            tx.commit().await?;
            Ok(User {
                telegram_id,
                credits,
                nickname,
                created,
            })
        })
        .await
    }

    pub async fn balance(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(i64, Option<String>)>, sqlx::Error> {
        sqlx::query_as("SELECT credits, nickname FROM users WHERE telegram_id = ?")
            .bind(telegram_id)
            .fetch_optional(&self.store.reader)
            .await
    }

    /// Up to `limit` records of a user, newest first, with ids below `before`.
    pub async fn records(
        &self,
        telegram_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>, sqlx::Error> {
        sqlx::query_as(
            "SELECT id, change, balance_after, reason, source, external_reference, created_at
             FROM records WHERE telegram_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(telegram_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.store.reader)
        .await
    }

    pub async fn verify(&self) -> Result<Findings, sqlx::Error> {
        let sums = sqlx::query_as(
            "SELECT u.telegram_id, u.credits, COALESCE(SUM(r.change), 0)
             FROM users u LEFT JOIN records r ON r.telegram_id = u.telegram_id
             GROUP BY u.telegram_id
             HAVING u.credits <> COALESCE(SUM(r.change), 0) OR u.credits < 0",
        )
        .fetch_all(&self.store.reader)
        .await?;
        let chain = sqlx::query_as(
            "SELECT id, telegram_id, balance_after, running FROM (
                 SELECT id, telegram_id, balance_after,
                        SUM(change) OVER (PARTITION BY telegram_id ORDER BY id) AS running
                 FROM records)
             WHERE balance_after <> running OR balance_after < 0",
        )
        .fetch_all(&self.store.reader)
        .await?;
        let orphans = sqlx::query_as(
            "SELECT r.id FROM records r LEFT JOIN users u ON u.telegram_id = r.telegram_id
             WHERE u.telegram_id IS NULL",
        )
        .fetch_all(&self.store.reader)
        .await?;
        Ok(Findings {
            sums,
            chain,
            orphans,
        })
    }

    pub async fn counts(&self) -> Result<(i64, i64), sqlx::Error> {
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM records)")
            .fetch_one(&self.store.reader)
            .await
    }
}

/// The rules of one change, inside the caller's write transaction. Writes only when it
/// returns `Ok(Ok(applied))` with `duplicate == false`.
async fn apply_in(
    conn: &mut SqliteConnection,
    actor: &Actor,
    change: &Change,
) -> Result<Outcome, sqlx::Error> {
    // The replay check comes first, so a replayed deduct succeeds whatever the balance is now.
    if let Some(reference) = &change.reference {
        let original: Option<(i64, i64, i64, String, i64)> = sqlx::query_as(
            "SELECT id, telegram_id, change, reason, balance_after
             FROM records WHERE source = ? AND external_reference = ?",
        )
        .bind(&actor.source)
        .bind(reference)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some((record_id, telegram_id, amount, reason, balance_after)) = original {
            return Ok(replay(
                change,
                record_id,
                telegram_id,
                amount,
                &reason,
                balance_after,
            ));
        }
    }

    let credits: Option<(i64,)> = sqlx::query_as("SELECT credits FROM users WHERE telegram_id = ?")
        .bind(change.telegram_id)
        .fetch_optional(&mut *conn)
        .await?;
    let now = now_rfc3339();
    let credits = match credits {
        Some((credits,)) => credits,
        None if change.amount > 0 && actor.auto_register => {
            sqlx::query(
                "INSERT INTO users (telegram_id, nickname, credits, created_at, updated_at)
                 VALUES (?, NULL, 0, ?, ?)",
            )
            .bind(change.telegram_id)
            .bind(&now)
            .bind(&now)
            .execute(&mut *conn)
            .await?;
            0
        }
        None => {
            return Ok(Err(Refusal::new(
                Code::UserNotFound,
                format!("user {} is not registered", change.telegram_id),
            )))
        }
    };

    let Some(balance) = credits.checked_add(change.amount) else {
        return Ok(Err(Refusal {
            balance: Some(credits),
            ..Refusal::new(
                Code::BalanceOverflow,
                format!(
                    "adding {} to the balance {credits} would overflow",
                    change.amount
                ),
            )
        }));
    };
    if balance < 0 {
        return Ok(Err(Refusal {
            balance: Some(credits),
            ..Refusal::new(
                Code::InsufficientCredits,
                format!(
                    "insufficient credits: balance {credits}, deduct {}",
                    change.amount.unsigned_abs()
                ),
            )
        }));
    }

    sqlx::query("UPDATE users SET credits = ?, updated_at = ? WHERE telegram_id = ?")
        .bind(balance)
        .bind(&now)
        .bind(change.telegram_id)
        .execute(&mut *conn)
        .await?;
    let (record_id,): (i64,) = sqlx::query_as(
        "INSERT INTO records
             (telegram_id, source, change, balance_after, reason, external_reference, request_hash, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(change.telegram_id)
    .bind(&actor.source)
    .bind(change.amount)
    .bind(balance)
    .bind(&change.reason)
    .bind(&change.reference)
    .bind(request_hash(&actor.source, change))
    .bind(&now)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Ok(Applied {
        record_id,
        telegram_id: change.telegram_id,
        change: change.amount,
        balance,
        duplicate: false,
    }))
}
