//! The webhook state on PostgreSQL, where several server processes share the database: a
//! claim takes the endpoint's row with `FOR UPDATE SKIP LOCKED` (a process never waits for
//! another's claim) and only when nobody holds an unexpired lease on it, so one process
//! delivers an endpoint at a time and a crashed process's endpoints move on when its lease
//! runs out. Every write of progress is fenced by the claim.

use super::{error_parts, Count, EndpointRow, Failure, State};
use crate::ledger::{postgres_error, LedgerError};
use sqlx::PgPool;

pub(super) async fn register(pool: &PgPool, url: &str, now_ms: i64) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (url, cursor, created_at_ms)
         VALUES ($1, (SELECT last_seq FROM event_feed), $2)
         ON CONFLICT (url) DO NOTHING",
    )
    .bind(url)
    .bind(now_ms)
    .execute(pool)
    .await
    .map_err(postgres_error)?;
    Ok(())
}

pub(super) async fn claim(
    pool: &PgPool,
    url: &str,
    me: &str,
    now_ms: i64,
    until_ms: i64,
) -> Result<Option<State>, LedgerError> {
    sqlx::query_as(
        "UPDATE webhook_endpoints SET claimed_by = $2, claimed_until_ms = $4,
             cursor = CASE WHEN replay_from IS NULL THEN cursor ELSE GREATEST(replay_from - 1, 0) END,
             attempts = CASE WHEN replay_from IS NULL THEN attempts ELSE 0 END,
             first_failed_at_ms = CASE WHEN replay_from IS NULL THEN first_failed_at_ms END,
             next_attempt_at_ms = CASE WHEN replay_from IS NULL THEN next_attempt_at_ms ELSE 0 END,
             replay_from = NULL
         WHERE url = (
             SELECT url FROM webhook_endpoints
             WHERE url = $1 AND (claimed_by IS NULL OR claimed_by = $2 OR claimed_until_ms < $3)
             FOR UPDATE SKIP LOCKED)
         RETURNING cursor, attempts, first_failed_at_ms, next_attempt_at_ms",
    )
    .bind(url)
    .bind(me)
    .bind(now_ms)
    .bind(until_ms)
    .fetch_optional(pool)
    .await
    .map_err(postgres_error)
}

pub(super) async fn save(
    pool: &PgPool,
    url: &str,
    me: &str,
    state: &State,
    error: Option<(&str, i64)>,
) -> Result<bool, LedgerError> {
    let (error, error_at) = error_parts(error);
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET cursor = $3, attempts = $4, first_failed_at_ms = $5,
             next_attempt_at_ms = $6, last_error = COALESCE($7, last_error),
             last_error_at_ms = COALESCE($8, last_error_at_ms)
         WHERE url = $1 AND claimed_by = $2 AND replay_from IS NULL",
    )
    .bind(url)
    .bind(me)
    .bind(state.cursor)
    .bind(state.attempts)
    .bind(state.first_failed_at_ms)
    .bind(state.next_attempt_at_ms)
    .bind(error)
    .bind(error_at)
    .execute(pool)
    .await
    .map_err(postgres_error)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn give_up(
    pool: &PgPool,
    url: &str,
    me: &str,
    failure: &Failure,
) -> Result<bool, LedgerError> {
    let mut tx = pool.begin().await.map_err(postgres_error)?;
    let moved = sqlx::query(
        "UPDATE webhook_endpoints SET cursor = $3, attempts = 0, first_failed_at_ms = NULL,
             next_attempt_at_ms = 0, last_error = $4, last_error_at_ms = $5
         WHERE url = $1 AND claimed_by = $2 AND replay_from IS NULL",
    )
    .bind(url)
    .bind(me)
    .bind(failure.seq)
    .bind(&failure.last_error)
    .bind(failure.failed_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(postgres_error)?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_failures
             (url, seq, event_id, type, attempts, last_error, first_failed_at_ms, failed_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(url)
    .bind(failure.seq)
    .bind(&failure.event_id)
    .bind(&failure.kind)
    .bind(failure.attempts)
    .bind(&failure.last_error)
    .bind(failure.first_failed_at_ms)
    .bind(failure.failed_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(postgres_error)?;
    tx.commit().await.map_err(postgres_error)?;
    Ok(true)
}

pub(super) async fn release(pool: &PgPool, url: &str, me: &str) -> Result<(), LedgerError> {
    sqlx::query(
        "UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until_ms = 0
         WHERE url = $1 AND claimed_by = $2",
    )
    .bind(url)
    .bind(me)
    .execute(pool)
    .await
    .map_err(postgres_error)?;
    Ok(())
}

pub(super) async fn replay(pool: &PgPool, url: &str, from: i64) -> Result<bool, LedgerError> {
    let done = sqlx::query("UPDATE webhook_endpoints SET replay_from = $2 WHERE url = $1")
        .bind(url)
        .bind(from)
        .execute(pool)
        .await
        .map_err(postgres_error)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn endpoint(pool: &PgPool, url: &str) -> Result<Option<EndpointRow>, LedgerError> {
    sqlx::query_as(
        "SELECT url, cursor, attempts, next_attempt_at_ms, last_error, last_error_at_ms,
                replay_from, claimed_by, claimed_until_ms,
                (SELECT COUNT(*) FROM webhook_failures f WHERE f.url = e.url) AS failed
         FROM webhook_endpoints e WHERE url = $1",
    )
    .bind(url)
    .fetch_optional(pool)
    .await
    .map_err(postgres_error)
}

pub(super) async fn failures(
    pool: &PgPool,
    url: &str,
    limit: i64,
) -> Result<Vec<Failure>, LedgerError> {
    sqlx::query_as(
        "SELECT seq, event_id, type, attempts, last_error, first_failed_at_ms, failed_at_ms
         FROM webhook_failures WHERE url = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(url)
    .bind(limit)
    .fetch_all(pool)
    .await
    .map_err(postgres_error)
}

pub(super) async fn counts_after(pool: &PgPool, cursor: i64) -> Result<Vec<Count>, LedgerError> {
    sqlx::query_as(
        "SELECT type, source, COUNT(*) AS n FROM events WHERE seq > $1 GROUP BY type, source",
    )
    .bind(cursor)
    .fetch_all(pool)
    .await
    .map_err(postgres_error)
}
