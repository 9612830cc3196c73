//! Credentials outside the config file (`_file`, `_env`) and rotation without downtime:
//! a second key and secret next to the first, and SIGHUP reloading the sources while
//! connections and requests stay in flight. On SQLite, or PostgreSQL with
//! `CREDIT_SYNC_TEST_BACKEND=postgres`.

mod support;

use credit_sync::protocol::{headers, paths};
use credit_sync::signature;
use credit_sync_testkit as testkit;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// The rotated credentials of `media_bot` (the [`ADMIN`] source).
const NEXT: (&str, &str, &str) = ("media_bot", "rotated-api-key-2027", "rotated-secret-2027");

/// The standard config with `media_bot`'s `api_key` and `secret` lines replaced by `lines`.
fn with_admin_credentials(toml: String, lines: &str) -> String {
    let inline = format!("api_key = \"{}\"\nsecret = \"{}\"\n", ADMIN.1, ADMIN.2);
    assert!(toml.contains(&inline), "the standard config changed");
    toml.replacen(&inline, &format!("{lines}\n"), 1)
}

fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

fn client(server: &Server, source: (&str, &str, &str), key: &str, secret: &str) -> Wire {
    Wire {
        api_key: key.into(),
        secret: secret.into(),
        ..server.client(source)
    }
}

fn hangup(server: &testkit::Server) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().unwrap().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn log(server: &testkit::Server) -> String {
    server.stderr_log()
}

/// Waits until the server's log holds `needle` `count` times.
fn wait_for_log(server: &testkit::Server, needle: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while log(server).matches(needle).count() < count {
        assert!(
            Instant::now() < deadline,
            "no {count}× {needle:?} in the log:\n{}",
            log(server)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

const RELOADED: &str = "SIGHUP: sources reloaded";
const REFUSED: &str = "SIGHUP: reload refused";

/// Rewrites the server's config file and reloads it; waits for the `count`-th `outcome`.
fn reload(server: &Server, toml: &str, outcome: &str, count: usize) {
    std::fs::write(server.config_path(), toml).unwrap();
    hangup(server);
    wait_for_log(server, outcome, count);
}

/// A v1 write, a v2 write and a v2 read with `client`'s key and secret; all must succeed.
async fn reads_and_writes(client: &Wire, telegram_id: i64) {
    client.fund(telegram_id, 1).await;
    let body = client.v1_body(telegram_id, 1, "v2 write", None, signing_time());
    client.post(paths::SYNC, &body, Sign::V2).await.expect_ok();
    let t = signing_time();
    let batch = json!({
        "source": client.source, "timestamp": t,
        "items": [{"telegram_id": telegram_id, "amount": 1, "reason": "batch",
                   "token": client.v1_token(telegram_id, 1, t)}],
    });
    client
        .post(paths::BATCH, &batch, Sign::V1)
        .await
        .expect_ok();
    client.get(&paths::balance(telegram_id)).await.expect_ok();
}

/// One HTTP/1.1 connection the test drives byte by byte (keep-alive, slow bodies).
struct Connection(BufReader<TcpStream>);

impl Connection {
    async fn open(server: &Server) -> Connection {
        Connection(BufReader::new(
            TcpStream::connect(server.addr()).await.unwrap(),
        ))
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.0.get_mut().write_all(bytes).await.unwrap();
        self.0.get_mut().flush().await.unwrap();
    }

    /// Reads one answer: its status and JSON body.
    async fn answer(&mut self) -> (u16, Value) {
        let mut status_line = String::new();
        self.0.read_line(&mut status_line).await.unwrap();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.0.read_line(&mut line).await.unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap();
                }
            }
        }
        let mut body = vec![0; length];
        self.0.read_exact(&mut body).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap())
    }

    /// A v2-signed balance read on this connection.
    async fn balance(&mut self, key: &str, secret: &str, telegram_id: i64) -> (u16, Value) {
        let path = paths::balance(telegram_id);
        let signature = signature::v2_header(secret, now(), "GET", &path, b"");
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}: {key}\r\n{}: {signature}\r\n\r\n",
            headers::API_KEY,
            headers::SIGNATURE
        );
        self.send(request.as_bytes()).await;
        self.answer().await
    }
}

/// A v2-signed sync request: its head and its body, to send separately.
fn sync_request(key: &str, secret: &str, telegram_id: i64) -> (String, Vec<u8>) {
    let body = serde_json::to_vec(&json!({
        "telegram_id": telegram_id, "amount": 7, "source": ADMIN.0, "reason": "slow upload",
    }))
    .unwrap();
    let signature = signature::v2_header(secret, now(), "POST", paths::SYNC, &body);
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n{}: {key}\r\n{}: {signature}\r\n\r\n",
        paths::SYNC,
        body.len(),
        headers::API_KEY,
        headers::SIGNATURE
    );
    (head, body)
}

#[tokio::test]
async fn credentials_come_from_files_and_environment_variables() {
    let secrets = tempfile::tempdir().unwrap();
    let key_file = secrets.path().join("media_bot.key");
    // As `echo KEY > file` writes it: the trailing newline is not part of the key.
    std::fs::write(&key_file, format!("{}\n", ADMIN.1)).unwrap();
    let shop_secret = secrets.path().join("shop.secret");
    std::fs::write(&shop_secret, format!("{}\r\n", WRITER.2)).unwrap();
    let config = support::config()
        .env("MEDIA_BOT_SECRET", ADMIN.2)
        .env("SHOP_BOT_API_KEY", WRITER.1);
    let server = Server(testkit::Server::start_edited(config, |toml| {
        let toml = with_admin_credentials(
            toml,
            &format!(
                "api_key_file = {}\nsecret_env = \"MEDIA_BOT_SECRET\"",
                toml_path(&key_file)
            ),
        )
        .replacen(
            &format!("api_key = \"{}\"\nsecret = \"{}\"\n", WRITER.1, WRITER.2),
            &format!(
                "api_key_env = \"SHOP_BOT_API_KEY\"\nsecret_file = {}\n",
                toml_path(&shop_secret)
            ),
            1,
        );
        assert!(!toml.contains(ADMIN.1) && !toml.contains(ADMIN.2) && !toml.contains(WRITER.2));
        toml
    }));

    reads_and_writes(&server.admin(), 7_100_001).await;
    let shop = server.client(WRITER);
    shop.fund(7_100_002, 5).await;
    let body = shop.v1_body(7_100_002, 1, "v2", None, signing_time());
    shop.post(paths::SYNC, &body, Sign::V2).await.expect_ok();
    // A wrong secret is still refused.
    client(&server, ADMIN, ADMIN.1, "wrong-secret")
        .sync(7_100_001, 1, "x", None)
        .await
        .expect_error(401, "invalid_signature");
    assert_eq!(server.admin().balance(7_100_001).await, Some(3));
}

/// Runs `serve` on `toml` (with `env`), which must refuse to start; returns its stderr.
fn refused_start(toml: &str, env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("credit-sync.toml");
    std::fs::write(&config, toml).unwrap();
    let mut child = Command::new(server_bin())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started on a bad config");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "it announced a listening address");
    String::from_utf8(output.stderr).unwrap()
}

#[test]
fn bad_credential_sources_fail_at_start_without_quoting_a_secret() {
    let secrets = tempfile::tempdir().unwrap();
    let empty = secrets.path().join("empty");
    std::fs::write(&empty, "\n").unwrap();
    let missing = secrets.path().join("missing");
    let database = format!("sqlite://{}/never.db", secrets.path().display());
    let cases = [
        (
            format!(
                "api_key = \"{}\"\nsecret_file = {}",
                ADMIN.1,
                toml_path(&missing)
            ),
            "cannot read secret_file",
        ),
        (
            format!(
                "api_key = \"{}\"\nsecret_file = {}",
                ADMIN.1,
                toml_path(&empty)
            ),
            "secret_file",
        ),
        (
            format!(
                "api_key_file = {}\nsecret = \"{}\"",
                toml_path(&empty),
                ADMIN.2
            ),
            "api_key_file",
        ),
        (
            format!(
                "api_key = \"{}\"\nsecret_env = \"MEDIA_BOT_SECRET_UNSET\"",
                ADMIN.1
            ),
            "secret_env names MEDIA_BOT_SECRET_UNSET, which is not set",
        ),
        (
            format!(
                "api_key = \"{}\"\nsecret_env = \"MEDIA_BOT_SECRET_EMPTY\"",
                ADMIN.1
            ),
            "which is empty",
        ),
        (
            format!(
                "api_key = \"{}\"\nsecret = \"{}\"\nsecret_env = \"MEDIA_BOT_SECRET\"",
                ADMIN.1, ADMIN.2
            ),
            "set only one of secret, secret_file and secret_env",
        ),
        (format!("api_key = \"{}\"", ADMIN.1), "missing secret"),
        (
            format!(
                "api_key = \"{}\"\nsecret = \"{}\"\nnext_api_key = \"{}\"",
                ADMIN.1, ADMIN.2, WRITER.1
            ),
            "reuses an api_key of source \"media_bot\"",
        ),
    ];
    for (lines, expected) in cases {
        let toml = with_admin_credentials(config_toml(&database), &lines);
        let stderr = refused_start(
            &toml,
            &[
                ("MEDIA_BOT_SECRET", ADMIN.2),
                ("MEDIA_BOT_SECRET_EMPTY", ""),
            ],
        );
        assert!(stderr.contains("source \""), "{stderr}");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
        for credential in [ADMIN.1, ADMIN.2, WRITER.1, WRITER.2] {
            assert!(!stderr.contains(credential), "{stderr}");
        }
    }
}

#[tokio::test]
async fn rotation_accepts_both_pairs_then_the_reload_retires_the_old_one() {
    // One request slot: while the slow write holds it, other requests get 503, which tells
    // the test that the write is inside its handler (and has loaded the config).
    let one_slot = |toml: String| {
        toml.replacen(
            "max_amount = 1000000000000\n",
            "max_amount = 1000000000000\nmax_concurrent_requests = 1\n",
            1,
        )
    };
    let server = Server::start_with(one_slot);
    let database = server.database_url().to_string();
    let user = 7_200_001;
    let old = server.admin();
    old.fund(user, 100).await;

    // 1. Add the next pair (from files, as a secret store writes them) and reload.
    let secrets = tempfile::tempdir().unwrap();
    let next_key = secrets.path().join("next.key");
    let next_secret = secrets.path().join("next.secret");
    std::fs::write(&next_key, format!("{}\n", NEXT.1)).unwrap();
    std::fs::write(&next_secret, format!("{}\n", NEXT.2)).unwrap();
    let both = with_admin_credentials(
        one_slot(config_toml(&database)),
        &format!(
            "api_key = \"{}\"\nsecret = \"{}\"\nnext_api_key_file = {}\nnext_secret_file = {}",
            ADMIN.1,
            ADMIN.2,
            toml_path(&next_key),
            toml_path(&next_secret)
        ),
    );
    reload(&server, &both, RELOADED, 1);

    // 2. Both keys identify the source, both secrets verify: v1 and v2, reads and writes.
    let new = client(&server, ADMIN, NEXT.1, NEXT.2);
    for (key, secret) in [
        (ADMIN.1, ADMIN.2),
        (NEXT.1, NEXT.2),
        (NEXT.1, ADMIN.2),
        (ADMIN.1, NEXT.2),
    ] {
        reads_and_writes(&client(&server, ADMIN, key, secret), user).await;
    }

    // A keep-alive connection, and a write whose body is still arriving, old pair.
    let mut kept = Connection::open(&server).await;
    let (status, _) = kept.balance(ADMIN.1, ADMIN.2, user).await;
    assert_eq!(status, 200);
    let mut slow = Connection::open(&server).await;
    let (head, body) = sync_request(ADMIN.1, ADMIN.2, user);
    slow.send(head.as_bytes()).await;
    slow.send(&body[..body.len() / 2]).await;
    let probe = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while probe
        .get(format!("{}{}", server.base_url(), paths::HEALTHZ))
        .send()
        .await
        .unwrap()
        .status()
        != 503
    {
        assert!(Instant::now() < deadline, "the slow write never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // 3.–4. Clients moved to the next pair; remove the old pair and reload.
    let only_next = with_admin_credentials(
        one_slot(config_toml(&database)),
        &format!(
            "api_key_file = {}\nsecret_file = {}",
            toml_path(&next_key),
            toml_path(&next_secret)
        ),
    );
    reload(&server, &only_next, RELOADED, 2);

    // The request in flight finishes on the config it started with.
    slow.send(&body[body.len() / 2..]).await;
    let (status, answer) = slow.answer().await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (200, Some("ok")),
        "{answer}"
    );
    // The kept connection was not dropped: on it, the old key is now unknown, the new works.
    let (status, answer) = kept.balance(ADMIN.1, ADMIN.2, user).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (401, Some("unauthorized")),
        "{answer}"
    );
    let (status, _) = kept.balance(NEXT.1, NEXT.2, user).await;
    assert_eq!(status, 200);

    old.sync(user, 1, "old pair", None)
        .await
        .expect_error(401, "unauthorized");
    old.get(&paths::balance(user))
        .await
        .expect_error(401, "unauthorized");
    client(&server, ADMIN, ADMIN.1, NEXT.2)
        .sync(user, 1, "old key", None)
        .await
        .expect_error(401, "unauthorized");
    let old_secret = client(&server, ADMIN, NEXT.1, ADMIN.2);
    old_secret
        .sync(user, 1, "old secret", None)
        .await
        .expect_error(401, "invalid_signature");
    old_secret
        .get(&paths::balance(user))
        .await
        .expect_error(401, "invalid_signature");
    reads_and_writes(&new, user).await;
    // 100 + 5 rounds of 3 writes + the slow upload's 7; nothing from the refused requests.
    assert_eq!(new.balance(user).await, Some(100 + 5 * 3 + 7));
    // The other sources were untouched by both reloads.
    server.client(WRITER).fund(user, 1).await;
}

#[tokio::test]
async fn a_bad_file_on_sighup_keeps_the_sources_in_force_and_logs_no_secret() {
    let server = Server::start();
    let database = server.database_url().to_string();
    let user = 7_300_001;
    server.admin().fund(user, 10).await;
    let leaked = ["leaked-api-key-1", "leaked-secret-2", "987654321987"];
    let bad = [
        // Unterminated string right after a secret.
        format!(
            "api_key = \"{}\"\nsecret = \"{}\nnext_api_key = \"{}\"",
            ADMIN.1, leaked[1], leaked[0]
        ),
        // A next secret whose file is missing.
        format!(
            "api_key = \"{}\"\nsecret = \"{}\"\nnext_api_key = \"{}\"\nnext_secret_file = \"/nonexistent/next.secret\"",
            ADMIN.1, ADMIN.2, leaked[0]
        ),
        // A secret written as a number.
        format!("api_key = \"{}\"\nsecret = {}", leaked[0], leaked[2]),
        // A next key that is another source's key.
        format!(
            "api_key = \"{}\"\nsecret = \"{}\"\nnext_api_key = \"{}\"",
            ADMIN.1, leaked[1], WRITER.1
        ),
        // Two forms of one secret.
        format!(
            "api_key = \"{}\"\nsecret = \"{}\"\nsecret_env = \"PATH\"",
            ADMIN.1, leaked[1]
        ),
    ];
    for (i, lines) in bad.iter().enumerate() {
        reload(
            &server,
            &with_admin_credentials(config_toml(&database), lines),
            REFUSED,
            i + 1,
        );
        // The old config is still in force: the old pair works, the bad file's key does not.
        server.admin().fund(user, 1).await;
        client(&server, ADMIN, leaked[0], ADMIN.2)
            .sync(user, 1, "x", None)
            .await
            .expect_error(401, "unauthorized");
    }
    assert_eq!(log(&server).matches(RELOADED).count(), 0);
    assert_eq!(
        server.admin().balance(user).await,
        Some(10 + bad.len() as i64)
    );
    let log = log(&server);
    for secret in leaked.iter().chain(&[ADMIN.1, ADMIN.2, WRITER.1, WRITER.2]) {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
}

#[test]
fn sighup_to_the_demo_does_not_stop_it() {
    let mut server = testkit::Server::start_demo();
    hangup(&server);
    wait_for_log(&server, "the demo has no config file", 1);
    assert!(server.try_wait().is_none(), "SIGHUP stopped the demo");
}
