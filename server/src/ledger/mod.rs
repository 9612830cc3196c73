//! The ledger's promises in one place: a balance changes only together with its record,
//! a reference applies once per source forever, and no balance ever goes below zero.

mod reads;
mod verify;

pub use reads::{decode_cursor, encode_cursor};

use crate::store::Store;
use credit_sync::protocol::Code;
use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;
use std::future::Future;

/// One requested change of a user's balance (already validated).
#[derive(Debug, Clone)]
pub struct Change {
    pub telegram_id: i64,
    pub amount: i64,
    pub reason: String,
    pub reference: Option<String>,
}

/// Who asks for a change, and whether unknown users may be registered on their behalf.
#[derive(Debug, Clone)]
pub struct Actor {
    pub source: String,
    pub auto_register: bool,
}

/// A change that is in the ledger (now, or already before: `duplicate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub record_id: i64,
    pub telegram_id: i64,
    pub change: i64,
    pub balance: i64,
    pub duplicate: bool,
}

/// A change the ledger refused; nothing was written for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: Code,
    pub message: String,
    /// The current balance, when it explains the refusal.
    pub balance: Option<i64>,
    /// For `reference_conflict`: the fields that differ from the original.
    pub fields: Vec<String>,
}

impl Refusal {
    fn new(code: Code, message: impl Into<String>) -> Self {
        Refusal {
            code,
            message: message.into(),
            balance: None,
            fields: Vec::new(),
        }
    }

    pub fn aborted() -> Self {
        Refusal::new(
            Code::BatchAborted,
            "not applied: another item of the atomic batch failed",
        )
    }
}

pub type Outcome = Result<Applied, Refusal>;

/// A registered (or updated) user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub telegram_id: i64,
    pub credits: i64,
    pub nickname: Option<String>,
    pub created: bool,
}

#[derive(Clone)]
pub struct Ledger {
    store: Store,
}

impl Ledger {
    pub fn new(store: Store) -> Self {
        Ledger { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
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
                    let mut all: Vec<Outcome> = (0..changes.len())
                        .map(|_| Err(Refusal::aborted()))
                        .collect();
                    all[failed] = outcomes.pop().expect("the refused outcome");
                    return Ok(all);
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
}

/// Runs a write on its own task, so a client that disconnects mid-request cannot cancel it
/// halfway: the transaction commits or rolls back as a whole; only the answer is lost.
async fn detached<T: Send + 'static>(
    write: impl Future<Output = Result<T, sqlx::Error>> + Send + 'static,
) -> Result<T, sqlx::Error> {
    tokio::spawn(write)
        .await
        .map_err(|e| sqlx::Error::Protocol(format!("ledger task failed: {e}")))?
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

/// The answer to a reference seen before: the original result, or the fields that differ.
fn replay(
    change: &Change,
    record_id: i64,
    telegram_id: i64,
    amount: i64,
    reason: &str,
    balance_after: i64,
) -> Outcome {
    use credit_sync::protocol::fields;
    let mut differ = Vec::new();
    if telegram_id != change.telegram_id {
        differ.push(fields::TELEGRAM_ID.to_string());
    }
    if amount != change.amount {
        differ.push(fields::AMOUNT.to_string());
    }
    if reason != change.reason {
        differ.push(fields::REASON.to_string());
    }
    if !differ.is_empty() {
        return Err(Refusal {
            message: format!(
                "external_reference was already used with a different {}",
                differ.join(", ")
            ),
            fields: differ,
            ..Refusal::new(Code::ReferenceConflict, "")
        });
    }
    Ok(Applied {
        record_id,
        telegram_id,
        change: amount,
        balance: balance_after,
        duplicate: true,
    })
}

/// A fingerprint of what was asked, kept with the record for audits.
fn request_hash(source: &str, change: &Change) -> String {
    let text = format!(
        "{source}\n{}\n{}\n{}\n{}",
        change.telegram_id,
        change.amount,
        change.reason,
        change.reference.as_deref().unwrap_or("")
    );
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-25T11:20:49.123Z`.
pub fn now_rfc3339() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::now_utc()
        .format(&format)
        .expect("a UTC time always formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_names_the_differing_fields() {
        let change = Change {
            telegram_id: 1,
            amount: 5,
            reason: "a".into(),
            reference: Some("x".into()),
        };
        assert!(replay(&change, 9, 1, 5, "a", 5).unwrap().duplicate);
        let err = replay(&change, 9, 2, 6, "a", 5).unwrap_err();
        assert_eq!(err.code, Code::ReferenceConflict);
        assert_eq!(err.fields, ["telegram_id", "amount"]);
    }
}
