//! The feed on SQLite. The one group-commit writer commits in queue order, so the outbox's
//! AUTOINCREMENT `seq` is commit order already; [`track`] turns the writer's commits into
//! the [`Notifier`]'s latest seq, and [`prune`] runs in the writer's upkeep.

use super::{Notifier, PageRow, Read, Retention, PRUNE_LIMIT};
use crate::ledger::sqlite_raw::{Db, Value};
use crate::ledger::{sqlite_error, LedgerError, SQLITE_UNKNOWN_MARK as UNKNOWN_MARK};
use sqlx::SqlitePool;
use tokio::sync::watch;

/// The columns of a [`PageRow`], with the horizon in one statement (one snapshot); a
/// record's event gets its `data` from `records` (migration 0008), the same JSON the
/// trigger of 0005 stored.
macro_rules! page_sql {
    ($filter:literal) => {
        concat!(
            "SELECT h.pruned_through, e.seq, e.seq AS key, e.type AS kind, e.created_at_ms,
                    e.nonce, e.source, e.telegram_id,
                    CASE WHEN e.record_id IS NULL THEN e.data ELSE json_object(
                        'id', r.id, 'change', r.change, 'balance_after', r.balance_after,
                        'reason', r.reason, 'source', r.source,
                        'external_reference', r.external_reference,
                        'created_at', r.created_at, 'reverses', r.reverses) END AS data
             FROM event_horizon h LEFT JOIN (
                 SELECT * FROM events WHERE seq > ?1 ",
            $filter,
            " ORDER BY seq LIMIT ?2) e ON 1
             LEFT JOIN records r ON r.id = e.record_id
             ORDER BY e.seq"
        )
    };
}

pub(super) async fn read(
    pool: &SqlitePool,
    after: i64,
    limit: i64,
    source: Option<&str>,
) -> Result<Read, LedgerError> {
    let sql = match source {
        None => page_sql!(""),
        Some(_) => page_sql!("AND source = ?3"),
    };
    let mut query = sqlx::query_as::<_, PageRow>(sql).bind(after).bind(limit);
    if let Some(source) = source {
        query = query.bind(source);
    }
    let rows = query.fetch_all(pool).await.map_err(sqlite_error)?;
    Ok(Read::of(rows))
}

/// Publishes each committed group's latest `seq` (its upkeep's mark, read inside the
/// group's transaction by [`latest`]) to the long polls; asks the database only for a
/// group whose upkeep failed, and once at start.
pub async fn track(reader: SqlitePool, mut commits: watch::Receiver<i64>, notifier: Notifier) {
    let mut mark = UNKNOWN_MARK;
    loop {
        if mark == UNKNOWN_MARK {
            let latest: Result<Option<i64>, _> =
                sqlx::query_scalar(LATEST).fetch_optional(&reader).await;
            match latest {
                Ok(Some(seq)) => notifier.publish(seq),
                Ok(None) => {}
                Err(_) if reader.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "reading the latest event failed"),
            }
        } else {
            notifier.publish(mark);
        }
        if commits.changed().await.is_err() {
            return;
        }
        mark = *commits.borrow_and_update();
    }
}

/// The highest `seq` given (0 before the first event).
const LATEST: &str = "SELECT seq FROM sqlite_sequence WHERE name = 'events'";

/// The highest `seq` given, on the writer's connection inside its transaction.
pub fn latest(db: &mut Db) -> Result<i64, sqlx::Error> {
    Ok(db
        .query(LATEST, &[], |row| row.opt_int(0))?
        .flatten()
        .unwrap_or(0))
}

/// Deletes the oldest events past the retention (at most [`PRUNE_LIMIT`], once every few
/// seconds: see [`Retention::due`]) and moves the horizon past them. Runs in the writer's
/// upkeep, inside its transaction.
pub fn prune(db: &mut Db, retention: &Retention) -> Result<(), sqlx::Error> {
    let Some(before) = retention.due() else {
        return Ok(());
    };
    let through = db
        .query(
            "SELECT MAX(seq) FROM (SELECT seq, created_at_ms FROM events ORDER BY seq LIMIT ?)
             WHERE created_at_ms < ?",
            &[Value::Int(PRUNE_LIMIT), Value::Int(before)],
            |row| row.opt_int(0),
        )?
        .flatten();
    if let Some(through) = through {
        db.execute("DELETE FROM events WHERE seq <= ?", &[Value::Int(through)])?;
        db.execute(
            "UPDATE event_horizon SET pruned_through = MAX(pruned_through, ?)",
            &[Value::Int(through)],
        )?;
    }
    Ok(())
}
