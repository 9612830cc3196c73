//! The webhook state on SQLite. Writes go through the ledger's one write connection (they
//! wait between the writer's groups, never inside one, so SQLite never answers BUSY
//! between our own writers); reads use the read pool. One server process serves a SQLite
//! file, so a claim always succeeds: the lease only matters on PostgreSQL.

use super::{error_parts, Count, EndpointRow, Failure, State};
use crate::ledger::{sqlite_error, LedgerError};
use sqlx::SqlitePool;

pub(super) async fn register(
    writer: &SqlitePool,
    url: &str,
    now_ms: i64,
) -> Result<(), LedgerError> {
    sqlx::query(
        "INSERT INTO webhook_endpoints (url, cursor, created_at_ms)
         VALUES (?1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), ?2)
         ON CONFLICT (url) DO NOTHING",
    )
    .bind(url)
    .bind(now_ms)
    .execute(writer)
    .await
    .map_err(sqlite_error)?;
    Ok(())
}

pub(super) async fn claim(
    writer: &SqlitePool,
    url: &str,
    me: &str,
    until_ms: i64,
) -> Result<Option<State>, LedgerError> {
    sqlx::query_as(
        "UPDATE webhook_endpoints SET claimed_by = ?2, claimed_until_ms = ?3,
             cursor = CASE WHEN replay_from IS NULL THEN cursor ELSE MAX(replay_from - 1, 0) END,
             attempts = CASE WHEN replay_from IS NULL THEN attempts ELSE 0 END,
             first_failed_at_ms = CASE WHEN replay_from IS NULL THEN first_failed_at_ms END,
             next_attempt_at_ms = CASE WHEN replay_from IS NULL THEN next_attempt_at_ms ELSE 0 END,
             replay_from = NULL
         WHERE url = ?1
         RETURNING cursor, attempts, first_failed_at_ms, next_attempt_at_ms",
    )
    .bind(url)
    .bind(me)
    .bind(until_ms)
    .fetch_optional(writer)
    .await
    .map_err(sqlite_error)
}

pub(super) async fn save(
    writer: &SqlitePool,
    url: &str,
    me: &str,
    state: &State,
    error: Option<(&str, i64)>,
) -> Result<bool, LedgerError> {
    let (error, error_at) = error_parts(error);
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET cursor = ?3, attempts = ?4, first_failed_at_ms = ?5,
             next_attempt_at_ms = ?6, last_error = COALESCE(?7, last_error),
             last_error_at_ms = COALESCE(?8, last_error_at_ms)
         WHERE url = ?1 AND claimed_by = ?2 AND replay_from IS NULL",
    )
    .bind(url)
    .bind(me)
    .bind(state.cursor)
    .bind(state.attempts)
    .bind(state.first_failed_at_ms)
    .bind(state.next_attempt_at_ms)
    .bind(error)
    .bind(error_at)
    .execute(writer)
    .await
    .map_err(sqlite_error)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn give_up(
    writer: &SqlitePool,
    url: &str,
    me: &str,
    failure: &Failure,
) -> Result<bool, LedgerError> {
    let mut tx = writer.begin().await.map_err(sqlite_error)?;
    let moved = sqlx::query(
        "UPDATE webhook_endpoints SET cursor = ?3, attempts = 0, first_failed_at_ms = NULL,
             next_attempt_at_ms = 0, last_error = ?4, last_error_at_ms = ?5
         WHERE url = ?1 AND claimed_by = ?2 AND replay_from IS NULL",
    )
    .bind(url)
    .bind(me)
    .bind(failure.seq)
    .bind(&failure.last_error)
    .bind(failure.failed_at_ms)
    .execute(&mut *tx)
    .await
    .map_err(sqlite_error)?;
    if moved.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO webhook_failures
             (url, seq, event_id, type, attempts, last_error, first_failed_at_ms, failed_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
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
    .map_err(sqlite_error)?;
    tx.commit().await.map_err(sqlite_error)?;
    Ok(true)
}

pub(super) async fn release(writer: &SqlitePool, url: &str, me: &str) -> Result<(), LedgerError> {
    sqlx::query(
        "UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until_ms = 0
         WHERE url = ?1 AND claimed_by = ?2",
    )
    .bind(url)
    .bind(me)
    .execute(writer)
    .await
    .map_err(sqlite_error)?;
    Ok(())
}

pub(super) async fn replay(writer: &SqlitePool, url: &str, from: i64) -> Result<bool, LedgerError> {
    let done = sqlx::query("UPDATE webhook_endpoints SET replay_from = ?2 WHERE url = ?1")
        .bind(url)
        .bind(from)
        .execute(writer)
        .await
        .map_err(sqlite_error)?;
    Ok(done.rows_affected() == 1)
}

pub(super) async fn endpoint(
    reader: &SqlitePool,
    url: &str,
) -> Result<Option<EndpointRow>, LedgerError> {
    sqlx::query_as(
        "SELECT url, cursor, attempts, next_attempt_at_ms, last_error, last_error_at_ms,
                replay_from, claimed_by, claimed_until_ms,
                (SELECT COUNT(*) FROM webhook_failures f WHERE f.url = e.url) AS failed
         FROM webhook_endpoints e WHERE url = ?1",
    )
    .bind(url)
    .fetch_optional(reader)
    .await
    .map_err(sqlite_error)
}

pub(super) async fn failures(
    reader: &SqlitePool,
    url: &str,
    limit: i64,
) -> Result<Vec<Failure>, LedgerError> {
    sqlx::query_as(
        "SELECT seq, event_id, type, attempts, last_error, first_failed_at_ms, failed_at_ms
         FROM webhook_failures WHERE url = ?1 ORDER BY id DESC LIMIT ?2",
    )
    .bind(url)
    .bind(limit)
    .fetch_all(reader)
    .await
    .map_err(sqlite_error)
}

pub(super) async fn counts_after(
    reader: &SqlitePool,
    cursor: i64,
) -> Result<Vec<Count>, LedgerError> {
    sqlx::query_as(
        "SELECT type, source, COUNT(*) AS n FROM events WHERE seq > ?1 GROUP BY type, source",
    )
    .bind(cursor)
    .fetch_all(reader)
    .await
    .map_err(sqlite_error)
}
