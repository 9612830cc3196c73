//! Opens the SQLite database the way the ledger's promises need it: WAL, synchronous=FULL,
//! foreign keys, migrations applied, one writer connection (the group-commit writer's) so
//! writes never race, a pool of read-only connections beside it, and one connection for
//! the background checkpoints ([`super::checkpoint`]).

use super::checkpoint::WAL_LIMIT_FRAMES;
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
    /// Runs only `PRAGMA wal_checkpoint(PASSIVE)`, never a transaction.
    pub checkpointer: SqlitePool,
}

const READERS: u32 = 4;
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Long enough for a queue of thousands of writes on a slow disk.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(120);

impl Store {
    /// Opens the database at `url` and applies the migrations. Only with `create` is a
    /// missing file created (admin commands: a mistyped path must not turn into a fresh,
    /// empty, "consistent" ledger).
    pub async fn open(url: &str, create: bool) -> Result<Store, String> {
        let options = file_options(url)?
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // Group commit gives each request a SAVEPOINT; keep their statement journals in
            // memory (on disk they spill past 64 KiB: a pwrite per page, half the writer's time).
            .connect_with(
                options
                    .clone()
                    .pragma("temp_store", "memory")
                    .pragma("wal_autocheckpoint", WAL_LIMIT_FRAMES.to_string()),
            )
            .await
            .map_err(|e| format!("cannot open database: {e}"))?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| format!("cannot migrate database: {e}"))?;
        let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
            .fetch_one(&writer)
            .await
            .map_err(|e| format!("cannot read the journal mode: {e}"))?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(%mode, "SQLite did not switch to WAL mode; durability still holds, concurrency is lower");
        }
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.clone())
            .await
            .map_err(|e| format!("cannot open database for checkpoints: {e}"))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.read_only(true))
            .await
            .map_err(|e| format!("cannot open database for reading: {e}"))?;
        Ok(Store {
            writer,
            reader,
            checkpointer,
        })
    }

    pub async fn close(&self) {
        self.checkpointer.close().await;
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The options of the database file at `url`, before any setting of ours; an in-memory
/// database is refused.
pub fn file_options(url: &str) -> Result<SqliteConnectOptions, String> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(
            "in-memory SQLite is not supported (the writer and readers need one file)".into(),
        );
    }
    SqliteConnectOptions::from_str(url).map_err(|e| format!("invalid database url: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::AssertSqlSafe;

    #[tokio::test]
    async fn opens_with_the_promised_settings() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let store = Store::open(&url, true).await.unwrap();
        let pragma = |name: &'static str| {
            let pool = store.writer.clone();
            async move {
                let (value,): (String,) = sqlx::query_as(AssertSqlSafe(format!(
                    "SELECT CAST((SELECT * FROM pragma_{name}) AS TEXT)"
                )))
                .fetch_one(&pool)
                .await
                .unwrap();
                value
            }
        };
        assert_eq!(pragma("journal_mode").await, "wal");
        assert_eq!(pragma("synchronous").await, "2"); // FULL
        assert_eq!(pragma("foreign_keys").await, "1");
        assert_eq!(pragma("busy_timeout").await, "10000");
        assert_eq!(pragma("temp_store").await, "2"); // MEMORY
                                                     // Not a table-valued pragma: asked directly, on the writer's connection.
        let (limit,): (i64,) = sqlx::query_as("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        assert_eq!(limit, i64::from(WAL_LIMIT_FRAMES));
        // Reads cannot write.
        assert!(sqlx::query("DELETE FROM users")
            .execute(&store.reader)
            .await
            .is_err());
        // Opening again finds the migrations applied.
        store.close().await;
        Store::open(&url, false).await.unwrap().close().await;
        let missing = format!("sqlite://{}/missing.db", dir.path().display());
        assert!(Store::open(&missing, false).await.is_err());
        assert!(Store::open("sqlite::memory:", true).await.is_err());
    }
}
