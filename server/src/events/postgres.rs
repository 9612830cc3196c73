//! The feed on PostgreSQL, for several server processes on one database.
//!
//! Writers never draw `seq` (a value drawn earlier can commit later, and a reader paging
//! by `seq` would skip it forever). One sequencer at a time, whichever process holds the
//! session advisory lock [`SEQUENCER_LOCK`] (re-elected within a second when its process
//! or connection dies), numbers the events whose transaction is older than every
//! transaction still running (`pg_snapshot_xmin`) in (xid, id) order: every event that
//! commits later belongs to a transaction at or above that horizon and gets a higher
//! `seq`. It then `NOTIFY`s [`CHANNEL`] with the last seq; every process `LISTEN`s and
//! bumps its own [`Notifier`], which is all a long poll waits on. Writers do not notify
//! (a `NOTIFY` serializes commits); the sequencer looks for new rows every few
//! milliseconds while it is busy and backs off to [`IDLE`] when it is not: one cheap
//! index probe per interval for the whole cluster, not per client.

use super::{Notifier, PageRow, Read, Retention, PRUNE_LIMIT};
use crate::ledger::{postgres_error, LedgerError};
use sqlx::postgres::{PgConnectOptions, PgListener, PgPool};
use sqlx::{Connection, PgConnection};
use std::time::Duration;

/// The advisory lock the sequencer holds for as long as it runs.
const SEQUENCER_LOCK: i64 = 0x6372_6564_6576_7473; // "credevts"
/// The channel the sequencer announces new seqs on.
const CHANNEL: &str = "credit_sync_events";
/// The most events one numbering statement takes.
const BATCH: i64 = 5000;
/// The sequencer's longest pause between looks for new events.
const IDLE: Duration = Duration::from_millis(20);
/// Its shortest (while events keep arriving or wait for an older transaction).
const BUSY: Duration = Duration::from_millis(2);
/// How often a process that is not the sequencer tries to become it, and how often a
/// listener re-reads the latest seq (in case a notification was lost in a reconnect).
const RETRY: Duration = Duration::from_secs(1);

/// The horizon and one page of events, in one statement.
macro_rules! page_sql {
    ($filter:literal) => {
        concat!(
            "SELECT f.pruned_through, e.seq, e.id AS key, e.type AS kind, e.created_at_ms,
                    e.nonce, e.source, e.telegram_id, e.data::TEXT AS data
             FROM event_feed f LEFT JOIN (
                 SELECT * FROM events WHERE seq > $1 ",
            $filter,
            " ORDER BY seq LIMIT $2) e ON true"
        )
    };
}

pub(super) async fn read(
    pool: &PgPool,
    after: i64,
    limit: i64,
    source: Option<&str>,
) -> Result<Read, LedgerError> {
    // One statement: the horizon and the page from one snapshot. Two texts, so each has
    // its own plan (the filtered one scans `seq` and skips other sources' rows).
    let sql = match source {
        None => page_sql!(""),
        Some(_) => page_sql!("AND source = $3"),
    };
    let mut query = sqlx::query_as::<_, PageRow>(sql).bind(after).bind(limit);
    if let Some(source) = source {
        query = query.bind(source);
    }
    let rows = query.fetch_all(pool).await.map_err(postgres_error)?;
    Ok(Read::of(rows))
}

/// Starts this process's listener (it bumps `notifier`) and its candidate sequencer.
pub fn start(url: PgConnectOptions, pool: PgPool, notifier: Notifier, retention: Retention) {
    tokio::spawn(listen(pool.clone(), notifier.clone()));
    tokio::spawn(sequencer(url, pool, notifier, retention));
}

/// `LISTEN`s for new seqs; re-reads the latest now and then, so a notification lost in a
/// reconnect delays a long poll by at most [`RETRY`]. Ends when the ledger is closed.
async fn listen(pool: PgPool, notifier: Notifier) {
    while !pool.is_closed() {
        match PgListener::connect_with(&pool).await {
            Ok(mut listener) => {
                if let Err(e) = listener.listen(CHANNEL).await {
                    if pool.is_closed() {
                        return;
                    }
                    tracing::warn!(error = %e, "LISTEN for events failed");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
                while !pool.is_closed() {
                    if let Ok(seq) = latest(&pool).await {
                        notifier.publish(seq);
                    }
                    match tokio::time::timeout(RETRY, listener.try_recv()).await {
                        Ok(Ok(Some(note))) => {
                            if let Ok(seq) = note.payload().parse() {
                                notifier.publish(seq);
                            }
                        }
                        Ok(Ok(None)) | Err(_) => {}
                        Ok(Err(_)) if pool.is_closed() => return,
                        Ok(Err(e)) => {
                            tracing::warn!(error = %e, "the events listener failed");
                            break;
                        }
                    }
                }
            }
            Err(_) if pool.is_closed() => return,
            Err(e) => tracing::warn!(error = %e, "connecting the events listener failed"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn latest(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT last_seq FROM event_feed")
        .fetch_one(pool)
        .await
}

/// Competes for the sequencer's lock; while it holds it, numbers new events. Ends when the
/// ledger is closed.
async fn sequencer(url: PgConnectOptions, pool: PgPool, notifier: Notifier, retention: Retention) {
    while !pool.is_closed() {
        if let Err(e) = lead(&url, &pool, &notifier, &retention).await {
            tracing::debug!(error = %e, "the event sequencer stopped; competing again");
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// One term as the sequencer, on a connection of its own (its session holds the lock;
/// when the connection dies, so does the lock, and another process takes over).
async fn lead(
    url: &PgConnectOptions,
    pool: &PgPool,
    notifier: &Notifier,
    retention: &Retention,
) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(url).await?;
    let mut leader = false;
    while !leader && !pool.is_closed() {
        leader = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SEQUENCER_LOCK)
            .fetch_one(&mut conn)
            .await?;
        if !leader {
            tokio::time::sleep(RETRY).await;
        }
    }
    if leader {
        tracing::debug!("this process numbers the events");
    }
    let mut pause = BUSY;
    while leader && !pool.is_closed() {
        let (numbered, last, pending) = number(&mut conn).await?;
        if numbered > 0 {
            notifier.publish(last);
        }
        if let Some(before) = retention.due() {
            prune(&mut conn, before).await?;
        }
        pause = if numbered > 0 || pending {
            BUSY
        } else {
            (pause * 2).min(IDLE)
        };
        tokio::time::sleep(pause).await;
    }
    // The ledger closed: the lock goes with the connection.
    let _ = conn.close().await;
    Ok(())
}

/// Numbers the events below the horizon (see the module doc) and announces the last seq;
/// returns how many, the last seq, and whether unnumbered events remain.
async fn number(conn: &mut PgConnection) -> Result<(i64, i64, bool), sqlx::Error> {
    // One statement, one snapshot: the horizon, the rows under it and the counter. Only
    // the lock holder runs it, so no two numberings overlap.
    let numbered: (i64, i64, bool) = sqlx::query_as(
        "WITH horizon AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS xmin),
         ready AS (
             SELECT id, row_number() OVER (ORDER BY xid, id) AS n
             FROM events WHERE seq IS NULL AND xid < (SELECT xmin FROM horizon)
             ORDER BY xid, id LIMIT $1),
         counted AS (SELECT COUNT(*) AS n FROM ready),
         feed AS (
             UPDATE event_feed SET last_seq = last_seq + (SELECT n FROM counted)
             WHERE (SELECT n FROM counted) > 0
             RETURNING last_seq - (SELECT n FROM counted) AS base, last_seq),
         numbered AS (
             UPDATE events SET seq = feed.base + ready.n
             FROM ready, feed WHERE events.id = ready.id
             RETURNING events.seq)
         SELECT (SELECT n FROM counted),
                COALESCE((SELECT last_seq FROM feed), 0),
                EXISTS (SELECT 1 FROM events WHERE seq IS NULL
                        AND id NOT IN (SELECT id FROM ready))",
    )
    .bind(BATCH)
    .fetch_one(&mut *conn)
    .await?;
    if numbered.0 > 0 {
        // After the numbering committed: a listener that wakes reads it.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(numbered.1.to_string())
            .execute(&mut *conn)
            .await?;
    }
    Ok(numbered)
}

/// Deletes the oldest numbered events past the retention and moves the horizon.
async fn prune(conn: &mut PgConnection, before: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH old AS (
             SELECT MAX(seq) AS through FROM (
                 SELECT seq, created_at_ms FROM events WHERE seq IS NOT NULL
                 ORDER BY seq LIMIT $1) oldest
             WHERE created_at_ms < $2),
         gone AS (DELETE FROM events WHERE seq <= (SELECT through FROM old))
         UPDATE event_feed SET pruned_through = GREATEST(pruned_through, (SELECT through FROM old))
         WHERE (SELECT through FROM old) IS NOT NULL",
    )
    .bind(PRUNE_LIMIT)
    .bind(before)
    .execute(conn)
    .await?;
    Ok(())
}
