//! Opens the SQLite database the way the ledger's promises need it: WAL, synchronous=FULL,
//! foreign keys, migrations applied, and one writer connection so writes never race.

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::str::FromStr;
use std::time::Duration;

/// The database behind the ledger: a single-connection write pool (writes queue here, so
/// SQLite never answers `SQLITE_BUSY` between our own writers) and a pool for reads.
#[derive(Clone)]
pub struct Store {
    pub writer: SqlitePool,
    pub reader: SqlitePool,
}

const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Long enough for a queue of thousands of writes on a slow disk.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);

impl Store {
    /// Opens (creating if needed) the database at `url` and applies the migrations.
    pub async fn open(url: &str) -> Result<Store, String> {
        if !url.starts_with("sqlite:") {
            return Err(format!(
                "unsupported database {:?}: only sqlite:// URLs are supported",
                redact(url)
            ));
        }
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(
                "in-memory SQLite is not supported (the writer and readers need one file)".into(),
            );
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| format!("invalid database url: {e}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| format!("cannot open database: {e}"))?;
        sqlx::migrate!("./migrations")
            .run(&writer)
            .await
            .map_err(|e| format!("cannot migrate database: {e}"))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| format!("cannot open database for reading: {e}"))?;
        Ok(Store { writer, reader })
    }

    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// A database URL with any password removed, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://<redacted>@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}
