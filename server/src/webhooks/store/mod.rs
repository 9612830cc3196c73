//! The webhook worker's state in the ledger's database (migration `0006_webhooks.sql`):
//! per endpoint, the cursor and the current event's failing attempts, the claim of the
//! process delivering it, and the failed deliveries kept after their last attempt. One
//! file per backend holds its SQL; this one holds the shapes both return.

mod postgres;
mod sqlite;

use crate::ledger::{AnyBackend, Ledger, LedgerError, SqliteLedger};
use sqlx::{PgPool, SqlitePool};

/// Where an endpoint's delivery stands, as its claim reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct State {
    /// The last `seq` done: delivered, given up, or not matching the filters.
    pub cursor: i64,
    /// Failed attempts of the event after `cursor`.
    pub attempts: i64,
    pub first_failed_at_ms: Option<i64>,
    /// No attempt before this (Unix ms).
    pub next_attempt_at_ms: i64,
}

/// An endpoint's row, for `webhooks list` and the console.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub url: String,
    pub cursor: i64,
    pub attempts: i64,
    pub next_attempt_at_ms: i64,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub replay_from: Option<i64>,
    pub claimed_by: Option<String>,
    pub claimed_until_ms: i64,
    /// How many failed deliveries are kept.
    pub failed: i64,
}

/// A delivery given up after its last attempt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Failure {
    pub seq: i64,
    pub event_id: String,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub attempts: i64,
    pub last_error: String,
    pub first_failed_at_ms: i64,
    pub failed_at_ms: i64,
}

/// Events after a cursor, counted by type and source (the backlog, once filtered).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Count {
    #[sqlx(rename = "type")]
    pub kind: String,
    pub source: Option<String>,
    pub n: i64,
}

/// The ledger's database, as the webhook state lives in it.
#[derive(Clone)]
pub enum Store {
    /// The ledger (its writes are jobs of its group-commit writer) and its readers.
    Sqlite {
        ledger: SqliteLedger,
        reader: SqlitePool,
    },
    Postgres(PgPool),
}

impl Store {
    pub fn of(ledger: &Ledger) -> Store {
        match ledger.backend() {
            AnyBackend::Sqlite(db) => Store::Sqlite {
                ledger: db.clone(),
                reader: db.reader().clone(),
            },
            AnyBackend::Postgres(db) => Store::Postgres(db.pool().clone()),
        }
    }

    /// Adds the endpoint if it is new, starting after the latest event (a new endpoint
    /// receives what happens from now on; `webhooks replay` sends the past).
    pub async fn register(&self, url: &str, now_ms: i64) -> Result<(), LedgerError> {
        match self {
            Store::Sqlite { ledger, .. } => sqlite::register(ledger, url, now_ms).await,
            Store::Postgres(pool) => postgres::register(pool, url, now_ms).await,
        }
    }

    /// Claims the endpoint for `me` until `until_ms`, or renews the claim; a pending
    /// replay is taken in the same statement. `None`: another process holds it.
    pub async fn claim(
        &self,
        url: &str,
        me: &str,
        now_ms: i64,
        until_ms: i64,
    ) -> Result<Option<State>, LedgerError> {
        match self {
            Store::Sqlite { ledger, .. } => sqlite::claim(ledger, url, me, until_ms).await,
            Store::Postgres(pool) => postgres::claim(pool, url, me, now_ms, until_ms).await,
        }
    }

    /// Writes the worker's progress while `me` holds the claim and no replay waits;
    /// `false` when it did not (the next claim tells which).
    pub async fn save(
        &self,
        url: &str,
        me: &str,
        state: &State,
        error: Option<(&str, i64)>,
    ) -> Result<bool, LedgerError> {
        match self {
            Store::Sqlite { ledger, .. } => sqlite::save(ledger, url, me, state, error).await,
            Store::Postgres(pool) => postgres::save(pool, url, me, state, error).await,
        }
    }

    /// Keeps `failure` and moves the cursor past it, in one transaction, while `me`
    /// holds the claim; `false` when it did not.
    pub async fn give_up(
        &self,
        url: &str,
        me: &str,
        failure: &Failure,
    ) -> Result<bool, LedgerError> {
        match self {
            Store::Sqlite { ledger, .. } => sqlite::give_up(ledger, url, me, failure).await,
            Store::Postgres(pool) => postgres::give_up(pool, url, me, failure).await,
        }
    }

    /// Lets another process claim the endpoint at once (a clean shutdown).
    pub async fn release(&self, url: &str, me: &str) -> Result<(), LedgerError> {
        match self {
            Store::Sqlite { ledger, .. } => sqlite::release(ledger, url, me).await,
            Store::Postgres(pool) => postgres::release(pool, url, me).await,
        }
    }

    /// Asks the worker to deliver again from `from`; `false` when the endpoint is unknown.
    pub async fn replay(&self, url: &str, from: i64) -> Result<bool, LedgerError> {
        match self {
            Store::Sqlite { ledger, .. } => sqlite::replay(ledger, url, from).await,
            Store::Postgres(pool) => postgres::replay(pool, url, from).await,
        }
    }

    pub async fn endpoint(&self, url: &str) -> Result<Option<EndpointRow>, LedgerError> {
        match self {
            Store::Sqlite { reader, .. } => sqlite::endpoint(reader, url).await,
            Store::Postgres(pool) => postgres::endpoint(pool, url).await,
        }
    }

    /// The newest `limit` failed deliveries of the endpoint.
    pub async fn failures(&self, url: &str, limit: i64) -> Result<Vec<Failure>, LedgerError> {
        match self {
            Store::Sqlite { reader, .. } => sqlite::failures(reader, url, limit).await,
            Store::Postgres(pool) => postgres::failures(pool, url, limit).await,
        }
    }

    /// The events after `cursor`, counted by type and source.
    pub async fn counts_after(&self, cursor: i64) -> Result<Vec<Count>, LedgerError> {
        match self {
            Store::Sqlite { reader, .. } => sqlite::counts_after(reader, cursor).await,
            Store::Postgres(pool) => postgres::counts_after(pool, cursor).await,
        }
    }
}

/// What [`Store::save`] writes of an optional error.
fn error_parts(error: Option<(&str, i64)>) -> (Option<&str>, Option<i64>) {
    match error {
        Some((text, at)) => (Some(text), Some(at)),
        None => (None, None),
    }
}
