//! The webhook state on SQLite. Writes are jobs of the ledger's group-commit writer (the
//! one connection that writes, so SQLite never answers BUSY between our own writers, and
//! a progress write shares a group's fsync); reads use the read pool. One server process
//! serves a SQLite file, so a claim always succeeds: the lease only matters on PostgreSQL.

use super::{error_parts, Count, EndpointRow, Failure, State};
use crate::ledger::sqlite_raw::{Db, Value};
use crate::ledger::{
    sqlite_error, LedgerError, SqliteJob as Job, SqliteLedger, SqliteStep as Step,
};
use sqlx::SqlitePool;

/// A webhook write's answer; the writer keeps what it wrote unless it changed nothing.
fn step<T>(output: T) -> Result<Step<T>, sqlx::Error> {
    Ok(Step { output, keep: true })
}

struct Register {
    url: String,
    now_ms: i64,
}

impl Job for Register {
    type Output = ();

    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<()>, sqlx::Error> {
        db.execute(
            "INSERT INTO webhook_endpoints (url, cursor, created_at_ms)
             VALUES (?1, COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0), ?2)
             ON CONFLICT (url) DO NOTHING",
            &[Value::Text(&self.url), Value::Int(self.now_ms)],
        )?;
        step(())
    }
}

pub(super) async fn register(
    ledger: &SqliteLedger,
    url: &str,
    now_ms: i64,
) -> Result<(), LedgerError> {
    let url = url.to_string();
    ledger.write(Register { url, now_ms }).await
}

struct Claim {
    url: String,
    me: String,
    until_ms: i64,
}

impl Job for Claim {
    type Output = Option<State>;

    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<Option<State>>, sqlx::Error> {
        let state = db.query(
            "UPDATE webhook_endpoints SET claimed_by = ?2, claimed_until_ms = ?3,
                 cursor = CASE WHEN replay_from IS NULL THEN cursor ELSE MAX(replay_from - 1, 0) END,
                 attempts = CASE WHEN replay_from IS NULL THEN attempts ELSE 0 END,
                 first_failed_at_ms = CASE WHEN replay_from IS NULL THEN first_failed_at_ms END,
                 next_attempt_at_ms = CASE WHEN replay_from IS NULL THEN next_attempt_at_ms ELSE 0 END,
                 replay_from = NULL
             WHERE url = ?1
             RETURNING cursor, attempts, first_failed_at_ms, next_attempt_at_ms",
            &[
                Value::Text(&self.url),
                Value::Text(&self.me),
                Value::Int(self.until_ms),
            ],
            |row| State {
                cursor: row.int(0),
                attempts: row.int(1),
                first_failed_at_ms: row.opt_int(2),
                next_attempt_at_ms: row.int(3),
            },
        )?;
        step(state)
    }
}

pub(super) async fn claim(
    ledger: &SqliteLedger,
    url: &str,
    me: &str,
    until_ms: i64,
) -> Result<Option<State>, LedgerError> {
    let (url, me) = (url.to_string(), me.to_string());
    ledger.write(Claim { url, me, until_ms }).await
}

struct Save {
    url: String,
    me: String,
    state: State,
    error: Option<(String, i64)>,
}

impl Job for Save {
    type Output = bool;

    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<bool>, sqlx::Error> {
        let (error, error_at) = error_parts(self.error.as_ref().map(|(e, at)| (e.as_str(), *at)));
        let state = &self.state;
        let done = db.execute(
            "UPDATE webhook_endpoints SET cursor = ?3, attempts = ?4, first_failed_at_ms = ?5,
                 next_attempt_at_ms = ?6, last_error = COALESCE(?7, last_error),
                 last_error_at_ms = COALESCE(?8, last_error_at_ms)
             WHERE url = ?1 AND claimed_by = ?2 AND replay_from IS NULL",
            &[
                Value::Text(&self.url),
                Value::Text(&self.me),
                Value::Int(state.cursor),
                Value::Int(state.attempts),
                Value::OptInt(state.first_failed_at_ms),
                Value::Int(state.next_attempt_at_ms),
                Value::OptText(error),
                Value::OptInt(error_at),
            ],
        )?;
        step(done == 1)
    }
}

pub(super) async fn save(
    ledger: &SqliteLedger,
    url: &str,
    me: &str,
    state: &State,
    error: Option<(&str, i64)>,
) -> Result<bool, LedgerError> {
    ledger
        .write(Save {
            url: url.to_string(),
            me: me.to_string(),
            state: state.clone(),
            error: error.map(|(e, at)| (e.to_string(), at)),
        })
        .await
}

struct GiveUp {
    url: String,
    me: String,
    failure: Failure,
}

impl Job for GiveUp {
    type Output = bool;

    /// Both statements in the job's one savepoint: the failure is kept exactly when the
    /// cursor moves past it.
    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<bool>, sqlx::Error> {
        let (url, me, failure) = (&self.url, &self.me, &self.failure);
        let moved = db.execute(
            "UPDATE webhook_endpoints SET cursor = ?3, attempts = 0, first_failed_at_ms = NULL,
                 next_attempt_at_ms = 0, last_error = ?4, last_error_at_ms = ?5
             WHERE url = ?1 AND claimed_by = ?2 AND replay_from IS NULL",
            &[
                Value::Text(url),
                Value::Text(me),
                Value::Int(failure.seq),
                Value::Text(&failure.last_error),
                Value::Int(failure.failed_at_ms),
            ],
        )?;
        if moved != 1 {
            return step(false);
        }
        db.execute(
            "INSERT INTO webhook_failures
                 (url, seq, event_id, type, attempts, last_error, first_failed_at_ms, failed_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            &[
                Value::Text(url),
                Value::Int(failure.seq),
                Value::Text(&failure.event_id),
                Value::Text(&failure.kind),
                Value::Int(failure.attempts),
                Value::Text(&failure.last_error),
                Value::Int(failure.first_failed_at_ms),
                Value::Int(failure.failed_at_ms),
            ],
        )?;
        step(true)
    }
}

pub(super) async fn give_up(
    ledger: &SqliteLedger,
    url: &str,
    me: &str,
    failure: &Failure,
) -> Result<bool, LedgerError> {
    ledger
        .write(GiveUp {
            url: url.to_string(),
            me: me.to_string(),
            failure: failure.clone(),
        })
        .await
}

struct Release {
    url: String,
    me: String,
}

impl Job for Release {
    type Output = ();

    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<()>, sqlx::Error> {
        db.execute(
            "UPDATE webhook_endpoints SET claimed_by = NULL, claimed_until_ms = 0
             WHERE url = ?1 AND claimed_by = ?2",
            &[Value::Text(&self.url), Value::Text(&self.me)],
        )?;
        step(())
    }
}

pub(super) async fn release(ledger: &SqliteLedger, url: &str, me: &str) -> Result<(), LedgerError> {
    let (url, me) = (url.to_string(), me.to_string());
    ledger.write(Release { url, me }).await
}

struct Replay {
    url: String,
    from: i64,
}

impl Job for Replay {
    type Output = bool;

    fn apply(&mut self, db: &mut Db<'_>) -> Result<Step<bool>, sqlx::Error> {
        let done = db.execute(
            "UPDATE webhook_endpoints SET replay_from = ?2 WHERE url = ?1",
            &[Value::Text(&self.url), Value::Int(self.from)],
        )?;
        step(done == 1)
    }
}

pub(super) async fn replay(
    ledger: &SqliteLedger,
    url: &str,
    from: i64,
) -> Result<bool, LedgerError> {
    let url = url.to_string();
    ledger.write(Replay { url, from }).await
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
