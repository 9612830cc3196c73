//! The SQLite backend: one writer thread owns the write connection and commits queued writes
//! in groups (see [`group_commit`]: one `BEGIN IMMEDIATE` transaction and one fsync for many
//! requests, each in its own savepoint), and a pool of readers serves reads in parallel.
//! Every write is a [`Job`] of that writer: a sync and a batch here, holds, reversals and
//! transfers in their own modules; [`funds`] is what any of them may take from a user.

mod checkpoint;
mod console;
mod funds;
mod group_commit;
mod holds;
pub(crate) mod raw;
mod reversals;
mod serving;
mod spent;
mod store;
mod transfers;

use super::rows::{
    BalanceRow, BrokenTransfer, CaptureMismatch, ChainBreak, Counts, Findings, HeldMismatch,
    HoldRow, OriginalRecord, Orphan, OverReversed, RecordRow, SumMismatch,
};
use super::spend::expired_before;
use super::{
    aborted_batch, now_ms, now_rfc3339, replay, request_hash, reused, Actor, Applied, Change,
    HoldOutcome, LedgerBackend, LedgerError, NewHold, Outcome, Refusal, Resolve, Reversal,
    ReverseOutcome, Spend, Transfer, TransferOutcome, User,
};
use crate::console::store::{
    AuditEntry, AuditRow, DayVolume, NewSession, SessionRow, Totals, UserRow,
};
use crate::events::{Events, Notifier, Retention};
use funds::{Funds, NewRecord};
pub(crate) use group_commit::UNKNOWN_MARK;
use group_commit::{GroupCommit, GroupUpkeep, Limits};
pub(crate) use group_commit::{Job, Step};
use libsqlite3_sys as ffi;
use raw::{is_unavailable, Db, SqliteFailure, Value};
use serving::ServingLock;
use spent::spend;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use store::Store;

#[derive(Clone)]
pub struct SqliteLedger {
    store: Store,
    events: Events,
    writes: GroupCommit,
    /// The widest signature window of any write so far (see [`Upkeeping`]).
    window: Arc<AtomicI64>,
    /// The background WAL checkpoints under load (see [`checkpoint`]).
    checkpoints: Arc<checkpoint::Checkpoints>,
    /// Held while this ledger serves requests (see [`serving`]); `None` for admin commands.
    _serving: Option<Arc<ServingLock>>,
}

impl SqliteLedger {
    /// Opens the database at `url` to serve requests (creating it if needed): refused while
    /// another process serves it (see [`serving`]).
    pub async fn serve(url: &str) -> Result<SqliteLedger, String> {
        let lock = ServingLock::take(url)?;
        let mut ledger = SqliteLedger::open(url, true).await?;
        ledger._serving = Some(Arc::new(lock));
        Ok(ledger)
    }

    /// Opens the database at `url`, creating it when `create` (see [`Store`]), and starts
    /// its writer thread.
    pub async fn open(url: &str, create: bool) -> Result<SqliteLedger, String> {
        let store = Store::open(url, create).await?;
        let window = Arc::new(AtomicI64::new(-1));
        let events = Events::sqlite(store.reader.clone(), Notifier::new());
        let writes = GroupCommit::start(
            store.writer.clone(),
            Limits::default(),
            Arc::new(Upkeeping {
                window: window.clone(),
                events: events.retention().clone(),
            }),
        );
        let checkpoints = Arc::new(checkpoint::Checkpoints::default());
        tokio::spawn(checkpoint::run(
            store.checkpointer.clone(),
            writes.shared_stats(),
            checkpoints.clone(),
        ));
        tokio::spawn(crate::events::track_sqlite(
            store.reader.clone(),
            writes.commits(),
            events.notifier().clone(),
        ));
        Ok(SqliteLedger {
            store,
            events,
            writes,
            window,
            checkpoints,
            _serving: None,
        })
    }

    /// The event feed of this database.
    pub(crate) fn events(&self) -> &Events {
        &self.events
    }

    /// The read pool (the webhook worker's reads).
    pub(crate) fn reader(&self) -> &sqlx::SqlitePool {
        &self.store.reader
    }

    /// Runs `job` in the writer's next group (the webhook worker's own small writes: the
    /// writer holds the one write connection, so every write is one of its jobs).
    pub(crate) async fn write<J: Job>(&self, job: J) -> Result<J::Output, LedgerError> {
        self.writes.submit(job).await.map_err(ledger_error)
    }

    /// Widens the pruning window to `spend`'s, before its write is queued.
    fn note_window(&self, spend: &Spend) {
        self.window.fetch_max(spend.tolerance, Ordering::Relaxed);
    }
}

impl LedgerBackend for SqliteLedger {
    async fn close(&self) {
        // The writer hands its connection back first: the write pool closes only then.
        self.writes.stop().await;
        self.store.close().await;
    }

    async fn ping(&self) -> Result<(), LedgerError> {
        sqlx::query("SELECT 1")
            .execute(&self.store.reader)
            .await
            .map_err(ledger_error)?;
        Ok(())
    }

    /// Group-commit counters.
    fn render_metrics(&self, out: &mut String) {
        self.writes.stats().render(out);
        self.checkpoints.render(out);
    }

    /// One change in its own savepoint of the writer's next group commit.
    async fn apply(
        &self,
        actor: Actor,
        change: Change,
        spend: Spend,
    ) -> Result<Outcome, LedgerError> {
        self.note_window(&spend);
        self.writes
            .submit(ApplyOne {
                actor,
                change,
                spend,
            })
            .await
            .map_err(ledger_error)
    }

    /// Many changes in one savepoint of a group commit.
    async fn apply_batch(
        &self,
        actor: Actor,
        changes: Vec<Change>,
        atomic: bool,
        spend: Spend,
    ) -> Result<Result<Vec<Outcome>, Refusal>, LedgerError> {
        self.note_window(&spend);
        self.writes
            .submit(ApplyBatch {
                actor,
                changes,
                atomic,
                spend,
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
        if let Some(spend) = &spend {
            self.note_window(spend);
        }
        self.writes
            .submit(Register {
                telegram_id,
                nickname: nickname.map(str::to_string),
                spend,
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
        self.note_window(&spend);
        self.writes
            .submit(holds::PlaceHold { actor, hold, spend })
            .await
            .map_err(ledger_error)
    }

    async fn resolve_hold(
        &self,
        actor: Actor,
        resolve: Resolve,
        spend: Spend,
    ) -> Result<HoldOutcome, LedgerError> {
        self.note_window(&spend);
        self.writes
            .submit(holds::ResolveHold {
                actor,
                resolve,
                spend,
            })
            .await
            .map_err(ledger_error)
    }

    async fn holds(
        &self,
        telegram_id: i64,
    ) -> Result<Option<(BalanceRow, Vec<HoldRow>)>, LedgerError> {
        holds::list(&self.store.reader, telegram_id)
            .await
            .map_err(ledger_error)
    }

    async fn reverse(
        &self,
        actor: Actor,
        reversal: Reversal,
        spend: Spend,
    ) -> Result<ReverseOutcome, LedgerError> {
        self.note_window(&spend);
        self.writes
            .submit(reversals::Reverse {
                actor,
                reversal,
                spend,
            })
            .await
            .map_err(ledger_error)
    }

    async fn transfer(
        &self,
        actor: Actor,
        transfer: Transfer,
        spend: Spend,
    ) -> Result<TransferOutcome, LedgerError> {
        self.note_window(&spend);
        self.writes
            .submit(transfers::MoveCredits {
                actor,
                transfer,
                spend,
            })
            .await
            .map_err(ledger_error)
    }

    async fn balance(&self, telegram_id: i64) -> Result<Option<BalanceRow>, LedgerError> {
        sqlx::query_as(BALANCE_SQL)
            .bind(now_ms())
            .bind(telegram_id)
            .fetch_optional(&self.store.reader)
            .await
            .map_err(ledger_error)
    }

    async fn records(
        &self,
        telegram_id: i64,
        before: i64,
        limit: i64,
    ) -> Result<Vec<RecordRow>, LedgerError> {
        sqlx::query_as(
            "SELECT id, change, balance_after, reason, source, external_reference, created_at,
                    hold_id, reverses, transfer_id
             FROM records WHERE telegram_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(telegram_id)
        .bind(before)
        .bind(limit)
        .fetch_all(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn verify(&self) -> Result<Findings, LedgerError> {
        // One read transaction: one snapshot for all the checks, so concurrent writes
        // cannot look like damage.
        let mut tx = self.store.reader.begin().await.map_err(ledger_error)?;
        let sums: Vec<SumMismatch> = sqlx::query_as(
            "SELECT u.telegram_id, u.credits, COALESCE(SUM(r.change), 0) AS sum
             FROM users u LEFT JOIN records r ON r.telegram_id = u.telegram_id
             GROUP BY u.telegram_id
             HAVING u.credits <> COALESCE(SUM(r.change), 0) OR u.credits < 0",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(ledger_error)?;
        let chain: Vec<ChainBreak> = sqlx::query_as(
            "SELECT id, telegram_id, balance_after, running FROM (
                 SELECT id, telegram_id, balance_after,
                        SUM(change) OVER (PARTITION BY telegram_id ORDER BY id) AS running
                 FROM records)
             WHERE balance_after <> running OR balance_after < 0",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(ledger_error)?;
        let orphans: Vec<Orphan> = sqlx::query_as(
            "SELECT r.id FROM records r LEFT JOIN users u ON u.telegram_id = r.telegram_id
             WHERE u.telegram_id IS NULL",
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(ledger_error)?;
        let held: Vec<HeldMismatch> = sqlx::query_as(VERIFY_HELD)
            .fetch_all(&mut *tx)
            .await
            .map_err(ledger_error)?;
        let captures: Vec<CaptureMismatch> = sqlx::query_as(VERIFY_CAPTURES)
            .fetch_all(&mut *tx)
            .await
            .map_err(ledger_error)?;
        let reversals: Vec<OverReversed> = sqlx::query_as(VERIFY_REVERSALS)
            .fetch_all(&mut *tx)
            .await
            .map_err(ledger_error)?;
        let transfers: Vec<BrokenTransfer> = sqlx::query_as(VERIFY_TRANSFERS)
            .fetch_all(&mut *tx)
            .await
            .map_err(ledger_error)?;
        tx.rollback().await.map_err(ledger_error)?;
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

    async fn counts(&self) -> Result<Counts, LedgerError> {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users) AS users, (SELECT COUNT(*) FROM records) AS records",
        )
        .fetch_one(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn console_session_create(&self, session: NewSession) -> Result<(), LedgerError> {
        self.writes
            .submit(console::CreateSession(session))
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
             WHERE token_hash = ? AND expires_at_ms > ?",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn console_session_delete(&self, token_hash: String) -> Result<(), LedgerError> {
        self.writes
            .submit(console::DeleteSession(token_hash))
            .await
            .map_err(ledger_error)
    }

    async fn console_audit_append(&self, entry: AuditEntry) -> Result<bool, LedgerError> {
        self.writes
            .submit(console::AppendAudit(entry))
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
             FROM console_audit WHERE id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(before)
        .bind(limit)
        .fetch_all(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn console_totals(&self, now_ms: i64) -> Result<Totals, LedgerError> {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM users) AS users,
                    (SELECT COALESCE(SUM(credits), 0) FROM users) AS outstanding,
                    (SELECT COALESCE(SUM(amount), 0) FROM holds
                     WHERE state = 'open' AND expires_at_ms > ?) AS held",
        )
        .bind(now_ms)
        .fetch_one(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn console_volumes(&self, since_ms: i64) -> Result<Vec<DayVolume>, LedgerError> {
        // `created_at` is RFC 3339 UTC text: its first ten characters are the day, and
        // text order is time order.
        sqlx::query_as(
            "SELECT substr(created_at, 1, 10) AS day, source,
                    COALESCE(SUM(CASE WHEN change > 0 THEN change ELSE 0 END), 0) AS added,
                    COALESCE(SUM(CASE WHEN change < 0 THEN -change ELSE 0 END), 0) AS deducted,
                    COUNT(*) AS changes
             FROM records WHERE created_at >= ?
             GROUP BY day, source ORDER BY day, source",
        )
        .bind(super::rfc3339_ms(since_ms))
        .fetch_all(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn console_find_users(
        &self,
        prefix: String,
        limit: i64,
    ) -> Result<Vec<UserRow>, LedgerError> {
        sqlx::query_as(
            "SELECT telegram_id, nickname, credits FROM users
             WHERE nickname LIKE ? ESCAPE '\\' ORDER BY nickname, telegram_id LIMIT ?",
        )
        .bind(crate::console::store::prefix_pattern(&prefix))
        .bind(limit)
        .fetch_all(&self.store.reader)
        .await
        .map_err(ledger_error)
    }

    async fn console_reversals(&self, ids: Vec<i64>) -> Result<Vec<RecordRow>, LedgerError> {
        let ids = serde_json::to_string(&ids).map_err(|e| LedgerError::internal(e.to_string()))?;
        sqlx::query_as(
            "SELECT id, change, balance_after, reason, source, external_reference, created_at,
                    hold_id, reverses, transfer_id
             FROM records WHERE reverses IN (SELECT value FROM json_each(?)) ORDER BY id",
        )
        .bind(ids)
        .fetch_all(&self.store.reader)
        .await
        .map_err(ledger_error)
    }
}

/// Sorts a failure of this backend into the ledger's kinds by SQLite's result code,
/// whether it came from the writer's own calls ([`SqliteFailure`]) or through sqlx (the
/// readers, the pools).
pub(crate) fn ledger_error(err: sqlx::Error) -> LedgerError {
    let cause = err.to_string();
    let (code, unavailable, outcome_unknown) = match SqliteFailure::of(&err) {
        Some(failure) => (
            failure.result_code(),
            failure.is_unavailable(),
            failure.outcome_unknown(),
        ),
        None => match sqlx_result_code(&err) {
            Some(code) => (code, is_unavailable(code), false),
            None => return LedgerError::Internal { cause },
        },
    };
    match code & 0xff {
        ffi::SQLITE_BUSY | ffi::SQLITE_LOCKED => LedgerError::Busy { cause },
        _ if unavailable && outcome_unknown => LedgerError::OutcomeUnknown {
            cause,
            storage_failed: true,
        },
        _ if unavailable => LedgerError::Unavailable { cause },
        ffi::SQLITE_CONSTRAINT => LedgerError::Conflict { cause },
        _ => LedgerError::Internal { cause },
    }
}

/// The SQLite result code of an error sqlx's own driver reported.
fn sqlx_result_code(err: &sqlx::Error) -> Option<std::ffi::c_int> {
    let error = err
        .as_database_error()?
        .try_downcast_ref::<sqlx::sqlite::SqliteError>()?;
    sqlx::error::DatabaseError::code(error)?.parse().ok()
}

/// `POST /api/credits/sync`: kept when newly applied or refused (a refusal writes nothing
/// but its spent signature); a replay of the same referenced change keeps nothing.
struct ApplyOne {
    actor: Actor,
    change: Change,
    spend: Spend,
}

impl Job for ApplyOne {
    type Output = Outcome;

    fn apply(&mut self, db: &mut Db) -> Result<Step<Outcome>, sqlx::Error> {
        if !spend(db, &self.spend)? {
            return Ok(Step {
                output: reused(original(db, &self.actor, &self.change)?),
                keep: false,
            });
        }
        let outcome = apply_in(db, &self.actor, &self.change)?;
        let keep = !outcome.as_ref().is_ok_and(|a| a.duplicate);
        Ok(Step {
            output: outcome,
            keep,
        })
    }
}

/// `POST /api/credits/batch`: one savepoint for the whole batch; an item sees the items
/// before it. Atomic: the first refusal rolls the batch's savepoint back.
struct ApplyBatch {
    actor: Actor,
    changes: Vec<Change>,
    atomic: bool,
    spend: Spend,
}

impl Job for ApplyBatch {
    type Output = Result<Vec<Outcome>, Refusal>;

    fn weight(&self) -> usize {
        self.changes.len().max(1)
    }

    fn apply(&mut self, db: &mut Db) -> Result<Step<Self::Output>, sqlx::Error> {
        if !spend(db, &self.spend)? {
            // A spent signature: answered only when every change is the same referenced
            // change again.
            let mut outcomes = Vec::with_capacity(self.changes.len());
            for change in &self.changes {
                match reused(original(db, &self.actor, change)?) {
                    Ok(applied) => outcomes.push(Ok(applied)),
                    Err(refusal) => {
                        return Ok(Step {
                            output: Err(refusal),
                            keep: false,
                        })
                    }
                }
            }
            return Ok(Step {
                output: Ok(outcomes),
                keep: false,
            });
        }
        // The changes in a savepoint of their own, so an aborted atomic batch rolls them
        // back and still keeps its spent signatures.
        db.exec("SAVEPOINT batch_changes")?;
        let mut outcomes = Vec::with_capacity(self.changes.len());
        for change in &self.changes {
            let outcome = apply_in(db, &self.actor, change)?;
            let refused = outcome.is_err();
            outcomes.push(outcome);
            if self.atomic && refused {
                db.exec("ROLLBACK TO batch_changes")?;
                db.exec("RELEASE batch_changes")?;
                let failed = outcomes.len() - 1;
                let refusal = outcomes.pop().expect("the refused outcome");
                return Ok(Step {
                    output: Ok(aborted_batch(self.changes.len(), failed, refusal)),
                    keep: true,
                });
            }
        }
        db.exec("RELEASE batch_changes")?;
        Ok(Step {
            output: Ok(outcomes),
            keep: true,
        })
    }
}

/// `POST /api/users` (and `users add`).
struct Register {
    telegram_id: i64,
    nickname: Option<String>,
    /// `None` for the operator's `users add`.
    spend: Option<Spend>,
}

impl Job for Register {
    type Output = Result<User, Refusal>;

    fn apply(&mut self, db: &mut Db) -> Result<Step<Self::Output>, sqlx::Error> {
        if let Some(signed) = &self.spend {
            // A registration has no reference, so a spent signature is never a retry.
            if !spend(db, signed)? {
                return Ok(Step {
                    output: Err(Refusal::signature_reused()),
                    keep: false,
                });
            }
        }
        let telegram_id = self.telegram_id;
        let nickname = self.nickname.as_deref();
        let now = now_rfc3339();
        let created = db.execute(
            "INSERT INTO users
                 (telegram_id, nickname, credits, created_at, updated_at, registered_by)
             VALUES (?, ?, 0, ?, ?, ?) ON CONFLICT (telegram_id) DO NOTHING",
            &[
                Value::Int(telegram_id),
                Value::OptText(nickname),
                Value::Text(&now),
                Value::Text(&now),
                Value::OptText(self.spend.as_ref().map(|s| s.source.as_str())),
            ],
        )? == 1;
        if !created && nickname.is_some() {
            db.execute(
                "UPDATE users SET nickname = ?, updated_at = ? WHERE telegram_id = ?",
                &[
                    Value::OptText(nickname),
                    Value::Text(&now),
                    Value::Int(telegram_id),
                ],
            )?;
        }
        let user = db
            .query(
                BALANCE_SQL,
                &[Value::Int(now_ms()), Value::Int(telegram_id)],
                |row| BalanceRow {
                    credits: row.int(0),
                    nickname: row.opt_text(1),
                    held: row.int(2),
                },
            )?
            .ok_or(sqlx::Error::RowNotFound)?;
        Ok(Step {
            output: Ok(User {
                telegram_id,
                credits: user.credits,
                nickname: user.nickname,
                created,
            }),
            keep: true,
        })
    }
}

/// The group commit's upkeep. Each connection the writer takes first builds its index of
/// spent signatures ([`spent::prepare`]). Each group prunes expired events and signatures
/// ([`spent::prune`], with the widest window any write of this process was accepted in:
/// `window`, seconds; negative until a signed write came, and until then nothing is
/// pruned: `users add` on a live server's file must not shorten the server's window); its
/// mark is the latest event `seq`.
struct Upkeeping {
    window: Arc<AtomicI64>,
    events: Retention,
}

impl GroupUpkeep for Upkeeping {
    fn prepare(&self, db: &mut Db<'_>) -> Result<(), sqlx::Error> {
        spent::prepare(db)
    }

    fn group(&self, db: &mut Db<'_>) -> Result<i64, sqlx::Error> {
        crate::events::prune_sqlite(db, &self.events)?;
        let tolerance = self.window.load(Ordering::Relaxed);
        if tolerance >= 0 {
            spent::prune(db, expired_before(tolerance))?;
        }
        // The event feed's wake-up, read here on the writer's own connection rather than
        // by the feed after each commit on a reader's (a hand-off per group).
        crate::events::latest_sqlite(db)
    }
}

/// The replay of `change`'s reference, when it was applied before.
fn original(db: &mut Db, actor: &Actor, change: &Change) -> Result<Option<Outcome>, sqlx::Error> {
    let Some(reference) = &change.reference else {
        return Ok(None);
    };
    let original = record_by_reference(db, &actor.source, reference)?;
    Ok(original.map(|original| replay(change, original)))
}

/// The answer to a write whose signature was already spent, for any write: only its replay
/// (`replay`, when it is one) is answered as before (see [`reused`]).
fn replayed_or_reused<T>(replay: Option<Result<T, Refusal>>) -> Result<T, Refusal> {
    match replay {
        Some(Ok(applied)) => Ok(applied),
        _ => Err(Refusal::signature_reused()),
    }
}

/// The record `source` wrote with `reference`.
fn record_by_reference(
    db: &mut Db,
    source: &str,
    reference: &str,
) -> Result<Option<OriginalRecord>, sqlx::Error> {
    db.query(
        "SELECT id, telegram_id, source, change, reason, balance_after, hold_id, reverses,
                transfer_id
         FROM records WHERE source = ? AND external_reference = ?",
        &[Value::Text(source), Value::Text(reference)],
        original_record,
    )
}

/// The record `id`.
fn record_by_id(db: &mut Db, id: i64) -> Result<Option<OriginalRecord>, sqlx::Error> {
    db.query(
        "SELECT id, telegram_id, source, change, reason, balance_after, hold_id, reverses,
                transfer_id
         FROM records WHERE id = ?",
        &[Value::Int(id)],
        original_record,
    )
}

/// Registers an unknown user with no credits, for an actor that auto-registers.
fn register_unknown(
    db: &mut Db,
    telegram_id: i64,
    now: &str,
    source: &str,
) -> Result<(), sqlx::Error> {
    db.execute(
        "INSERT INTO users (telegram_id, nickname, credits, created_at, updated_at, registered_by)
         VALUES (?, NULL, 0, ?, ?, ?)",
        &[
            Value::Int(telegram_id),
            Value::Text(now),
            Value::Text(now),
            Value::Text(source),
        ],
    )?;
    Ok(())
}

/// An [`OriginalRecord`] from a row of its columns in declaration order.
fn original_record(row: &raw::Row) -> OriginalRecord {
    OriginalRecord {
        id: row.int(0),
        telegram_id: row.int(1),
        source: row.text(2),
        change: row.int(3),
        reason: row.text(4),
        balance_after: row.int(5),
        hold_id: row.opt_text(6),
        reverses: row.opt_int(7),
        transfer_id: row.opt_text(8),
    }
}

/// A user's balance, nickname and open, unexpired holds (`?1` now in Unix ms, `?2` the user).
const BALANCE_SQL: &str = "SELECT credits, nickname,
        (SELECT COALESCE(SUM(amount), 0) FROM holds
         WHERE holds.telegram_id = users.telegram_id AND state = 'open' AND expires_at_ms > ?1)
            AS held
     FROM users WHERE telegram_id = ?2";

/// `verify`: users whose `held` is not the sum of their open holds (expired or not).
const VERIFY_HELD: &str = "SELECT u.telegram_id, u.held, COALESCE(SUM(h.amount), 0) AS sum
     FROM users u LEFT JOIN holds h ON h.telegram_id = u.telegram_id AND h.state = 'open'
     GROUP BY u.telegram_id
     HAVING u.held <> COALESCE(SUM(h.amount), 0)";

/// `verify`: holds whose capture does not match their record: a captured hold has one
/// record, of its user and linked back to it, deducting what it captured; any other hold
/// has none and captured nothing; and no other record names a hold.
const VERIFY_CAPTURES: &str = "SELECT h.hold_id, h.amount, h.captured, r.change AS record_change
     FROM holds h LEFT JOIN records r ON r.id = h.record_id
     WHERE (h.state = 'captured'
            AND (r.id IS NULL OR r.change <> -h.captured OR h.captured <= 0
                 OR r.hold_id IS NOT h.hold_id OR r.telegram_id <> h.telegram_id))
        OR (h.state <> 'captured' AND (h.record_id IS NOT NULL OR h.captured <> 0))
     UNION ALL
     SELECT h.hold_id, h.amount, h.captured, r.change AS record_change
     FROM records r JOIN holds h ON h.hold_id = r.hold_id
     WHERE h.record_id IS NOT r.id";

/// `verify`: records whose reversals sum to more than them, have their own sign, are of
/// another user, or that are themselves not reversible (a reversal, a transfer's leg).
const VERIFY_REVERSALS: &str = "SELECT o.id, o.change, SUM(r.change) AS reversed
     FROM records r JOIN records o ON o.id = r.reverses
     GROUP BY o.id
     HAVING ABS(SUM(r.change)) > ABS(o.change)
         OR (o.change > 0 AND MAX(r.change) > 0)
         OR (o.change < 0 AND MIN(r.change) < 0)
         OR MAX(r.telegram_id <> o.telegram_id) = 1
         OR o.reverses IS NOT NULL OR o.transfer_id IS NOT NULL";

/// `verify`: transfers that are not exactly one debit and one credit of one amount.
const VERIFY_TRANSFERS: &str = "SELECT transfer_id, COUNT(*) AS legs, SUM(change) AS sum
     FROM records WHERE transfer_id IS NOT NULL
     GROUP BY transfer_id
     HAVING COUNT(*) <> 2 OR SUM(change) <> 0";

/// The rules of one change, inside the writer's transaction. Writes only when it returns
/// `Ok(Ok(applied))` with `duplicate == false`.
fn apply_in(db: &mut Db, actor: &Actor, change: &Change) -> Result<Outcome, sqlx::Error> {
    // The replay check comes first, so a replayed deduct succeeds whatever the balance is now.
    if let Some(outcome) = original(db, actor, change)? {
        return Ok(outcome);
    }

    let now = now_rfc3339();
    let user = match funds::stored(db, change.telegram_id)? {
        Some(user) => user,
        None if change.amount > 0 && actor.auto_register => {
            register_unknown(db, change.telegram_id, &now, &actor.source)?;
            Funds {
                credits: 0,
                held: 0,
            }
        }
        None => return Ok(Err(Refusal::user_not_found(change.telegram_id))),
    };
    let credits = user.credits;

    let Some(balance) = credits.checked_add(change.amount) else {
        return Ok(Err(Refusal::balance_overflow(credits, change.amount)));
    };
    if change.amount < 0 {
        // A deduct takes only what no open hold reserves; no holds query when none is held.
        let held = funds::settle_expired(db, change.telegram_id, user.held, now_ms())?;
        if balance < held {
            return Ok(Err(Refusal::unavailable(credits, held, change.amount)));
        }
    }

    let hash = request_hash(&actor.source, change);
    let record_id = funds::write_record(
        db,
        &NewRecord {
            telegram_id: change.telegram_id,
            source: &actor.source,
            change: change.amount,
            balance_after: balance,
            reason: &change.reason,
            reference: change.reference.as_deref(),
            request_hash: &hash,
            created_at: &now,
            hold_id: None,
            reverses: None,
            transfer_id: None,
        },
    )?;
    Ok(Ok(Applied {
        record_id,
        telegram_id: change.telegram_id,
        change: change.amount,
        balance,
        duplicate: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use credit_sync::protocol::Code;

    /// A ledger on a fresh file (kept while the directory lives).
    async fn fresh_ledger() -> (tempfile::TempDir, SqliteLedger) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let ledger = SqliteLedger::open(&url, true).await.unwrap();
        (dir, ledger)
    }

    fn actor() -> Actor {
        Actor {
            source: "s".into(),
            auto_register: true,
            admin: false,
        }
    }

    /// One credit to `user`, unreferenced.
    fn add_one(user: i64) -> Change {
        Change {
            telegram_id: user,
            amount: 1,
            reason: "r".into(),
            reference: None,
        }
    }

    #[tokio::test]
    async fn spent_signatures_are_refused_until_they_expire_and_are_pruned() {
        let (_dir, ledger) = fresh_ledger().await;
        let (actor, change) = (actor(), || add_one(1));
        let now = crate::error::unix_now();
        let live = || Spend::new("s", vec!["00000000000000aa".into()], now, 300);
        assert!(ledger
            .apply(actor.clone(), change(), live())
            .await
            .unwrap()
            .is_ok());
        let again = ledger.apply(actor.clone(), change(), live()).await.unwrap();
        assert_eq!(again.unwrap_err().code, Code::SignatureReused);

        // Signed long ago (no server accepts them any more): each group commit (here one
        // per write) prunes the oldest second, so the table keeps only the live signature.
        for i in 0..20 {
            let old = Spend::new("s", vec![format!("{i:064x}")], now - 1_000 - i, 300);
            assert!(ledger
                .apply(actor.clone(), change(), old)
                .await
                .unwrap()
                .is_ok());
        }
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM spent_signatures")
            .fetch_one(&ledger.store.reader)
            .await
            .unwrap();
        assert_eq!(rows, 1);
        ledger.close().await;
    }

    /// Sequential writes leave checkpoints to the writer (inline, at the WAL's limit);
    /// writes that come in groups get them in the background.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn background_checkpoints_run_only_while_writes_come_in_groups() {
        let (_dir, ledger) = fresh_ledger().await;
        let (actor, change) = (actor(), add_one);
        for _ in 0..40 {
            let spend = Spend::unsigned("s", 300);
            assert!(ledger
                .apply(actor.clone(), change(1), spend)
                .await
                .unwrap()
                .is_ok());
        }
        tokio::time::sleep(checkpoint::EVERY * 3).await;
        assert_eq!(ledger.checkpoints.runs(), 0, "sequential writes");

        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while ledger.checkpoints.runs() == 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "no background checkpoint"
            );
            let writes = (0..16).map(|user| {
                let (ledger, actor) = (ledger.clone(), actor.clone());
                tokio::spawn(async move {
                    for _ in 0..10 {
                        let spend = Spend::unsigned("s", 300);
                        ledger
                            .apply(actor.clone(), change(2 + user), spend)
                            .await
                            .unwrap()
                            .unwrap();
                    }
                })
            });
            for write in writes.collect::<Vec<_>>() {
                write.await.unwrap();
            }
        }
        ledger.close().await;
    }
}
