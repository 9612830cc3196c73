//! The PostgreSQL backend, for several stateless server processes sharing one database.
//!
//! Every promise rests on the database, never on this process: a deduct is one
//! `UPDATE ... WHERE credits - held >= $n RETURNING credits` (backed by
//! `CHECK (credits >= 0)`; `held` counts expired holds too until a write settles them, so
//! this only ever refuses too much, and the full path then judges on the live holds under
//! the user's row lock), in the common case together with the record's INSERT and the
//! signature's spending in one statement; a signature is spent once because of the
//! primary key of `spent_signatures`; and a reference applies once because
//! `UNIQUE (source, external_reference)` (a unique violation, or `ON CONFLICT ... DO
//! NOTHING` in the full path) waits for any other transaction holding that reference and
//! then either inserts or finds it taken: the loser rolls its change back and answers
//! with the replay of the winner's record. Transactions run at READ COMMITTED;
//! serialization failures and deadlocks (40001, 40P01) are retried here and never reach a
//! client. The money flows (holds, reversals, transfers) are in `postgres/flows.rs`: each
//! locks its users' rows first and judges only what it reads after the lock.

use super::rows::{
    BalanceRow, BrokenTransfer, CaptureMismatch, ChainBreak, Counts, Findings, HeldMismatch,
    HoldRow, OriginalRecord, Orphan, OverReversed, RecordRow, SumMismatch,
};
use super::url::redact;
use super::{
    aborted_batch, detached, now_ms, replay, request_hash, reused, Actor, Applied, Change,
    HoldOutcome, LedgerBackend, LedgerError, NewHold, Outcome, Refusal, Resolve, Reversal,
    ReverseOutcome, Spend, Transfer, TransferOutcome, User,
};
use crate::console::store::{
    AuditEntry, AuditRow, DayVolume, NewSession, SessionRow, Totals, UserRow,
};
use crate::events::{Events, Notifier};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::borrow::Cow;
use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

mod flows;

/// Connections per server process (several processes may share the database).
const MAX_CONNECTIONS: u32 = 16;
/// Long enough for a queue of thousands of writes on one hot user.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(60);
/// The health check's bound.
const PING_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of one transaction that keeps hitting serialization failures or deadlocks.
const MAX_ATTEMPTS: u32 = 50;

#[derive(Clone)]
pub struct PgLedger {
    pool: PgPool,
    events: Events,
}

/// A write prunes expired signatures once per this many spends (per process).
const PRUNE_EVERY: u64 = 64;
/// The most expired signatures one prune deletes.
const PRUNE_LIMIT: i64 = 256;

/// How one change went inside a transaction.
enum Attempt {
    /// Decided; something was written only for `Ok(applied)` with `duplicate == false`.
    Done(Outcome),
    /// Another transaction committed the same reference first: this change's writes must
    /// be rolled back, and the answer is the replay of that record.
    Raced,
}

/// The record [`apply_at_once`] wrote.
#[derive(sqlx::FromRow)]
struct NewRecord {
    id: i64,
    balance_after: i64,
}

/// A statement that commits lost its connection before the answer came: carried inside
/// `sqlx::Error::Database` through the retry loop (its `code` is `None`, so it is never
/// taken for a retryable serialization failure, and a possibly committed write never runs
/// again) and turned into [`LedgerError::OutcomeUnknown`] at the trait's edge.
#[derive(Debug)]
struct LostAtCommit {
    cause: String,
}

impl std::fmt::Display for LostAtCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "outcome unknown: {}", self.cause)
    }
}

impl std::error::Error for LostAtCommit {}

impl sqlx::error::DatabaseError for LostAtCommit {
    fn message(&self) -> &str {
        &self.cause
    }

    /// No SQLSTATE: the server never answered.
    fn code(&self) -> Option<Cow<'_, str>> {
        None
    }

    fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
        self
    }

    fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
        self
    }

    fn kind(&self) -> sqlx::error::ErrorKind {
        sqlx::error::ErrorKind::Other
    }
}

/// The `application_name` of this process's PostgreSQL sessions: `pg_stat_activity` tells
/// which instance holds which session (and after a crash, which sessions were the dead one's).
pub fn application_name(pid: u32) -> String {
    format!("credit-sync-server/{pid}")
}

/// For the error of a statement that commits: a lost connection (no answer from the
/// database) means the outcome is unknown; an answer, even an error, says what happened
/// and stays as it is.
fn unknown_if_lost(err: sqlx::Error) -> sqlx::Error {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => sqlx::Error::Database(Box::new(LostAtCommit {
            cause: err.to_string(),
        })),
        err => err,
    }
}

/// Sorts a failure of this backend into the ledger's kinds: a commit whose answer was
/// lost; a pool with no free connection in time (busy); a connection that broke before
/// any commit, or a database short of resources (SQLSTATE class `53`: disk, memory,
/// connections; `57P03`: starting up; class `08`: connection failures), which applied
/// nothing and may work in a moment (unavailable); conflicts by SQLSTATE class (`23`
/// integrity constraints, `40` serialization failures and deadlocks that outlasted
/// [`MAX_ATTEMPTS`]); anything else internal.
pub(crate) fn ledger_error(err: sqlx::Error) -> LedgerError {
    let cause = err.to_string();
    match err {
        sqlx::Error::PoolTimedOut => return LedgerError::Busy { cause },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => return LedgerError::Unavailable { cause },
        _ => {}
    }
    let Some(db) = err.as_database_error() else {
        return LedgerError::Internal { cause };
    };
    if db.try_downcast_ref::<LostAtCommit>().is_some() {
        return LedgerError::OutcomeUnknown {
            cause,
            storage_failed: false,
        };
    }
    match db.code() {
        Some(code) if code.starts_with("23") || code.starts_with("40") => {
            LedgerError::Conflict { cause }
        }
        Some(code) if code.starts_with("53") || code.starts_with("08") || code == "57P03" => {
            LedgerError::Unavailable { cause }
        }
        _ => LedgerError::Internal { cause },
    }
}

impl PgLedger {
    /// Connects and applies the migrations. With `create == false` (admin commands), a
    /// database without the ledger's tables is refused rather than set up.
    pub async fn open(url: &str, create: bool) -> Result<PgLedger, String> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| format!("invalid database url {:?}", redact(url)))?
            // No NOTICEs ("relation ... already exists, skipping") in the server's log.
            .options([("client_min_messages", "warning")])
            // Which process holds a connection, in `pg_stat_activity`: after a crash, its
            // sessions can be told apart from the others' (and waited for, or ended).
            .application_name(&application_name(std::process::id()));
        // One direct connection first: an unreachable database fails at once, rather than
        // after the pool's acquire timeout.
        let probe = options
            .connect()
            .await
            .map_err(|e| format!("cannot open database {}: {e}", redact(url)))?;
        let _ = probe.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options.clone());
        if !create {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass('records') IS NOT NULL")
                .fetch_one(&pool)
                .await
                .map_err(|e| format!("cannot read database {}: {e}", redact(url)))?;
            if !exists {
                pool.close().await;
                return Err(format!(
                    "database {} holds no credit-sync ledger",
                    redact(url)
                ));
            }
        }
        // sqlx holds an advisory lock while migrating: processes starting together are safe.
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| format!("cannot migrate database: {e}"))?;
        let events = Events::postgres(pool.clone(), Notifier::new());
        if create {
            // A server (not an admin command): it serves the feed and may number it.
            crate::events::start_postgres(
                options,
                pool.clone(),
                events.notifier().clone(),
                events.retention().clone(),
            );
        }
        Ok(PgLedger { pool, events })
    }

    /// The event feed of this database.
    pub(crate) fn events(&self) -> &Events {
        &self.events
    }

    /// The pool, for the webhook worker's state.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

impl LedgerBackend for PgLedger {
    async fn close(&self) {
        self.pool.close().await;
    }

    /// A trivial query, answered within [`PING_TIMEOUT`] (a load balancer's health check
    /// must not hang while the database is unreachable).
    async fn ping(&self) -> Result<(), LedgerError> {
        tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(&self.pool))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)
            .and_then(|done| done)
            .map_err(ledger_error)?;
        Ok(())
    }

    /// No metrics of its own: PostgreSQL has its own monitoring.
    fn render_metrics(&self, _out: &mut String) {}

    /// The common case in one autocommitted statement that also spends the signature
    /// ([`apply_at_once`]). Anything else (a refusal, a replay, a spent signature, a race)
    /// in one transaction: the signature is spent first (a twin spending it concurrently,
    /// in this process or another, waits on its key and then finds it taken), then the
    /// change runs in a savepoint, so a refusal keeps only the spent signature.
    async fn apply(
        &self,
        actor: Actor,
        change: Change,
        spend: Spend,
    ) -> Result<Outcome, LedgerError> {
        let pool = self.pool.clone();
        detached(async move {
            let (pool, actor, change, signed) = (&pool, &actor, &change, &spend);
            let at_once = retrying(move || async move {
                let mut conn = pool.acquire().await?;
                match apply_at_once(&mut conn, actor, change, Some(signed)).await {
                    Ok(applied) => Ok(applied),
                    // A spent signature, or a reference a twin committed first: the
                    // statement wrote nothing, and the transaction below tells which.
                    Err(e) if is_unique_violation(&e) => Ok(None),
                    // It commits: a lost answer leaves the outcome unknown.
                    Err(e) => Err(unknown_if_lost(e)),
                }
            })
            .await?;
            if let Some(applied) = at_once {
                prune(pool, signed).await;
                return Ok(Ok(applied));
            }
            let outcome = retrying(move || async move {
                let mut tx = pool.begin().await?;
                if !spend_in(&mut tx, signed).await? {
                    let outcome = reused(find_original(&mut tx, actor, change).await?);
                    tx.rollback().await?;
                    return Ok(outcome);
                }
                let mut item = (*tx).begin().await?;
                // The common case was just tried: straight to the full rules.
                let outcome = match apply_in(&mut item, actor, change, false).await? {
                    Attempt::Done(outcome) => {
                        if outcome.is_ok() {
                            item.commit().await?;
                        } else {
                            item.rollback().await?;
                        }
                        outcome
                    }
                    Attempt::Raced => {
                        item.rollback().await?;
                        replay_after_race(&mut tx, actor, change).await?
                    }
                };
                if outcome.as_ref().is_ok_and(|a| a.duplicate) {
                    // The same referenced change again: nothing to keep.
                    tx.rollback().await?;
                } else {
                    tx.commit().await.map_err(unknown_if_lost)?;
                }
                Ok(outcome)
            })
            .await?;
            prune(pool, signed).await;
            Ok(outcome)
        })
        .await
        .map_err(ledger_error)
    }

    /// One transaction; the signatures are spent first, then the changes run in one
    /// savepoint (an aborted atomic batch rolls it back and keeps the spent signatures),
    /// each change with a reference inside its own nested SAVEPOINT, so a change that loses
    /// a race on its reference rolls back alone.
    async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
        spend: Spend,
    ) -> Result<Result<Vec<Outcome>, Refusal>, LedgerError> {
        let pool = self.pool.clone();
        detached(async move {
            let (pool, actor, changes, signed) = (&pool, &actor, &changes, &spend);
            let outcomes = retrying(move || async move {
                let mut tx = pool.begin().await?;
                if !spend_in(&mut tx, signed).await? {
                    let mut outcomes = Vec::with_capacity(changes.len());
                    for change in changes {
                        match reused(find_original(&mut tx, actor, change).await?) {
                            Ok(applied) => outcomes.push(Ok(applied)),
                            Err(refusal) => {
                                tx.rollback().await?;
                                return Ok(Err(refusal));
                            }
                        }
                    }
                    tx.rollback().await?;
                    return Ok(Ok(outcomes));
                }
                let mut batch = (*tx).begin().await?;
                // Lock the batch's users in one order, so two batches never deadlock.
                let mut users: Vec<i64> = changes.iter().map(|c| c.telegram_id).collect();
                users.sort_unstable();
                users.dedup();
                if users.len() > 1 {
                    sqlx::query(
                        "SELECT telegram_id FROM users WHERE telegram_id = ANY($1)
                         ORDER BY telegram_id FOR UPDATE",
                    )
                    .bind(&users)
                    .execute(&mut *batch)
                    .await?;
                }
                let mut outcomes = Vec::with_capacity(changes.len());
                for change in changes {
                    let outcome = if change.reference.is_none() {
                        // Without a reference there is no race to lose, and a refusal
                        // writes nothing: no savepoint needed.
                        match apply_in(&mut batch, actor, change, true).await? {
                            Attempt::Done(outcome) => outcome,
                            Attempt::Raced => unreachable!("a change without a reference"),
                        }
                    } else {
                        let mut item = (*batch).begin().await?;
                        match apply_in(&mut item, actor, change, true).await? {
                            Attempt::Done(outcome) => {
                                item.commit().await?;
                                outcome
                            }
                            Attempt::Raced => {
                                item.rollback().await?;
                                replay_after_race(&mut batch, actor, change).await?
                            }
                        }
                    };
                    let refused = outcome.is_err();
                    outcomes.push(outcome);
                    if atomic && refused {
                        batch.rollback().await?;
                        tx.commit().await.map_err(unknown_if_lost)?;
                        let failed = outcomes.len() - 1;
                        let refusal = outcomes.pop().expect("the refused outcome");
                        return Ok(Ok(aborted_batch(changes.len(), failed, refusal)));
                    }
                }
                batch.commit().await?;
                tx.commit().await.map_err(unknown_if_lost)?;
                Ok(Ok(outcomes))
            })
            .await?;
            prune(pool, signed).await;
            Ok(outcomes)
        })
        .await
        .map_err(ledger_error)
    }

    async fn register(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
        spend: Option<Spend>,
    ) -> Result<Result<User, Refusal>, LedgerError> {
        let pool = self.pool.clone();
        let nickname = nickname.map(str::to_string);
        detached(async move {
            let (pool, nickname, signed) = (&pool, nickname.as_deref(), &spend);
            retrying(move || async move {
                let mut tx = pool.begin().await?;
                if let Some(signed) = signed {
                    // A registration has no reference, so a spent signature is never a retry.
                    if !spend_in(&mut tx, signed).await? {
                        tx.rollback().await?;
                        return Ok(Err(Refusal::signature_reused()));
                    }
                }
                let created = sqlx::query(
                    "INSERT INTO users (telegram_id, nickname, registered_by) VALUES ($1, $2, $3)
                     ON CONFLICT (telegram_id) DO NOTHING",
                )
                .bind(telegram_id)
                .bind(nickname)
                .bind(signed.as_ref().map(|s| s.source.as_str()))
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                if !created && nickname.is_some() {
                    sqlx::query(
                        "UPDATE users SET nickname = $2, updated_at = now() WHERE telegram_id = $1",
                    )
                    .bind(telegram_id)
                    .bind(nickname)
                    .execute(&mut *tx)
                    .await?;
                }
                let user: BalanceRow = sqlx::query_as(BALANCE_SQL)
                    .bind(telegram_id)
                    .bind(now_ms())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await.map_err(unknown_if_lost)?;
                Ok(Ok(User {
                    telegram_id,
                    credits: user.credits,
                    nickname: user.nickname,
                    created,
                }))
            })
            .await
        })
        .await
        .map_err(ledger_error)
    }

    async fn place_hold(
        &self,
        actor: Actor,
        hold: NewHold,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        flows::run(&self.pool, flows::PlaceHold { actor, hold }, spend).await
    }

    async fn resolve_hold(
        &self,
        actor: Actor,
        resolve: Resolve,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        flows::run(&self.pool, flows::ResolveHold { actor, resolve }, spend).await
    }

    async fn holds(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(BalanceRow, Vec<HoldRow>)>, LedgerError> {
        flows::holds(&self.pool, telegram_id)
            .await
            .map_err(ledger_error)
    }

    async fn reverse(
        &self,
        actor: Actor,
        reversal: Reversal,
        spend: Spend,
    ) -> Result<ReverseOutcome, LedgerError> {
        flows::run(&self.pool, flows::Reverse { actor, reversal }, spend).await
    }

    async fn transfer(
        &self,
        actor: Actor,
        transfer: Transfer,
        spend: Spend,
    ) -> Result<TransferOutcome, LedgerError> {
        flows::run(&self.pool, flows::MoveCredits { actor, transfer }, spend).await
    }

    async fn balance(&self, telegram_id: i64) -> Result<Option<BalanceRow>, LedgerError> {
        sqlx::query_as(BALANCE_SQL)
            .bind(telegram_id)
            .bind(now_ms())
            .fetch_optional(&self.pool)
            .await
            .map_err(ledger_error)
    }

    /// `created_at` in the same text as on SQLite (RFC 3339 UTC with milliseconds).
    async fn records(
        &self,
        telegram_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>, LedgerError> {
        sqlx::query_as(
            r#"SELECT id, change, balance_after, reason, source, external_reference,
                      to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
                          AS created_at,
                      hold_id, reverses, transfer_id
               FROM records WHERE telegram_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"#,
        )
        .bind(telegram_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn verify(&self) -> Result<Findings, LedgerError> {
        self.findings().await.map_err(ledger_error)
    }

    async fn counts(&self) -> Result<Counts, LedgerError> {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM records) AS records",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn console_session_create(&self, session: NewSession) -> Result<(), LedgerError> {
        let pool = self.pool.clone();
        detached(async move {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM console_sessions WHERE expires_at_ms <= $1")
                .bind(session.created_at_ms)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO console_sessions
                     (token_hash, operator, csrf, created_at_ms, expires_at_ms)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&session.token_hash)
            .bind(&session.operator)
            .bind(&session.csrf)
            .bind(session.created_at_ms)
            .bind(session.expires_at_ms)
            .execute(&mut *tx)
            .await?;
            tx.commit().await
        })
        .await
        .map_err(ledger_error)
    }

    async fn console_session_find(
        &self,
        token_hash: String,
        now_ms: i64,
    ) -> Result<Option<SessionRow>, LedgerError> {
        sqlx::query_as(
            "SELECT operator, csrf, expires_at_ms FROM console_sessions
             WHERE token_hash = $1 AND expires_at_ms > $2",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn console_session_delete(&self, token_hash: String) -> Result<(), LedgerError> {
        sqlx::query("DELETE FROM console_sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(ledger_error)?;
        Ok(())
    }

    async fn console_audit_append(&self, entry: AuditEntry) -> Result<bool, LedgerError> {
        let pool = self.pool.clone();
        detached(async move {
            let done = sqlx::query(
                "INSERT INTO console_audit
                     (at_ms, operator, action, telegram_id, target, amount, reason, reference,
                      outcome, detail)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (reference) DO NOTHING",
            )
            .bind(entry.at_ms)
            .bind(&entry.operator)
            .bind(&entry.action)
            .bind(entry.telegram_id)
            .bind(&entry.target)
            .bind(entry.amount)
            .bind(&entry.reason)
            .bind(&entry.reference)
            .bind(&entry.outcome)
            .bind(&entry.detail)
            .execute(&pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
        .await
        .map_err(ledger_error)
    }

    async fn console_audit_list(
        &self,
        before: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, LedgerError> {
        sqlx::query_as(
            "SELECT id, at_ms, operator, action, telegram_id, target, amount, reason, reference,
                    outcome, detail
             FROM console_audit WHERE id < $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn console_totals(&self, now_ms: i64) -> Result<Totals, LedgerError> {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users) AS users,
                    (SELECT COALESCE(SUM(credits), 0)::BIGINT FROM users) AS outstanding,
                    (SELECT COALESCE(SUM(amount), 0)::BIGINT FROM holds
                     WHERE state = 'open' AND expires_at_ms > $1) AS held",
        )
        .bind(now_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn console_volumes(&self, since_ms: i64) -> Result<Vec<DayVolume>, LedgerError> {
        sqlx::query_as(
            "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day, source,
                    COALESCE(SUM(CASE WHEN change > 0 THEN change ELSE 0 END), 0)::BIGINT AS added,
                    COALESCE(SUM(CASE WHEN change < 0 THEN -change ELSE 0 END), 0)::BIGINT
                        AS deducted,
                    COUNT(*) AS changes
             FROM records WHERE created_at >= to_timestamp($1::BIGINT / 1000.0)
             GROUP BY 1, 2 ORDER BY 1, 2",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn console_find_users(
        &self,
        prefix: String,
        limit: i64,
    ) -> Result<Vec<UserRow>, LedgerError> {
        // ILIKE folds more than ASCII; LIKE on lower() would miss the index just the same.
        sqlx::query_as(
            "SELECT telegram_id, nickname, credits FROM users
             WHERE nickname ILIKE $1 ESCAPE '\\' ORDER BY nickname, telegram_id LIMIT $2",
        )
        .bind(crate::console::store::prefix_pattern(&prefix))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(ledger_error)
    }

    async fn console_reversals(&self, ids: Vec<i64>) -> Result<Vec<RecordRow>, LedgerError> {
        sqlx::query_as(
            "SELECT id, change, balance_after, reason, source, external_reference,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')
                        AS created_at,
                    hold_id, reverses, transfer_id
             FROM records WHERE reverses = ANY($1) ORDER BY id",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(ledger_error)
    }
}

impl PgLedger {
    async fn findings(&self) -> Result<Findings, sqlx::Error> {
        // One snapshot for all the checks, so concurrent writes cannot look like damage.
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let sums: Vec<SumMismatch> = sqlx::query_as(
            "SELECT u.telegram_id, u.credits, COALESCE(SUM(r.change), 0)::BIGINT AS sum
             FROM users u LEFT JOIN records r ON r.telegram_id = u.telegram_id
             GROUP BY u.telegram_id
             HAVING u.credits <> COALESCE(SUM(r.change), 0) OR u.credits < 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        let chain: Vec<ChainBreak> = sqlx::query_as(
            "SELECT id, telegram_id, balance_after, running FROM (
                 SELECT id, telegram_id, balance_after,
                        (SUM(change) OVER (PARTITION BY telegram_id ORDER BY id))::BIGINT
                            AS running
                 FROM records) AS chain
             WHERE balance_after <> running OR balance_after < 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        let orphans: Vec<Orphan> = sqlx::query_as(
            "SELECT r.id FROM records r LEFT JOIN users u ON u.telegram_id = r.telegram_id
             WHERE u.telegram_id IS NULL",
        )
        .fetch_all(&mut *tx)
        .await?;
        let held: Vec<HeldMismatch> = sqlx::query_as(
            "SELECT u.telegram_id, u.held, COALESCE(o.sum, 0)::BIGINT AS sum
             FROM users u LEFT JOIN (
                 SELECT telegram_id, SUM(amount) AS sum FROM holds WHERE state = 'open'
                 GROUP BY telegram_id) o ON o.telegram_id = u.telegram_id
             WHERE u.held <> COALESCE(o.sum, 0)",
        )
        .fetch_all(&mut *tx)
        .await?;
        // Only a captured hold has a record: one deduction of what it captured, of its
        // user, linked back to it; and a record linked to a hold is that hold's.
        let captures: Vec<CaptureMismatch> = sqlx::query_as(
            "SELECT h.hold_id, h.amount, h.captured, r.change AS record_change
             FROM holds h LEFT JOIN records r ON r.id = h.record_id
             WHERE CASE WHEN h.state = 'captured'
                        THEN r.id IS NULL OR h.captured < 1 OR r.change <> -h.captured
                             OR r.telegram_id <> h.telegram_id
                             OR r.hold_id IS DISTINCT FROM h.hold_id
                        ELSE h.record_id IS NOT NULL OR h.captured <> 0 END
             UNION ALL
             SELECT h.hold_id, h.amount, h.captured, r.change AS record_change
             FROM records r JOIN holds h ON h.hold_id = r.hold_id
             WHERE h.record_id IS DISTINCT FROM r.id",
        )
        .fetch_all(&mut *tx)
        .await?;
        let reversals: Vec<OverReversed> = sqlx::query_as(
            "SELECT o.id, o.change, SUM(r.change)::BIGINT AS reversed
             FROM records r JOIN records o ON o.id = r.reverses
             GROUP BY o.id, o.change
             HAVING SUM(ABS(r.change)) > ABS(o.change)
                 OR bool_or((r.change > 0) = (o.change > 0))
                 OR bool_or(r.telegram_id <> o.telegram_id)",
        )
        .fetch_all(&mut *tx)
        .await?;
        let transfers: Vec<BrokenTransfer> = sqlx::query_as(
            "SELECT transfer_id, COUNT(*) AS legs, SUM(change)::BIGINT AS sum
             FROM records WHERE transfer_id IS NOT NULL
             GROUP BY transfer_id
             HAVING COUNT(*) <> 2 OR SUM(change) <> 0",
        )
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Findings {
            sums,
            chain,
            orphans,
            held,
            captures,
            reversals,
            transfers,
        })
    }
}

/// Records `spend`'s signatures as spent, in the caller's transaction; `false` when one
/// already was (committed by another transaction, which this one waited for).
async fn spend_in(conn: &mut PgConnection, spend: &Spend) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO spent_signatures (signed_at, source, signature)
         SELECT $1, $2, key FROM UNNEST($3::BIGINT[]) AS key
         ON CONFLICT (signed_at, source, signature) DO NOTHING",
    )
    .bind(spend.signed_at)
    .bind(&spend.source)
    .bind(&spend.keys)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted == spend.keys.len() as u64)
}

/// Every [`PRUNE_EVERY`]th write of this process deletes up to [`PRUNE_LIMIT`] signatures
/// no server accepts any more. Best effort: a failure only leaves rows for the next one.
async fn prune(pool: &PgPool, spend: &Spend) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if !WRITES
        .fetch_add(1, Ordering::Relaxed)
        .is_multiple_of(PRUNE_EVERY)
    {
        return;
    }
    let pruned = sqlx::query(
        "DELETE FROM spent_signatures WHERE ctid IN (
             SELECT ctid FROM spent_signatures WHERE signed_at < $1 LIMIT $2)",
    )
    .bind(spend.prune_before())
    .bind(PRUNE_LIMIT)
    .execute(pool)
    .await;
    if let Err(e) = pruned {
        tracing::warn!(error = %e, "cannot prune spent signatures");
    }
}

/// Runs `attempt` again while it fails with a serialization failure or a deadlock.
async fn retrying<T, F, Fut>(mut attempt: F) -> Result<T, sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if tries < MAX_ATTEMPTS && is_retryable(&e) => {
                tracing::debug!(error = %e, tries, "retrying a PostgreSQL transaction");
                tokio::time::sleep(backoff(tries)).await;
                tries += 1;
            }
            result => return result,
        }
    }
}

/// The record insert hit the unique `(source, external_reference)`: another change with
/// this reference committed first.
fn is_reference_taken(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|e| e.constraint() == Some("records_source_reference"))
}

/// `23505` unique_violation, on any constraint.
fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "23505")
}

/// `40001` serialization_failure, `40P01` deadlock_detected: safe to run again.
fn is_retryable(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| code == "40001" || code == "40P01")
}

/// A growing, jittered pause, so two transactions that deadlocked do not meet again.
fn backoff(tries: u32) -> Duration {
    let jitter = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() % 1_000_000)
        .unwrap_or(0);
    Duration::from_millis(u64::from(tries.min(20))) + Duration::from_nanos(u64::from(jitter))
}

/// The original of `change`'s reference, as a replay or a conflict.
async fn find_original(
    conn: &mut PgConnection,
    actor: &Actor,
    change: &Change,
) -> Result<Option<Outcome>, sqlx::Error> {
    let Some(reference) = &change.reference else {
        return Ok(None);
    };
    let original: Option<OriginalRecord> = sqlx::query_as(
        "SELECT id, telegram_id, source, change, reason, balance_after, hold_id, reverses,
                transfer_id
         FROM records WHERE source = $1 AND external_reference = $2",
    )
    .bind(&actor.source)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(original.map(|original| replay(change, original)))
}

/// A user's balance, nickname and open, unexpired holds (`$1` the user, `$2` now in Unix ms).
const BALANCE_SQL: &str = "SELECT credits, nickname,
        (SELECT COALESCE(SUM(amount), 0) FROM holds
         WHERE holds.telegram_id = users.telegram_id AND state = 'open' AND expires_at_ms > $2)::BIGINT
            AS held
     FROM users WHERE telegram_id = $1";

/// The answer after losing a race on a reference: the winner's record is committed now.
async fn replay_after_race(
    conn: &mut PgConnection,
    actor: &Actor,
    change: &Change,
) -> Result<Outcome, sqlx::Error> {
    find_original(conn, actor, change).await?.ok_or_else(|| {
        sqlx::Error::Protocol("a conflicting reference vanished after its commit".into())
    })
}

/// `changed` of [`apply_at_once`] for an add that may register an unknown user (as on
/// SQLite).
const CHANGED_REGISTERING: &str = "WITH changed AS (
     INSERT INTO users AS u (telegram_id, credits, registered_by)
     SELECT $1, $3, $2
     WHERE NOT EXISTS (SELECT 1 FROM records WHERE source = $2 AND external_reference = $4)
     ON CONFLICT (telegram_id) DO UPDATE
         SET credits = u.credits + EXCLUDED.credits, updated_at = now()
         WHERE u.credits <= 9223372036854775807 - EXCLUDED.credits
     RETURNING u.credits)";
/// `changed` for an add to a known user.
const CHANGED_ADD: &str = "WITH changed AS (
     UPDATE users SET credits = credits + $3, updated_at = now()
     WHERE telegram_id = $1 AND credits <= 9223372036854775807 - $3
       AND NOT EXISTS (SELECT 1 FROM records WHERE source = $2 AND external_reference = $4)
     RETURNING credits)";
/// `changed` for a deduct (`$3` is its magnitude). `held` is on the row the UPDATE locks,
/// so it is read fresh after any wait; it counts expired holds not yet settled too, so the
/// check only ever refuses too much (the full path then judges on the live holds), and a
/// user without holds pays nothing for it.
const CHANGED_DEDUCT: &str = "WITH changed AS (
     UPDATE users SET credits = credits - $3, updated_at = now()
     WHERE telegram_id = $1 AND credits - held >= $3
       AND NOT EXISTS (SELECT 1 FROM records WHERE source = $2 AND external_reference = $4)
     RETURNING credits)";
/// The record of the change, when `changed` changed a balance.
const RECORDED: &str = ",
 recorded AS (
     INSERT INTO records
         (telegram_id, source, change, balance_after, reason, external_reference, request_hash)
     SELECT $1, $2, $5, credits, $6, $4, $7 FROM changed
     RETURNING id, balance_after)";
/// The signatures spent with the record, only when there is one. A spent one is a unique
/// violation, which undoes the whole statement.
const SPENT: &str = ",
 spent AS (
     INSERT INTO spent_signatures (signed_at, source, signature)
     SELECT $8, $2, key FROM recorded, UNNEST($9::BIGINT[]) AS key)";
const ANSWER: &str = "
 SELECT id, balance_after FROM recorded";

/// The kinds of change [`apply_at_once`] has a statement for, as indexes of `CHANGED`.
#[derive(Clone, Copy)]
enum AtOnce {
    Registering,
    Add,
    Deduct,
}

/// The statement of [`apply_at_once`] for one kind of change, with or without spending:
/// built once, from the parts above.
fn at_once_statement(kind: AtOnce, spending: bool) -> &'static str {
    use std::sync::LazyLock;
    const CHANGED: [&str; 3] = [CHANGED_REGISTERING, CHANGED_ADD, CHANGED_DEDUCT];
    static STATEMENTS: LazyLock<[[String; 2]; 3]> = LazyLock::new(|| {
        CHANGED.map(|changed| {
            [
                format!("{changed}{RECORDED}{ANSWER}"),
                format!("{changed}{RECORDED}{SPENT}{ANSWER}"),
            ]
        })
    });
    &STATEMENTS[kind as usize][usize::from(spending)]
}

/// The common case in one statement: a known user (or an add that may register one), a
/// reference not seen before, and the balance allows it; with `spend`, its signatures are
/// spent in the same statement (autocommitted, that is the whole write in one round trip).
/// Returns `None` when nothing was written for any other reason, and a unique violation
/// when a twin committed the reference first ([`is_reference_taken`]) or a signature was
/// spent already (the statement then wrote nothing either).
async fn apply_at_once(
    conn: &mut PgConnection,
    actor: &Actor,
    change: &Change,
    spend: Option<&Spend>,
) -> Result<Option<Applied>, sqlx::Error> {
    let kind = if change.amount > 0 && actor.auto_register {
        AtOnce::Registering
    } else if change.amount > 0 {
        AtOnce::Add
    } else {
        AtOnce::Deduct
    };
    let magnitude = if change.amount > 0 {
        change.amount
    } else {
        change.amount.checked_neg().unwrap_or(i64::MAX)
    };
    let query = sqlx::query_as(at_once_statement(kind, spend.is_some()))
        .bind(change.telegram_id)
        .bind(&actor.source)
        .bind(magnitude)
        .bind(&change.reference)
        .bind(change.amount)
        .bind(&change.reason)
        .bind(request_hash(&actor.source, change));
    let query = match spend {
        Some(spend) => query.bind(spend.signed_at).bind(&spend.keys),
        None => query,
    };
    let row: Option<NewRecord> = query.fetch_optional(&mut *conn).await?;
    Ok(row.map(|row| Applied {
        record_id: row.id,
        telegram_id: change.telegram_id,
        change: change.amount,
        balance: row.balance_after,
        duplicate: false,
    }))
}

/// The rules of one change, inside the caller's transaction (or savepoint). Writes only
/// when it returns `Done(Ok(applied))` with `duplicate == false`, or `Raced`. With
/// `at_once`, tries [`apply_at_once`] first.
async fn apply_in(
    conn: &mut PgConnection,
    actor: &Actor,
    change: &Change,
    at_once: bool,
) -> Result<Attempt, sqlx::Error> {
    if at_once {
        match apply_at_once(&mut *conn, actor, change, None).await {
            Ok(Some(applied)) => return Ok(Attempt::Done(Ok(applied))),
            Ok(None) => {}
            Err(e) if is_reference_taken(&e) => return Ok(Attempt::Raced),
            Err(e) => return Err(e),
        }
    }
    // The replay check comes first, so a replayed deduct succeeds whatever the balance is now.
    if let Some(outcome) = find_original(&mut *conn, actor, change).await? {
        return Ok(Attempt::Done(outcome));
    }

    let changed = if change.amount > 0 {
        credit_in(&mut *conn, actor, change).await?
    } else {
        debit_in(&mut *conn, change).await?
    };
    let balance = match changed {
        Ok(balance) => balance,
        Err(refusal) => {
            // The statements above may have waited for a twin of this change (same
            // reference) that has committed since: as if sequential, this one is then its
            // replay.
            if let Some(outcome) = find_original(&mut *conn, actor, change).await? {
                return Ok(Attempt::Done(outcome));
            }
            return Ok(Attempt::Done(Err(refusal)));
        }
    };

    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO records
             (telegram_id, source, change, balance_after, reason, external_reference, request_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (source, external_reference) DO NOTHING
         RETURNING id",
    )
    .bind(change.telegram_id)
    .bind(&actor.source)
    .bind(change.amount)
    .bind(balance)
    .bind(&change.reason)
    .bind(&change.reference)
    .bind(request_hash(&actor.source, change))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(record_id) = inserted else {
        return Ok(Attempt::Raced);
    };
    Ok(Attempt::Done(Ok(Applied {
        record_id,
        telegram_id: change.telegram_id,
        change: change.amount,
        balance,
        duplicate: false,
    })))
}

/// Adds `change` (positive) to its user's balance, registering an unknown user when the
/// actor may; the new balance, or the refusal.
async fn credit_in(
    conn: &mut PgConnection,
    actor: &Actor,
    change: &Change,
) -> Result<Result<i64, Refusal>, sqlx::Error> {
    let mut registered = false;
    loop {
        // One atomic statement: the row lock orders concurrent changes of one user, and
        // the condition is checked on the latest committed balance.
        let updated: Option<i64> = sqlx::query_scalar(
            "UPDATE users SET credits = credits + $2, updated_at = now()
             WHERE telegram_id = $1 AND credits <= 9223372036854775807 - $2
             RETURNING credits",
        )
        .bind(change.telegram_id)
        .bind(change.amount)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(balance) = updated {
            return Ok(Ok(balance));
        }
        // Nothing changed: find out why, on the latest committed state.
        let credits: Option<i64> =
            sqlx::query_scalar("SELECT credits FROM users WHERE telegram_id = $1")
                .bind(change.telegram_id)
                .fetch_optional(&mut *conn)
                .await?;
        match credits {
            Some(credits) if credits.checked_add(change.amount).is_none() => {
                return Ok(Err(Refusal::balance_overflow(credits, change.amount)));
            }
            // The balance moved in between: try the statement again.
            Some(_) => continue,
            None if actor.auto_register && !registered => {
                sqlx::query(
                    "INSERT INTO users (telegram_id, registered_by) VALUES ($1, $2)
                     ON CONFLICT (telegram_id) DO NOTHING",
                )
                .bind(change.telegram_id)
                .bind(&actor.source)
                .execute(&mut *conn)
                .await?;
                registered = true;
            }
            None => return Ok(Err(Refusal::user_not_found(change.telegram_id))),
        }
    }
}

/// Takes `change` (negative) from its user's available credits, judged under the user's
/// row lock on their live holds (expired ones are settled by the same write); the new
/// balance, or the refusal.
async fn debit_in(
    conn: &mut PgConnection,
    change: &Change,
) -> Result<Result<i64, Refusal>, sqlx::Error> {
    let now = now_ms();
    let Some(user) = flows::lock_user(&mut *conn, change.telegram_id, now).await? else {
        return Ok(Err(Refusal::user_not_found(change.telegram_id)));
    };
    if let Some(refusal) = user.short_of(change.amount) {
        return Ok(Err(refusal));
    }
    let (balance, _) = flows::move_user(
        conn,
        change.telegram_id,
        now,
        change.amount,
        0,
        user.settles(),
    )
    .await?;
    Ok(Ok(balance))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[derive(Debug)]
    struct Failure(&'static str);

    impl std::fmt::Display for Failure {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "failure {}", self.0)
        }
    }

    impl std::error::Error for Failure {}

    impl sqlx::error::DatabaseError for Failure {
        fn message(&self) -> &str {
            "failure"
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> sqlx::error::ErrorKind {
            sqlx::error::ErrorKind::Other
        }
    }

    fn failure(code: &'static str) -> sqlx::Error {
        sqlx::Error::Database(Box::new(Failure(code)))
    }

    #[tokio::test]
    async fn serialization_failures_and_deadlocks_are_retried_other_errors_are_not() {
        for code in ["40001", "40P01"] {
            let calls = AtomicU32::new(0);
            let result = retrying(|| async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0..3 => Err(failure(code)),
                    _ => Ok(7),
                }
            })
            .await;
            assert_eq!(result.unwrap(), 7);
            assert_eq!(calls.load(Ordering::SeqCst), 4);
        }
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = retrying(|| async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(failure("23505"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_lost_commit_answer_says_the_outcome_is_unknown() {
        let lost = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset during COMMIT",
        ));
        assert!(matches!(
            ledger_error(unknown_if_lost(lost)),
            LedgerError::OutcomeUnknown {
                storage_failed: false,
                ..
            }
        ));
        // The database answered (even with an error): that outcome is known.
        assert!(matches!(
            ledger_error(unknown_if_lost(sqlx::Error::RowNotFound)),
            LedgerError::Internal { .. }
        ));
        // Not a SQLSTATE, so never taken for a retryable serialization failure.
        let lost = unknown_if_lost(sqlx::Error::WorkerCrashed);
        assert!(lost.as_database_error().unwrap().code().is_none() && !is_retryable(&lost));
        // Nothing applied, and a moment later it may work: 503 with Retry-After.
        assert!(matches!(
            ledger_error(sqlx::Error::PoolTimedOut),
            LedgerError::Busy { .. }
        ));
        let reset = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "connection reset before COMMIT",
        ));
        assert!(matches!(
            ledger_error(reset),
            LedgerError::Unavailable { .. }
        ));
        for code in ["53100", "53300", "57P03", "08006"] {
            assert!(
                matches!(ledger_error(failure(code)), LedgerError::Unavailable { .. }),
                "{code}"
            );
        }
        // Retries that ran out, and constraints, are conflicts.
        assert!(matches!(
            ledger_error(failure("40001")),
            LedgerError::Conflict { .. }
        ));
        assert!(matches!(
            ledger_error(failure("23505")),
            LedgerError::Conflict { .. }
        ));
    }

    #[tokio::test]
    async fn unreachable_databases_are_reported_without_the_password() {
        let message = match PgLedger::open("postgres://u:hunter2@127.0.0.1:1/db", true).await {
            Err(message) => message,
            Ok(_) => panic!("nothing listens on port 1"),
        };
        assert!(message.contains("<redacted>"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
