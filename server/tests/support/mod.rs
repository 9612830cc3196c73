//! Starts the real `credit-sync-server` binary on a free port with a temporary database,
//! and signs requests with the core's signature module, the way every SDK does.
#![allow(dead_code)]

use credit_sync::protocol::{headers, paths};
use credit_sync::signature;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

pub const BIN: &str = env!("CARGO_BIN_EXE_credit-sync-server");

/// Sources every test server has.
pub const ADMIN: (&str, &str, &str) = (
    "media_bot",
    "media-bot-api-key-2024",
    "your-secret-key-here",
);
pub const WRITER: (&str, &str, &str) = ("shop_bot", "shop-key", "shop-secret");
pub const READER: (&str, &str, &str) = ("stats_bot", "stats-key", "stats-secret");
pub const NO_AUTO: (&str, &str, &str) = ("strict_bot", "strict-key", "strict-secret");
pub const LIMITED: (&str, &str, &str) = ("slow_bot", "slow-key", "slow-secret");

pub fn config_toml(database: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:0"
database = "{database}"
timestamp_tolerance_secs = 300
max_amount = 1000000000000

[[sources]]
name = "{}"
api_key = "{}"
secret = "{}"
permissions = ["read", "write", "admin"]

[[sources]]
name = "{}"
api_key = "{}"
secret = "{}"
permissions = ["write"]

[[sources]]
name = "{}"
api_key = "{}"
secret = "{}"
permissions = ["read"]

[[sources]]
name = "{}"
api_key = "{}"
secret = "{}"
auto_register = false

[[sources]]
name = "{}"
api_key = "{}"
secret = "{}"
rate_limit_per_sec = 2
"#,
        ADMIN.0,
        ADMIN.1,
        ADMIN.2,
        WRITER.0,
        WRITER.1,
        WRITER.2,
        READER.0,
        READER.1,
        READER.2,
        NO_AUTO.0,
        NO_AUTO.1,
        NO_AUTO.2,
        LIMITED.0,
        LIMITED.1,
        LIMITED.2
    )
}

/// A timestamp for a v1 signature, a new one for each of 250 calls in a row: the first
/// call's time, then one second further back each call. Two equal unreferenced v1 changes
/// a test sends in one second then carry two signatures, as two honest requests a second
/// apart would; the same signature twice is a replay (`signature_reused`,
/// docs/protocol.md). Counting back from a fixed start keeps the values distinct even when
/// the clock ticks between two calls, and within the ±300 s window for a test of < 50 s.
pub fn signing_time() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static START: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    static SIGNED: AtomicI64 = AtomicI64::new(0);
    let start = *START.get_or_init(now);
    start - SIGNED.fetch_add(1, Ordering::Relaxed) % 250
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Set to `postgres` to run the suite on PostgreSQL (each test in a fresh database of the
/// cluster at [`POSTGRES_URL_VAR`]); anything else, or unset, runs it on SQLite.
pub const BACKEND_VAR: &str = "CREDIT_SYNC_TEST_BACKEND";
/// A PostgreSQL database whose cluster the tests may create databases in
/// (`scripts/with-postgres.sh` sets it).
pub const POSTGRES_URL_VAR: &str = "CREDIT_SYNC_TEST_POSTGRES_URL";

/// The cluster URL when the suite runs on PostgreSQL.
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

/// A test's own database: a file in its temp dir, or a fresh PostgreSQL database that is
/// dropped with it.
pub struct TestDatabase {
    pub url: String,
    /// (cluster url, database name) of a PostgreSQL database to drop.
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub fn new(dir: &std::path::Path) -> TestDatabase {
        match postgres_url() {
            None => TestDatabase {
                url: format!("sqlite://{}/credit-sync.db", dir.display()),
                postgres: None,
            },
            Some(cluster) => {
                static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let name = format!(
                    "t_{}_{}_{}",
                    std::process::id(),
                    SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos(),
                    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                );
                postgres_execute(&cluster, &[&format!("CREATE DATABASE {name}")])
                    .remove(0)
                    .expect("create the test database");
                TestDatabase {
                    url: with_database_name(&cluster, &name),
                    postgres: Some((cluster, name)),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.postgres.is_some()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((cluster, name)) = &self.postgres {
            let _ = postgres_execute(
                cluster,
                &[&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")],
            );
        }
    }
}

/// `url` (postgres://user@host:port/db?params) with another database name.
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

/// Runs each statement on `database` (SQLite or PostgreSQL URL) behind the server's back,
/// on a thread of its own (callable from sync and async tests alike); one result each.
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
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut results = Vec::new();
        for statement in statements {
            results.push(
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(|e| e.to_string()),
            );
        }
        results
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
        let mut results = Vec::new();
        for statement in statements {
            results.push(
                sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                    .execute(&mut conn)
                    .await
                    .map(|done| done.rows_affected())
                    .map_err(|e| e.to_string()),
            );
        }
        let _ = conn.close().await;
        results
    })
}

fn on_own_runtime<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join()
    .unwrap()
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    pub database: String,
    pub dir: tempfile::TempDir,
    /// The database this server created for its test (dropped after the server stops).
    owned: Option<TestDatabase>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(|toml| toml)
    }

    /// Starts a server whose config file is `edit(standard config)`.
    pub fn start_with(edit: impl FnOnce(String) -> String) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = TestDatabase::new(dir.path());
        let mut server = Server::start_on(dir, &database.url, edit);
        server.owned = Some(database);
        server
    }

    /// A server on SQLite whatever the suite's backend (to compare the backends).
    pub fn start_sqlite() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}/credit-sync.db", dir.path().display());
        Server::start_on(dir, &database, |toml| toml)
    }

    /// Another server process on this server's database (as behind a load balancer).
    pub fn start_sibling(&self) -> Server {
        Server::start_on(tempfile::tempdir().unwrap(), &self.database, |toml| toml)
    }

    pub fn start_on(
        dir: tempfile::TempDir,
        database: &str,
        edit: impl FnOnce(String) -> String,
    ) -> Server {
        let config = dir.path().join("credit-sync.toml");
        std::fs::write(&config, edit(config_toml(database))).unwrap();
        let mut command = Command::new(BIN);
        command.arg("serve").arg("--config").arg(&config);
        Server::spawn(command, dir, database.to_string())
    }

    pub fn is_postgres(&self) -> bool {
        self.database.starts_with("postgres")
    }

    /// Spawns `command` and waits for its listening line.
    pub fn spawn(mut command: Command, dir: tempfile::TempDir, database: String) -> Server {
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(log)
            .env_remove("CREDIT_SYNC_LISTEN")
            .env_remove("CREDIT_SYNC_DATABASE_URL")
            .env_remove("CREDIT_SYNC_DATABASE")
            .spawn()
            .expect("start credit-sync-server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("credit-sync-server listening on ")
            .unwrap_or_else(|| {
                let log =
                    std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                panic!("unexpected first line {line:?}; log:\n{log}")
            })
            .to_string();
        Server {
            child,
            url,
            database,
            dir,
            owned: None,
        }
    }

    pub fn client(&self, source: (&str, &str, &str)) -> Client {
        Client {
            http: reqwest::Client::new(),
            url: self.url.clone(),
            source: source.0.to_string(),
            api_key: source.1.to_string(),
            secret: source.2.to_string(),
        }
    }

    pub fn admin(&self) -> Client {
        self.client(ADMIN)
    }

    /// Runs an admin subcommand on this server's database.
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .arg("--database")
            .arg(&self.database)
            .output()
            .unwrap()
    }
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("<no code>")
    }

    /// Asserts status, code and the error envelope's shape.
    pub fn expect_error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {:?}",
            self.body
        );
        assert_eq!(self.body["success"], false, "{:?}", self.body);
        assert!(self.body["data"].is_null(), "{:?}", self.body);
        assert!(self.body["server_time"].is_i64(), "{:?}", self.body);
        self
    }

    pub fn expect_ok(&self) -> &Self {
        assert_eq!(
            (self.status, self.code()),
            (200, "ok"),
            "unexpected answer: {:?}",
            self.body
        );
        self
    }

    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or("<no field>")
    }
}

/// How a write is signed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sign {
    V1,
    V2,
    /// v2 at this timestamp.
    V2At(i64),
    None,
}

pub struct Client {
    pub http: reqwest::Client,
    pub url: String,
    pub source: String,
    pub api_key: String,
    pub secret: String,
}

impl Client {
    pub fn v1_token(&self, telegram_id: i64, amount: i64, timestamp: i64) -> String {
        signature::v1_token(&self.secret, telegram_id, amount, &self.source, timestamp)
    }

    /// A guide-style sync body, v1-signed at [`signing_time`].
    pub fn sync_body(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Value {
        let t = signing_time();
        let mut body = json!({
            "telegram_id": telegram_id, "amount": amount, "source": self.source,
            "reason": reason, "timestamp": t, "token": self.v1_token(telegram_id, amount, t),
        });
        if let Some(reference) = reference {
            body["external_reference"] = json!(reference);
        }
        body
    }

    pub async fn sync(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Answer {
        let body = self.sync_body(telegram_id, amount, reason, reference);
        self.post(paths::SYNC, &body, Sign::V1).await
    }

    /// Adds credits and asserts success.
    pub async fn fund(&self, telegram_id: i64, amount: i64) -> Answer {
        let answer = self.sync(telegram_id, amount, "funding", None).await;
        answer.expect_ok();
        answer
    }

    pub async fn post(&self, path: &str, body: &Value, sign: Sign) -> Answer {
        self.post_raw(
            path,
            serde_json::to_vec(body).unwrap(),
            "application/json",
            sign,
        )
        .await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: Vec<u8>,
        content_type: &str,
        sign: Sign,
    ) -> Answer {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header(headers::API_KEY, &self.api_key)
            .header("content-type", content_type);
        let v2_at = match sign {
            Sign::V2 => Some(now()),
            Sign::V2At(t) => Some(t),
            _ => None,
        };
        if let Some(t) = v2_at {
            request = request.header(
                headers::SIGNATURE,
                signature::v2_header(&self.secret, t, "POST", path, &body),
            );
        }
        answer(request.body(body).send().await.unwrap()).await
    }

    /// A v2-signed GET (reads require v2).
    pub async fn get(&self, path: &str) -> Answer {
        self.get_signed(path, Sign::V2).await
    }

    pub async fn get_signed(&self, path: &str, sign: Sign) -> Answer {
        let mut request = self
            .http
            .get(format!("{}{path}", self.url))
            .header(headers::API_KEY, &self.api_key);
        let v2_at = match sign {
            Sign::V2 => Some(now()),
            Sign::V2At(t) => Some(t),
            _ => None,
        };
        if let Some(t) = v2_at {
            request = request.header(
                headers::SIGNATURE,
                signature::v2_header(&self.secret, t, "GET", path, b""),
            );
        }
        answer(request.send().await.unwrap()).await
    }

    pub async fn balance(&self, telegram_id: i64) -> Option<i64> {
        let answer = self.get(&paths::balance(telegram_id)).await;
        match answer.status {
            200 => Some(answer.body["credits"].as_i64().unwrap()),
            404 => None,
            _ => panic!("balance failed: {:?}", answer.body),
        }
    }

    pub async fn record_count(&self, telegram_id: i64) -> usize {
        let mut count = 0;
        let mut cursor: Option<String> = None;
        loop {
            let answer = self
                .get(&paths::records(telegram_id, Some(200), cursor.as_deref()))
                .await;
            if answer.status == 404 {
                return 0;
            }
            answer.expect_ok();
            count += answer.body["records"].as_array().unwrap().len();
            match answer.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return count,
            }
        }
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer {
        status,
        headers,
        body,
    }
}
