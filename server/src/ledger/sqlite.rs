//! The SQLite backend: one writer task owns the write connection and commits queued writes
//! in groups (see [`group_commit`]: one `BEGIN IMMEDIATE` transaction and one fsync for many
//! requests, each in its own savepoint), and a pool of readers serves reads in parallel.

mod group_commit;

use super::verify::Findings;
use super::{
    aborted_batch, now_rfc3339, replay, request_hash, Actor, Applied, Change, Outcome, RecordRow,
    Refusal, User,
};
use crate::store::Store;
use credit_sync::protocol::Code;
use group_commit::{BoxFuture, GroupCommit, Job, Limits, Step};
use sqlx::SqliteConnection;

#[derive(Clone)]
pub struct SqliteLedger {
    store: Store,
    writes: GroupCommit,
}

impl SqliteLedger {
    /// Opens the database at `url`, creating it when `create` (see [`Store`]), and starts
    /// its writer task.
    pub async fn open(url: &str, create: bool) -> Result<SqliteLedger, String> {
        let store = if create {
            Store::open(url).await?
        } else {
            Store::open_existing(url).await?
        };
        let writes = GroupCommit::start(store.writer.clone(), Limits::default());
        Ok(SqliteLedger { store, writes })
    }

    pub async fn close(&self) {
        self.store.close().await;
    }

    /// A trivial read: the health check.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.store.reader).await?;
        Ok(())
    }

    /// Group-commit counters, for `/metrics`.
    #[allow(dead_code)]
    pub fn group_commit_metrics(&self, out: &mut String) {
        self.writes.stats().render(out);
    }

    /// Applies one change in its own savepoint of the writer's next group commit.
    pub async fn apply(&self, actor: Actor, change: Change) -> Result<Outcome, sqlx::Error> {
        self.writes.submit(ApplyOne { actor, change }).await
    }

    /// Applies many changes in one savepoint of a group commit, each on its own rules. With
    /// `atomic`, the first refusal rolls the batch back and every other change reports
    /// `batch_aborted`.
    pub async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
    ) -> Result<Vec<Outcome>, sqlx::Error> {
        self.writes
            .submit(ApplyBatch {
                actor,
                changes,
                atomic,
            })
            .await
    }

    /// Registers a user, or updates the nickname of a known one (when `nickname` is given).
    pub async fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
    ) -> Result<User, sqlx::Error> {
        self.writes
            .submit(Register {
                telegram_id,
                nickname: nickname.map(str::to_string),
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

/// `POST /api/credits/sync`: kept only when newly applied (a replay or refusal writes nothing).
struct ApplyOne {
    actor: Actor,
    change: Change,
}

impl Job for ApplyOne {
    type Output = Outcome;

    fn apply<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<Step<Outcome>, sqlx::Error>> {
        Box::pin(async move {
            let outcome = apply_in(conn, &self.actor, &self.change).await?;
            let keep = outcome.as_ref().is_ok_and(|a| !a.duplicate);
            Ok(Step {
                output: outcome,
                keep,
            })
        })
    }
}

/// `POST /api/credits/batch`: one savepoint for the whole batch; an item sees the items
/// before it. Atomic: the first refusal rolls the batch's savepoint back.
struct ApplyBatch {
    actor: Actor,
    changes: Vec<Change>,
    atomic: bool,
}

impl Job for ApplyBatch {
    type Output = Vec<Outcome>;

    fn weight(&self) -> usize {
        self.changes.len().max(1)
    }

    fn apply<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<Step<Vec<Outcome>>, sqlx::Error>> {
        Box::pin(async move {
            let mut outcomes = Vec::with_capacity(self.changes.len());
            for change in &self.changes {
                let outcome = apply_in(conn, &self.actor, change).await?;
                let refused = outcome.is_err();
                outcomes.push(outcome);
                if self.atomic && refused {
                    let failed = outcomes.len() - 1;
                    let refusal = outcomes.pop().expect("the refused outcome");
                    return Ok(Step {
                        output: aborted_batch(self.changes.len(), failed, refusal),
                        keep: false,
                    });
                }
            }
            Ok(Step {
                output: outcomes,
                keep: true,
            })
        })
    }
}

/// `POST /api/users` (and `users add`).
struct Register {
    telegram_id: i64,
    nickname: Option<String>,
}

impl Job for Register {
    type Output = User;

    fn apply<'c>(
        &'c mut self,
        conn: &'c mut SqliteConnection,
    ) -> BoxFuture<'c, Result<Step<User>, sqlx::Error>> {
        Box::pin(async move {
            let telegram_id = self.telegram_id;
            let nickname = self.nickname.as_deref();
            let now = now_rfc3339();
            let created = sqlx::query(
                "INSERT INTO users (telegram_id, nickname, credits, created_at, updated_at)
                 VALUES (?, ?, 0, ?, ?) ON CONFLICT (telegram_id) DO NOTHING",
            )
            .bind(telegram_id)
            .bind(nickname)
            .bind(&now)
            .bind(&now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
                == 1;
            if !created && nickname.is_some() {
                sqlx::query("UPDATE users SET nickname = ?, updated_at = ? WHERE telegram_id = ?")
                    .bind(nickname)
                    .bind(&now)
                    .bind(telegram_id)
                    .execute(&mut *conn)
                    .await?;
            }
            let (credits, nickname): (i64, Option<String>) =
                sqlx::query_as("SELECT credits, nickname FROM users WHERE telegram_id = ?")
                    .bind(telegram_id)
                    .fetch_one(&mut *conn)
                    .await?;
            Ok(Step {
                output: User {
                    telegram_id,
                    credits,
                    nickname,
                    created,
                },
                keep: true,
            })
        })
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
