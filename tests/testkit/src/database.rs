//! Which database a test server runs on: a SQLite file in the test's temp dir, or,
//! with `CREDIT_SYNC_TEST_BACKEND=postgres`, a fresh PostgreSQL database in the cluster
//! that `scripts/with-postgres.sh` started, dropped again with the test. Also runs SQL
//! behind the server's back, as a buggy script or an operator would.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Set to `postgres` to run a suite on PostgreSQL (each server in a fresh database of the
/// cluster at [`POSTGRES_URL_VAR`]); anything else, or unset, runs it on SQLite.
pub const BACKEND_VAR: &str = "CREDIT_SYNC_TEST_BACKEND";
/// A PostgreSQL database whose cluster the tests may create databases in
/// (`scripts/with-postgres.sh` sets it).
pub const POSTGRES_URL_VAR: &str = "CREDIT_SYNC_TEST_POSTGRES_URL";

/// The cluster's URL when the suite runs on PostgreSQL, `None` on SQLite.
pub fn postgres_url() -> Option<String> {
    if std::env::var(BACKEND_VAR).ok().as_deref() != Some("postgres") {
        return None;
    }
    let url = std::env::var(POSTGRES_URL_VAR).unwrap_or_default();
    assert!(
        !url.is_empty(),
        "{BACKEND_VAR}=postgres needs {POSTGRES_URL_VAR} (run through scripts/with-postgres.sh)"
    );
    Some(url)
}

/// A test's own database: a file in a directory the caller owns, or a fresh PostgreSQL
/// database that is dropped (connections and all) with this value.
#[derive(Debug)]
pub struct Database {
    url: String,
    /// (cluster url, database name) of a PostgreSQL database to drop.
    postgres: Option<(String, String)>,
}

impl Database {
    /// The suite's backend: PostgreSQL when [`postgres_url`] says so, else
    /// `sqlite://<dir>/credit-sync.db`.
    pub fn for_suite(dir: &Path) -> Database {
        match postgres_url() {
            None => Database::sqlite(dir),
            Some(cluster) => Database::fresh_postgres(&cluster),
        }
    }

    /// `sqlite://<dir>/credit-sync.db`, whatever the suite's backend.
    pub fn sqlite(dir: &Path) -> Database {
        Database {
            url: format!("sqlite://{}", dir.join("credit-sync.db").display()),
            postgres: None,
        }
    }

    /// A new, empty database in the PostgreSQL cluster at `cluster`.
    pub fn fresh_postgres(cluster: &str) -> Database {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "t_{}_{}_{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("clock after 1970")
                .subsec_nanos(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        postgres_execute(cluster, &[&format!("CREATE DATABASE {name}")])
            .remove(0)
            .expect("create the test database");
        Database {
            url: with_database_name(cluster, &name),
            postgres: Some((cluster.to_string(), name)),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some((cluster, name)) = &self.postgres {
            let _ = postgres_execute(
                cluster,
                &[&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
            );
        }
    }
}

/// `url` (`postgres://user@host:port/db?params`) with another database name.
fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{name}{query}", &base[..host_end])
}

/// Runs each statement on `database` (a SQLite or PostgreSQL URL) behind the server's
/// back, on a thread of its own (callable from sync and async tests alike); one result
/// each: the rows affected, or the database's error text.
pub fn raw_execute(database: &str, statements: &[&str]) -> Vec<Result<u64, String>> {
    if database.starts_with("postgres") {
        return postgres_execute(database, statements);
    }
    let database = database.to_string();
    let statements: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
    on_own_runtime(async move {
        use sqlx::ConnectOptions;
        use std::str::FromStr;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&database)
            .expect("a SQLite URL")
            .connect()
            .await
            .expect("open the test SQLite database");
        execute_each::<sqlx::Sqlite>(&mut conn, statements, |done| done.rows_affected()).await
    })
}

fn postgres_execute(url: &str, statements: &[&str]) -> Vec<Result<u64, String>> {
    let url = url.to_string();
    let statements: Vec<String> = statements.iter().map(|s| s.to_string()).collect();
    on_own_runtime(async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .expect("connect to the test PostgreSQL");
        let results =
            execute_each::<sqlx::Postgres>(&mut conn, statements, |done| done.rows_affected())
                .await;
        let _ = conn.close().await;
        results
    })
}

/// The `application_name` of a server process's PostgreSQL sessions
/// (`server/src/ledger/postgres.rs`, docs/server.md).
pub fn server_sessions_name(pid: u32) -> String {
    format!("credit-sync-server/{pid}")
}

/// How many sessions on the PostgreSQL cluster of `url` carry `application_name` (asked
/// on the cluster's `postgres` database: `url`'s own may be gone).
pub fn postgres_sessions(url: &str, application_name: &str) -> i64 {
    let url = with_database_name(url, "postgres");
    let name = application_name.to_string();
    on_own_runtime(async move {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&url)
            .await
            .expect("connect to the test PostgreSQL");
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
                .bind(&name)
                .fetch_one(&mut conn)
                .await
                .expect("read pg_stat_activity");
        let _ = conn.close().await;
        count
    })
}

/// Waits until no session of the killed server `pid` is left on `url`'s cluster. A
/// session whose COMMIT was already sent still commits after its client died, so until
/// then a reader can see the ledger change under it (a balance read after a late commit,
/// its records before). Panics after `timeout`.
pub fn wait_for_sessions_to_end(url: &str, pid: u32, timeout: std::time::Duration) {
    let name = server_sessions_name(pid);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let left = postgres_sessions(url, &name);
        if left == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} PostgreSQL sessions of the killed server {pid} still open after {timeout:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs each statement on `conn`, on either backend; `rows` reads the rows affected
/// (each backend's result type has its own method).
async fn execute_each<D>(
    conn: &mut D::Connection,
    statements: Vec<String>,
    rows: impl Fn(D::QueryResult) -> u64,
) -> Vec<Result<u64, String>>
where
    D: sqlx::Database,
    for<'c> &'c mut D::Connection: sqlx::Executor<'c, Database = D>,
{
    let mut results = Vec::new();
    for statement in statements {
        results.push(
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await
                .map(&rows)
                .map_err(|e| e.to_string()),
        );
    }
    results
}

fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(work)
    })
    .join()
    .expect("the database thread")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn another_database_name_keeps_user_host_and_parameters() {
        assert_eq!(
            with_database_name(
                "postgres://u@127.0.0.1:5/credit_sync?sslmode=disable",
                "t_1"
            ),
            "postgres://u@127.0.0.1:5/t_1?sslmode=disable"
        );
        assert_eq!(
            with_database_name("postgres://u@h:5", "t_2"),
            "postgres://u@h:5/t_2"
        );
    }
}
