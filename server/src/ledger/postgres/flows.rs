//! The money flows on PostgreSQL (holds, reversals, transfers): each is one transaction at
//! READ COMMITTED that spends its signature, locks the users whose money it moves (a user
//! always before any of their holds), reads what it judges only after those locks, and
//! decides before it writes. A statement that starts after a row lock sees everything
//! committed before it, and no hold of a user changes without that user's lock: so no
//! judgement ever rests on a snapshot older than the lock (as a subquery inside an
//! `UPDATE`'s `WHERE`, taken before the wait, would be).

use super::{detached, ledger_error, prune, retrying, spend_in, unknown_if_lost, BALANCE_SQL};
use crate::ledger::hold::{self, Verdict};
use crate::ledger::rows::{BalanceRow, HoldRow, OriginalRecord};
use crate::ledger::{
    now_ms, reversal, transfer, Actor, HoldApplied, LedgerError, Leg, NewHold, Refusal, Resolve,
    Reversal, Reversed, Spend, Target, Transfer, Transferred,
};
use credit_sync::protocol::{limits, Code, HoldState};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::Connection;
use std::future::Future;

/// A hold as [`HoldRow`] reads it, its times as the RFC 3339 text `records` uses.
macro_rules! hold_columns {
    () => {
        r#"hold_id, telegram_id, source, amount, captured, state, reason, external_reference,
           to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS created_at,
           expires_at_ms,
           to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
               AS resolved_at,
           record_id, resolved_by, resolution_reference"#
    };
}

/// A record as [`OriginalRecord`] reads it.
macro_rules! record_columns {
    () => {
        "id, telegram_id, source, change, reason, balance_after, hold_id, reverses, transfer_id"
    };
}

/// One money flow's transaction: it spends the signature, decides and writes; [`run`]
/// then commits or rolls back as it decided.
pub(super) trait Flow: Send + Sync + 'static {
    type Answer: Send + 'static;

    fn run(
        &self,
        conn: &mut PgConnection,
        spend: &Spend,
    ) -> impl Future<Output = Result<Decided<Self::Answer>, sqlx::Error>> + Send;
}

/// What a flow answers, and whether its transaction keeps what it wrote.
pub(super) struct Decided<T> {
    outcome: Result<T, Refusal>,
    commit: bool,
}

impl<T> Decided<T> {
    /// A change, or a refusal: commits (a refusal keeps only its spent signature).
    fn kept(outcome: Result<T, Refusal>) -> Self {
        Decided {
            outcome,
            commit: true,
        }
    }

    /// The answer to a reference used before: a duplicate keeps nothing (not even the
    /// signature, as for a replayed change); a conflict keeps the spent signature.
    fn replayed(outcome: Result<T, Refusal>) -> Self {
        let commit = outcome.is_err();
        Decided { outcome, commit }
    }

    /// The signature was spent before: only the same call's replay is answered as before;
    /// anything else is a captured signature sent again. Nothing is kept.
    fn spent(replay: Option<Result<T, Refusal>>) -> Self {
        let outcome = match replay {
            Some(Ok(answer)) => Ok(answer),
            _ => Err(Refusal::signature_reused()),
        };
        Decided {
            outcome,
            commit: false,
        }
    }
}

/// Runs `flow` detached (a client that goes away cannot cut it in half) and retried on
/// serialization failures and deadlocks, as `apply` runs a change.
pub(super) async fn run<F: Flow>(
    pool: &PgPool,
    flow: F,
    spend: Spend,
) -> Result<Result<F::Answer, Refusal>, LedgerError> {
    let pool = pool.clone();
    detached(async move {
        let (pool, flow, signed) = (&pool, &flow, &spend);
        let outcome = retrying(move || async move {
            let mut tx = pool.begin().await?;
            let decided = flow.run(&mut tx, signed).await?;
            if decided.commit {
                tx.commit().await.map_err(unknown_if_lost)?;
            } else {
                tx.rollback().await?;
            }
            Ok(decided.outcome)
        })
        .await?;
        prune(pool, signed).await;
        Ok(outcome)
    })
    .await
    .map_err(ledger_error)
}

/// How the locked part of a flow went.
enum Step<T> {
    Done(T),
    Refused(Refusal),
    /// A twin with the same reference committed first (the insert found it taken); this
    /// flow wrote nothing that is kept.
    Raced,
}

impl<T> Step<T> {
    fn is_done(&self) -> bool {
        matches!(self, Step::Done(_))
    }
}

/// The answer after `step`. A refusal or a lost race may come from a twin of this call
/// (same reference) that committed while this one waited for a lock: then, as if one had
/// run after the other, this call is that one's replay (`replay`, looked up after `step`).
fn conclude<T>(
    step: Step<T>,
    replay: Option<Result<T, Refusal>>,
) -> Result<Decided<T>, sqlx::Error> {
    match (step, replay) {
        (Step::Done(answer), _) => Ok(Decided::kept(Ok(answer))),
        (_, Some(replay)) => Ok(Decided::replayed(replay)),
        (Step::Refused(refusal), None) => Ok(Decided::kept(Err(refusal))),
        (Step::Raced, None) => Err(vanished("a reference taken by a twin")),
    }
}

/// A row the schema promises (a foreign key, or one just read under a lock) is missing.
fn vanished(what: &str) -> sqlx::Error {
    sqlx::Error::Protocol(format!("{what} vanished inside its transaction"))
}

/// A fingerprint of what a money-flow call asked, kept with its rows for audits (as
/// `request_hash` is for a change): the operation's name, the source, then its fields.
fn fingerprint(parts: &[&str]) -> String {
    hex::encode(Sha256::digest(parts.join("\n").as_bytes()))
}

// ---------------------------------------------------------------------------
// A user's row under lock, and what their holds hold
// ---------------------------------------------------------------------------

/// A user's row under this transaction's lock, and their holds as of the flow's `now`.
pub(super) struct Locked {
    pub(super) credits: i64,
    /// `users.held`: the open holds, expired or not.
    held: i64,
    /// The open holds that have not expired: what `available` subtracts.
    pub(super) live: i64,
    /// How many holds `live` sums, where a flow counts them (placing a hold).
    open: i64,
}

impl Locked {
    /// The refusal when the available credits do not cover `amount` (negative).
    pub(super) fn short_of(&self, amount: i64) -> Option<Refusal> {
        let available = i128::from(self.credits) - i128::from(self.live);
        (available < i128::from(amount).abs())
            .then(|| Refusal::unavailable(self.credits, self.live, amount))
    }

    /// Whether some open hold has expired: the next write of the row settles it.
    pub(super) fn settles(&self) -> bool {
        self.held != self.live
    }
}

/// Locks `telegram_id`'s row (waiting for any write of it in flight), then reads their
/// holds; `None` for an unknown user. A user without holds costs one statement.
pub(super) async fn lock_user(
    conn: &mut PgConnection,
    telegram_id: i64,
    now: i64,
) -> Result<Option<Locked>, sqlx::Error> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT credits, held FROM users WHERE telegram_id = $1 FOR UPDATE")
            .bind(telegram_id)
            .fetch_optional(&mut *conn)
            .await?;
    let Some((credits, held)) = row else {
        return Ok(None);
    };
    locked(conn, telegram_id, credits, held, now)
        .await
        .map(Some)
}

/// A user whose row this transaction has locked, with their holds read now.
async fn locked(
    conn: &mut PgConnection,
    telegram_id: i64,
    credits: i64,
    held: i64,
    now: i64,
) -> Result<Locked, sqlx::Error> {
    let (live, open) = if held == 0 {
        (0, 0)
    } else {
        sqlx::query_as(
            "SELECT COALESCE(SUM(amount), 0)::BIGINT, COUNT(*) FROM holds
             WHERE telegram_id = $1 AND state = 'open' AND expires_at_ms > $2",
        )
        .bind(telegram_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?
    };
    Ok(Locked {
        credits,
        held,
        live,
        open,
    })
}

/// Moves a locked user's `credits` and `held` by these deltas; returns the new values.
/// With `settle`, the same statement marks the user's open holds past `now` expired and
/// takes them out of `held` (which stays the sum of the open holds).
pub(super) async fn move_user(
    conn: &mut PgConnection,
    telegram_id: i64,
    now: i64,
    credits: i64,
    held: i64,
    settle: bool,
) -> Result<(i64, i64), sqlx::Error> {
    if settle {
        sqlx::query_as(
            "WITH expired AS (
                 UPDATE holds SET state = 'expired'
                 WHERE telegram_id = $1 AND state = 'open' AND expires_at_ms <= $4
                 RETURNING amount)
             UPDATE users SET credits = credits + $2,
                 held = held + $3 - (SELECT COALESCE(SUM(amount), 0) FROM expired)::BIGINT,
                 updated_at = now()
             WHERE telegram_id = $1
             RETURNING credits, held",
        )
        .bind(telegram_id)
        .bind(credits)
        .bind(held)
        .bind(now)
        .fetch_one(&mut *conn)
        .await
    } else {
        sqlx::query_as(
            "UPDATE users SET credits = credits + $2, held = held + $3, updated_at = now()
             WHERE telegram_id = $1
             RETURNING credits, held",
        )
        .bind(telegram_id)
        .bind(credits)
        .bind(held)
        .fetch_one(&mut *conn)
        .await
    }
}

/// A record of `source` by its reference.
async fn record_by_reference(
    conn: &mut PgConnection,
    source: &str,
    reference: &str,
) -> Result<Option<OriginalRecord>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        record_columns!(),
        " FROM records WHERE source = $1 AND external_reference = $2"
    ))
    .bind(source)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await
}

// ---------------------------------------------------------------------------
// Holds
// ---------------------------------------------------------------------------

/// `place_hold`.
pub(super) struct PlaceHold {
    pub(super) actor: Actor,
    pub(super) hold: NewHold,
}

impl Flow for PlaceHold {
    type Answer = HoldApplied;

    async fn run(
        &self,
        conn: &mut PgConnection,
        spend: &Spend,
    ) -> Result<Decided<HoldApplied>, sqlx::Error> {
        let (actor, hold) = (&self.actor, &self.hold);
        let now = now_ms();
        if !spend_in(conn, spend).await? {
            return Ok(Decided::spent(hold_replay(conn, actor, hold, now).await?));
        }
        if let Some(replay) = hold_replay(conn, actor, hold, now).await? {
            return Ok(Decided::replayed(replay));
        }
        let step = place(conn, actor, hold, now).await?;
        let replay = if step.is_done() {
            None
        } else {
            hold_replay(conn, actor, hold, now).await?
        };
        conclude(step, replay)
    }
}

/// The hold on the locked user, when the limits and the available credits allow it.
/// Everything is decided before the first write (the hold's insert, which is also where a
/// twin's reference is found taken).
async fn place(
    conn: &mut PgConnection,
    actor: &Actor,
    hold: &NewHold,
    now: i64,
) -> Result<Step<HoldApplied>, sqlx::Error> {
    let Some(user) = lock_user(conn, hold.telegram_id, now).await? else {
        return Ok(Step::Refused(Refusal::user_not_found(hold.telegram_id)));
    };
    if user.open >= limits::MAX_OPEN_HOLDS_PER_USER as i64 {
        return Ok(Step::Refused(hold::too_many(hold.telegram_id)));
    }
    if let Some(refusal) = user.short_of(-hold.amount) {
        return Ok(Step::Refused(refusal));
    }
    let hash = fingerprint(&[
        "hold",
        &actor.source,
        &hold.telegram_id.to_string(),
        &hold.amount.to_string(),
        &hold.reason,
        hold.reference.as_deref().unwrap_or(""),
        &hold.ttl_secs.to_string(),
    ]);
    let placed: Option<HoldRow> = sqlx::query_as(concat!(
        "INSERT INTO holds (hold_id, telegram_id, source, amount, reason, external_reference,
                            request_hash, expires_at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT ON CONSTRAINT holds_source_reference DO NOTHING
         RETURNING ",
        hold_columns!()
    ))
    .bind(hold::new_hold_id())
    .bind(hold.telegram_id)
    .bind(&actor.source)
    .bind(hold.amount)
    .bind(&hold.reason)
    .bind(&hold.reference)
    .bind(hash)
    .bind(hold::expires_at_ms(now, hold.ttl_secs))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = placed else {
        return Ok(Step::Raced);
    };
    let (credits, _) =
        move_user(conn, hold.telegram_id, now, 0, hold.amount, user.settles()).await?;
    let row = hold::as_of(row, now);
    let held = if row.state == HoldState::Open.as_str() {
        user.live + row.amount
    } else {
        user.live
    };
    Ok(Step::Done(HoldApplied {
        hold: row,
        credits,
        held,
        duplicate: false,
    }))
}

/// The answer to a hold whose reference this source used before: its replay, or the
/// conflict; `None` when the reference is new (or there is none).
async fn hold_replay(
    conn: &mut PgConnection,
    actor: &Actor,
    hold: &NewHold,
    now: i64,
) -> Result<Option<Result<HoldApplied, Refusal>>, sqlx::Error> {
    let Some(reference) = &hold.reference else {
        return Ok(None);
    };
    let original: Option<HoldRow> = sqlx::query_as(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM holds WHERE source = $1 AND external_reference = $2"
    ))
    .bind(&actor.source)
    .bind(reference)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(original) = original else {
        return Ok(None);
    };
    if let Err(conflict) = hold::replay_hold(hold, &original) {
        return Ok(Some(Err(conflict)));
    }
    Ok(Some(Ok(hold_view(conn, original, now, true).await?)))
}

/// `row` as of `now`, with its user's balance view (read without a lock).
async fn hold_view(
    conn: &mut PgConnection,
    row: HoldRow,
    now: i64,
    duplicate: bool,
) -> Result<HoldApplied, sqlx::Error> {
    let user: BalanceRow = sqlx::query_as(BALANCE_SQL)
        .bind(row.telegram_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
    Ok(HoldApplied {
        hold: hold::as_of(row, now),
        credits: user.credits,
        held: user.held,
        duplicate,
    })
}

/// A hold by its id (without a lock).
async fn find_hold(conn: &mut PgConnection, hold_id: &str) -> Result<Option<HoldRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM holds WHERE hold_id = $1"
    ))
    .bind(hold_id)
    .fetch_optional(&mut *conn)
    .await
}

/// A hold under this transaction's lock, and what its user's open, unexpired holds hold.
#[derive(sqlx::FromRow)]
struct LockedHold {
    #[sqlx(flatten)]
    row: HoldRow,
    live: i64,
}

/// `resolve_hold`.
pub(super) struct ResolveHold {
    pub(super) actor: Actor,
    pub(super) resolve: Resolve,
}

impl Flow for ResolveHold {
    type Answer = HoldApplied;

    async fn run(
        &self,
        conn: &mut PgConnection,
        spend: &Spend,
    ) -> Result<Decided<HoldApplied>, sqlx::Error> {
        let (actor, resolve) = (&self.actor, &self.resolve);
        let now = now_ms();
        if !spend_in(conn, spend).await? {
            let replay = match find_hold(conn, &resolve.hold_id).await? {
                Some(row) if hold::judge(actor, &row, resolve, now) == Verdict::Replay => {
                    Some(Ok(hold_view(conn, row, now, true).await?))
                }
                _ => None,
            };
            return Ok(Decided::spent(replay));
        }
        // The hold's user, locked first. A hold's user never changes, so the join may read
        // the hold as it was before the lock.
        let owner: Option<(i64, i64, i64)> = sqlx::query_as(
            "SELECT u.telegram_id, u.credits, u.held
             FROM holds h JOIN users u ON u.telegram_id = h.telegram_id
             WHERE h.hold_id = $1
             FOR UPDATE OF u",
        )
        .bind(&resolve.hold_id)
        .fetch_optional(&mut *conn)
        .await?;
        let Some((owner, credits, held)) = owner else {
            return Ok(Decided::kept(Err(hold::not_found(&resolve.hold_id))));
        };
        // Then the hold, locked, with the user's live holds: this statement starts after
        // the user's lock, so it sees every hold committed before it.
        let LockedHold { row, live } = sqlx::query_as(concat!(
            "SELECT ",
            hold_columns!(),
            ", (SELECT COALESCE(SUM(o.amount), 0) FROM holds o
                WHERE o.telegram_id = holds.telegram_id AND o.state = 'open'
                  AND o.expires_at_ms > $2)::BIGINT AS live
             FROM holds WHERE hold_id = $1 FOR UPDATE"
        ))
        .bind(&resolve.hold_id)
        .bind(now)
        .fetch_one(&mut *conn)
        .await?;
        let user = Locked {
            credits,
            held,
            live,
            open: 0,
        };
        let (state, captured) = match hold::judge(actor, &row, resolve, now) {
            Verdict::Capture(amount) => (HoldState::Captured, amount),
            Verdict::Void => (HoldState::Voided, 0),
            Verdict::Replay => {
                return Ok(Decided::replayed(Ok(HoldApplied {
                    hold: hold::as_of(row, now),
                    credits: user.credits,
                    held: user.live,
                    duplicate: true,
                })));
            }
            Verdict::Refused(refusal) => {
                let refusal = if refusal.code == Code::HoldResolved {
                    refusal.with_hold(HoldApplied {
                        hold: hold::as_of(row, now),
                        credits: user.credits,
                        held: user.live,
                        duplicate: false,
                    })
                } else {
                    refusal
                };
                return Ok(Decided::kept(Err(refusal)));
            }
        };
        let record_id: Option<i64> = if state == HoldState::Captured {
            let hash = fingerprint(&[
                "capture",
                &actor.source,
                &row.hold_id,
                &captured.to_string(),
                resolve.reference.as_deref().unwrap_or(""),
            ]);
            let id = sqlx::query_scalar(
                "INSERT INTO records (telegram_id, source, change, balance_after, reason,
                                      external_reference, request_hash, hold_id)
                 VALUES ($1, $2, $3, $4, $5, NULL, $6, $7)
                 RETURNING id",
            )
            .bind(owner)
            .bind(&actor.source)
            .bind(-captured)
            .bind(user.credits - captured)
            .bind(&row.reason)
            .bind(hash)
            .bind(&row.hold_id)
            .fetch_one(&mut *conn)
            .await?;
            Some(id)
        } else {
            None
        };
        let row: HoldRow = sqlx::query_as(concat!(
            "UPDATE holds SET state = $2, captured = $3, record_id = $4, resolved_by = $5,
                              resolution_reference = $6, resolved_at = now()
             WHERE hold_id = $1
             RETURNING ",
            hold_columns!()
        ))
        .bind(&row.hold_id)
        .bind(state.as_str())
        .bind(captured)
        .bind(record_id)
        .bind(&actor.source)
        .bind(&resolve.reference)
        .fetch_one(&mut *conn)
        .await?;
        let (credits, _) =
            move_user(conn, owner, now, -captured, -row.amount, user.settles()).await?;
        Ok(Decided::kept(Ok(HoldApplied {
            credits,
            held: user.live - row.amount,
            hold: hold::as_of(row, now),
            duplicate: false,
        })))
    }
}

/// A user's balance view and open, unexpired holds (oldest first), from one snapshot.
pub(super) async fn holds(
    pool: &PgPool,
    telegram_id: i64,
) -> Result<Option<(BalanceRow, Vec<HoldRow>)>, sqlx::Error> {
    let now = now_ms();
    let mut tx = pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let user: Option<BalanceRow> = sqlx::query_as(BALANCE_SQL)
        .bind(telegram_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
    let Some(user) = user else {
        tx.rollback().await?;
        return Ok(None);
    };
    let open: Vec<HoldRow> = sqlx::query_as(concat!(
        "SELECT ",
        hold_columns!(),
        " FROM holds WHERE telegram_id = $1 AND state = 'open' AND expires_at_ms > $2
          ORDER BY created_at, hold_id"
    ))
    .bind(telegram_id)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((user, open)))
}

// ---------------------------------------------------------------------------
// Reversals
// ---------------------------------------------------------------------------

/// `reverse`.
pub(super) struct Reverse {
    pub(super) actor: Actor,
    pub(super) reversal: Reversal,
}

impl Flow for Reverse {
    type Answer = Reversed;

    async fn run(
        &self,
        conn: &mut PgConnection,
        spend: &Spend,
    ) -> Result<Decided<Reversed>, sqlx::Error> {
        let (actor, reversal) = (&self.actor, &self.reversal);
        let now = now_ms();
        if !spend_in(conn, spend).await? {
            return Ok(Decided::spent(
                reversal_replay(conn, actor, reversal).await?,
            ));
        }
        if let Some(replay) = reversal_replay(conn, actor, reversal).await? {
            return Ok(Decided::replayed(replay));
        }
        let original = match &reversal.target {
            Target::Record(id) => {
                sqlx::query_as(concat!(
                    "SELECT ",
                    record_columns!(),
                    " FROM records WHERE id = $1"
                ))
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?
            }
            Target::Reference(reference) => {
                record_by_reference(conn, &actor.source, reference).await?
            }
        };
        let Some(original) = original else {
            return Ok(Decided::kept(Err(reversal::not_found(&reversal.target))));
        };
        let step = reverse(conn, actor, reversal, &original, now).await?;
        let replay = if step.is_done() {
            None
        } else {
            reversal_replay(conn, actor, reversal).await?
        };
        conclude(step, replay)
    }
}

/// The reversal of `original`, under its user's lock: what was reversed before is summed
/// after the lock, so two concurrent partial reversals never exceed the original.
async fn reverse(
    conn: &mut PgConnection,
    actor: &Actor,
    reversal: &Reversal,
    original: &OriginalRecord,
    now: i64,
) -> Result<Step<Reversed>, sqlx::Error> {
    let telegram_id = original.telegram_id;
    let user = lock_user(conn, telegram_id, now)
        .await?
        .ok_or_else(|| vanished("the user of a record"))?;
    let already: i64 = sqlx::query_scalar(
        "SELECT COALESCE(SUM(ABS(change)), 0)::BIGINT FROM records WHERE reverses = $1",
    )
    .bind(original.id)
    .fetch_one(&mut *conn)
    .await?;
    let change = match reversal::judge(actor, original, already, reversal) {
        Ok(change) => change,
        Err(refusal) => return Ok(Step::Refused(refusal)),
    };
    if change < 0 {
        if let Some(refusal) = user.short_of(change) {
            return Ok(Step::Refused(refusal));
        }
    }
    let Some(balance) = user.credits.checked_add(change) else {
        return Ok(Step::Refused(Refusal::balance_overflow(
            user.credits,
            change,
        )));
    };
    let hash = fingerprint(&[
        "reverse",
        &actor.source,
        &original.id.to_string(),
        &change.to_string(),
        &reversal.reason,
        reversal.reference.as_deref().unwrap_or(""),
    ]);
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO records (telegram_id, source, change, balance_after, reason,
                              external_reference, request_hash, reverses)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (source, external_reference) DO NOTHING
         RETURNING id",
    )
    .bind(telegram_id)
    .bind(&actor.source)
    .bind(change)
    .bind(balance)
    .bind(&reversal.reason)
    .bind(&reversal.reference)
    .bind(hash)
    .bind(original.id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(record_id) = inserted else {
        return Ok(Step::Raced);
    };
    let (balance, _) = move_user(conn, telegram_id, now, change, 0, user.settles()).await?;
    let reversed = already + change.abs();
    Ok(Step::Done(Reversed {
        record_id,
        reverses: original.id,
        telegram_id,
        change,
        balance,
        reversed,
        remaining: original.change.abs() - reversed,
        duplicate: false,
    }))
}

/// The answer to a reversal whose reference this source used before: its replay (with
/// what is reversed and left now), or the conflict; `None` when the reference is new.
async fn reversal_replay(
    conn: &mut PgConnection,
    actor: &Actor,
    reversal: &Reversal,
) -> Result<Option<Result<Reversed, Refusal>>, sqlx::Error> {
    let Some(reference) = &reversal.reference else {
        return Ok(None);
    };
    let Some(earlier) = record_by_reference(conn, &actor.source, reference).await? else {
        return Ok(None);
    };
    let target_id = match &reversal.target {
        Target::Record(id) => Some(*id),
        Target::Reference(original) => record_by_reference(conn, &actor.source, original)
            .await?
            .map(|record| record.id),
    };
    if let Err(conflict) = reversal::replay(reversal, target_id, &earlier) {
        return Ok(Some(Err(conflict)));
    }
    let reverses = earlier
        .reverses
        .ok_or_else(|| vanished("a reversal's link"))?;
    let (original, reversed): (i64, i64) = sqlx::query_as(
        "SELECT o.change,
                (SELECT COALESCE(SUM(ABS(r.change)), 0) FROM records r WHERE r.reverses = o.id)::BIGINT
         FROM records o WHERE o.id = $1",
    )
    .bind(reverses)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(Ok(Reversed {
        record_id: earlier.id,
        reverses,
        telegram_id: earlier.telegram_id,
        change: earlier.change,
        balance: earlier.balance_after,
        reversed,
        remaining: original.abs() - reversed,
        duplicate: true,
    })))
}

// ---------------------------------------------------------------------------
// Transfers
// ---------------------------------------------------------------------------

/// `transfer`.
pub(super) struct MoveCredits {
    pub(super) actor: Actor,
    pub(super) transfer: Transfer,
}

impl Flow for MoveCredits {
    type Answer = Transferred;

    async fn run(
        &self,
        conn: &mut PgConnection,
        spend: &Spend,
    ) -> Result<Decided<Transferred>, sqlx::Error> {
        let (actor, transfer) = (&self.actor, &self.transfer);
        let now = now_ms();
        if !spend_in(conn, spend).await? {
            return Ok(Decided::spent(
                transfer_replay(conn, actor, transfer).await?,
            ));
        }
        if let Some(replay) = transfer_replay(conn, actor, transfer).await? {
            return Ok(Decided::replayed(replay));
        }
        // A savepoint: registering the receiver writes before the last checks.
        let mut item = conn.begin().await?;
        let step = move_credits(&mut item, actor, transfer, now).await?;
        if step.is_done() {
            item.commit().await?;
        } else {
            item.rollback().await?;
        }
        let replay = if step.is_done() {
            None
        } else {
            transfer_replay(conn, actor, transfer).await?
        };
        conclude(step, replay)
    }
}

/// Both legs, under both users' locks (taken in ascending `telegram_id`, so opposite
/// transfers never deadlock).
async fn move_credits(
    conn: &mut PgConnection,
    actor: &Actor,
    transfer: &Transfer,
    now: i64,
) -> Result<Step<Transferred>, sqlx::Error> {
    let (from, to, amount) = (transfer.from, transfer.to, transfer.amount);
    if from == to {
        // Validation refuses it; both legs on one balance would break its chain.
        return Err(sqlx::Error::Protocol(
            "a transfer to its own sender reached the ledger".into(),
        ));
    }
    let mut users = [from, to];
    users.sort_unstable();
    let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
        "SELECT telegram_id, credits, held FROM users WHERE telegram_id = ANY($1)
         ORDER BY telegram_id FOR UPDATE",
    )
    .bind(&users[..])
    .fetch_all(&mut *conn)
    .await?;
    let row = |id: i64| rows.iter().find(|row| row.0 == id).copied();
    let Some((_, credits, held)) = row(from) else {
        return Ok(Step::Refused(Refusal::user_not_found(from)));
    };
    let receiver = match row(to) {
        Some((_, credits, _)) => credits,
        None if actor.auto_register => register(conn, to, &actor.source).await?,
        None => return Ok(Step::Refused(Refusal::user_not_found(to))),
    };
    let sender = locked(conn, from, credits, held, now).await?;
    if let Some(refusal) = sender.short_of(-amount) {
        return Ok(Step::Refused(refusal));
    }
    let Some(received) = receiver.checked_add(amount) else {
        return Ok(Step::Refused(Refusal::balance_overflow(receiver, amount)));
    };
    let transfer_id = hold::new_transfer_id();
    let hash = fingerprint(&[
        "transfer",
        &actor.source,
        &from.to_string(),
        &to.to_string(),
        &amount.to_string(),
        &transfer.reason,
        transfer.reference.as_deref().unwrap_or(""),
    ]);
    let leg = |telegram_id: i64, change: i64, balance: i64, reference: Option<&String>| {
        sqlx::query_scalar(
            "INSERT INTO records (telegram_id, source, change, balance_after, reason,
                                  external_reference, request_hash, transfer_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (source, external_reference) DO NOTHING
             RETURNING id",
        )
        .bind(telegram_id)
        .bind(&actor.source)
        .bind(change)
        .bind(balance)
        .bind(&transfer.reason)
        .bind(reference.cloned())
        .bind(hash.clone())
        .bind(transfer_id.clone())
    };
    let sent = credits - amount;
    let debit: Option<i64> = leg(from, -amount, sent, transfer.reference.as_ref())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(debit) = debit else {
        return Ok(Step::Raced);
    };
    let credit: i64 = leg(to, amount, received, None)
        .fetch_one(&mut *conn)
        .await?;
    move_user(conn, from, now, -amount, 0, sender.settles()).await?;
    move_user(conn, to, now, amount, 0, false).await?;
    Ok(Step::Done(Transferred {
        transfer_id,
        amount,
        from: Leg {
            telegram_id: from,
            record_id: debit,
            change: -amount,
            balance: sent,
        },
        to: Leg {
            telegram_id: to,
            record_id: credit,
            change: amount,
            balance: received,
        },
        duplicate: false,
    }))
}

/// Registers an unknown receiver (or finds one a concurrent write just registered) and
/// locks its row; returns its credits.
async fn register(
    conn: &mut PgConnection,
    telegram_id: i64,
    source: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (telegram_id, registered_by) VALUES ($1, $2)
         ON CONFLICT (telegram_id) DO NOTHING",
    )
    .bind(telegram_id)
    .bind(source)
    .execute(&mut *conn)
    .await?;
    sqlx::query_scalar("SELECT credits FROM users WHERE telegram_id = $1 FOR UPDATE")
        .bind(telegram_id)
        .fetch_one(&mut *conn)
        .await
}

/// The answer to a transfer whose reference this source used before: its replay, or the
/// conflict; `None` when the reference is new.
async fn transfer_replay(
    conn: &mut PgConnection,
    actor: &Actor,
    transfer: &Transfer,
) -> Result<Option<Result<Transferred, Refusal>>, sqlx::Error> {
    let Some(reference) = &transfer.reference else {
        return Ok(None);
    };
    let Some(debit) = record_by_reference(conn, &actor.source, reference).await? else {
        return Ok(None);
    };
    let credit: Option<OriginalRecord> = match &debit.transfer_id {
        Some(transfer_id) => {
            sqlx::query_as(concat!(
                "SELECT ",
                record_columns!(),
                " FROM records WHERE transfer_id = $1 AND id <> $2"
            ))
            .bind(transfer_id)
            .bind(debit.id)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => None,
    };
    Ok(Some(transfer::replay(transfer, &debit, credit.as_ref())))
}
