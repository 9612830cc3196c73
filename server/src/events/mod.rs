//! The ledger's event stream. Triggers in migration `0005_events.sql` write an outbox row
//! in every change's own transaction (so an event exists exactly when its change
//! committed); this module numbers them in commit order (on PostgreSQL, see
//! [`postgres`]), serves them as the pull feed `GET /api/events` with long polls woken by
//! one in-process [`Notifier`], and prunes them after the retention.

mod postgres;
mod shape;
mod sqlite;

pub use postgres::start as start_postgres;
pub use sqlite::{latest as latest_sqlite, prune as prune_sqlite, track as track_sqlite};

use crate::ledger::{now_ms, LedgerError};
use credit_sync::protocol::Event;
use sqlx::{PgPool, SqlitePool};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The default `event_retention_days`.
pub const DEFAULT_RETENTION_DAYS: u32 = 30;

/// The highest `seq` this process knows to be committed and visible, bumped by the SQLite
/// writer's commits or by PostgreSQL's `LISTEN`: what every long poll waits on. A waiting
/// client costs one `watch::Receiver`, never a query loop.
#[derive(Clone)]
pub struct Notifier {
    latest: Arc<watch::Sender<i64>>,
}

impl Notifier {
    pub fn new() -> Notifier {
        Notifier {
            latest: Arc::new(watch::channel(0).0),
        }
    }

    /// Wakes the waiters when `seq` is newer than what they saw.
    pub fn publish(&self, seq: i64) {
        self.latest.send_if_modified(|latest| {
            let newer = seq > *latest;
            if newer {
                *latest = seq;
            }
            newer
        });
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<i64> {
        self.latest.subscribe()
    }

    /// The highest seq published so far.
    pub fn latest(&self) -> i64 {
        *self.latest.borrow()
    }
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier::new()
    }
}

/// Where the events are read.
#[derive(Clone)]
enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The feed of one ledger: reads, waits, retention.
#[derive(Clone)]
pub struct Events {
    store: Store,
    notifier: Notifier,
    retention: Retention,
}

/// How long events are kept, shared with whoever prunes them.
#[derive(Clone)]
pub struct Retention {
    ms: Arc<AtomicI64>,
    /// When the last prune ran (Unix ms), so pruning costs a write once in a while.
    last: Arc<AtomicI64>,
}

/// How often pruning looks for old events.
const PRUNE_EVERY_MS: i64 = 10_000;
/// The most events one prune deletes.
const PRUNE_LIMIT: i64 = 1000;

impl Retention {
    fn new() -> Retention {
        Retention {
            ms: Arc::new(AtomicI64::new(days_ms(DEFAULT_RETENTION_DAYS))),
            last: Arc::new(AtomicI64::new(0)),
        }
    }

    /// The time before which events are pruned, when a prune is due now.
    pub fn due(&self) -> Option<i64> {
        let now = now_ms();
        let last = self.last.load(Ordering::Relaxed);
        if now - last < PRUNE_EVERY_MS {
            return None;
        }
        self.last.store(now, Ordering::Relaxed);
        Some(now - self.ms.load(Ordering::Relaxed))
    }
}

fn days_ms(days: u32) -> i64 {
    i64::from(days) * 86_400_000
}

/// One page request of the feed.
#[derive(Debug, Clone)]
pub struct Query {
    /// The `seq` of the last event seen (0: from the oldest retained).
    pub after: i64,
    pub limit: u32,
    /// How long to wait for a first event when there is none.
    pub wait: Duration,
    /// `Some`: only this source's events (`events = "own"`).
    pub source: Option<String>,
}

/// A page of the feed and where the next one starts.
#[derive(Debug, Clone)]
pub struct Page {
    pub events: Vec<Event>,
    pub next: i64,
}

/// Why a page could not be served.
#[derive(Debug)]
pub enum FeedError {
    /// Events after the cursor were pruned.
    CursorExpired,
    Ledger(LedgerError),
}

impl From<LedgerError> for FeedError {
    fn from(e: LedgerError) -> Self {
        FeedError::Ledger(e)
    }
}

/// The rows of one read: the pruning horizon and up to `limit` events after the cursor.
struct Read {
    pruned_through: i64,
    rows: Vec<shape::EventRow>,
}

/// A row of either backend's page statement: the horizon, and an event's columns (all
/// `NULL` on an empty page, whose one row carries only the horizon).
#[derive(sqlx::FromRow)]
struct PageRow {
    pruned_through: i64,
    seq: Option<i64>,
    key: Option<i64>,
    kind: Option<String>,
    created_at_ms: Option<i64>,
    nonce: Option<i64>,
    source: Option<String>,
    telegram_id: Option<i64>,
    data: Option<String>,
}

impl Read {
    /// The horizon and the events of a page statement's rows, as both backends read them.
    fn of(rows: Vec<PageRow>) -> Read {
        let pruned_through = rows.first().map_or(0, |row| row.pruned_through);
        let rows = rows
            .into_iter()
            .filter_map(|row| {
                Some(shape::EventRow {
                    seq: row.seq?,
                    key: row.key?,
                    kind: row.kind?,
                    created_at_ms: row.created_at_ms?,
                    nonce: row.nonce?,
                    source: row.source,
                    telegram_id: row.telegram_id?,
                    data: row.data?,
                })
            })
            .collect();
        Read {
            pruned_through,
            rows,
        }
    }
}

impl Events {
    fn new(store: Store, notifier: Notifier) -> Events {
        Events {
            store,
            notifier,
            retention: Retention::new(),
        }
    }

    pub fn sqlite(reader: SqlitePool, notifier: Notifier) -> Events {
        Events::new(Store::Sqlite(reader), notifier)
    }

    pub fn postgres(pool: PgPool, notifier: Notifier) -> Events {
        Events::new(Store::Postgres(pool), notifier)
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    /// Keeps events `days` days (`event_retention_days`).
    pub fn set_retention_days(&self, days: u32) {
        self.retention.ms.store(days_ms(days), Ordering::Relaxed);
    }

    /// One page, oldest first. With `wait`, an empty page waits until an event commits
    /// (or `wait` passes).
    pub async fn page(&self, query: &Query) -> Result<Page, FeedError> {
        let deadline = tokio::time::Instant::now() + query.wait;
        let mut latest = self.notifier.subscribe();
        loop {
            // Read before querying: every event up to it is visible to the query.
            let known = *latest.borrow_and_update();
            let read = self.read(query).await?;
            if query.after > 0 && query.after < read.pruned_through {
                return Err(FeedError::CursorExpired);
            }
            if !read.rows.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(page(query, known, read.rows));
            }
            match tokio::time::timeout_at(deadline, latest.changed()).await {
                Ok(Ok(())) => continue,
                // Timed out (or the ledger closed): the empty page.
                _ => return Ok(page(query, known, Vec::new())),
            }
        }
    }

    /// Up to `limit` events after `after`, oldest first, each with its commit time (Unix
    /// ms), shaped as the feed shows them: what the webhook worker delivers.
    pub async fn after(&self, after: i64, limit: u32) -> Result<Vec<(i64, Event)>, LedgerError> {
        let query = Query {
            after,
            limit,
            wait: Duration::ZERO,
            source: None,
        };
        let read = self.read(&query).await?;
        Ok(read
            .rows
            .into_iter()
            .map(|row| (row.created_at_ms, row.into_event()))
            .collect())
    }

    async fn read(&self, query: &Query) -> Result<Read, LedgerError> {
        let limit = i64::from(query.limit);
        let source = query.source.as_deref();
        match &self.store {
            Store::Sqlite(pool) => sqlite::read(pool, query.after, limit, source).await,
            Store::Postgres(pool) => postgres::read(pool, query.after, limit, source).await,
        }
    }
}

/// The page of `rows`; `known`: a seq every event up to which the read saw. A filtered
/// feed skips ahead to it when the page is not full, so a source with few events of its
/// own does not scan the others' again.
fn page(query: &Query, known: i64, rows: Vec<shape::EventRow>) -> Page {
    let full = rows.len() >= query.limit as usize;
    let last = rows.last().map_or(query.after, |row| row.seq);
    let next = if query.source.is_some() && !full {
        last.max(known)
    } else {
        last
    };
    Page {
        events: rows.into_iter().map(shape::EventRow::into_event).collect(),
        next: next.max(query.after),
    }
}

impl crate::ledger::Ledger {
    /// This ledger's event feed.
    pub fn events(&self) -> Events {
        match self.backend() {
            crate::ledger::AnyBackend::Sqlite(db) => db.events().clone(),
            crate::ledger::AnyBackend::Postgres(db) => db.events().clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_publish_wakes_only_for_newer_seqs() {
        let notifier = Notifier::new();
        let mut rx = notifier.subscribe();
        notifier.publish(3);
        assert!(rx.has_changed().unwrap());
        assert_eq!(*rx.borrow_and_update(), 3);
        notifier.publish(2);
        assert!(!rx.has_changed().unwrap());
    }
}
