//! The binary's command line: `demo`, `serve` with environment overrides, graceful
//! shutdown, and the admin commands on the database.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn demo_prints_the_listening_line_and_the_guide_credentials() {
    let server = credit_sync_testkit::Server::start_demo();
    // The banner follows the listening line; the harness logs stdout as it arrives.
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.stdout_log().lines().count() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let stdout = server.stdout_log();
    let mut lines = stdout.lines();
    let first = lines.next().unwrap();
    assert_eq!(
        first,
        format!("credit-sync-server listening on {}", server.base_url()),
        "the first line names the bound address"
    );
    assert_ne!(
        server.addr().port(),
        0,
        "the real port, not the one asked for"
    );
    let banner: Vec<&str> = lines.take(3).collect();
    let banner = banner.join("\n");
    for credential in [
        "media-bot-api-key-2024",
        "your-secret-key-here",
        "your-api-key",
        "your-secret-key",
    ] {
        assert!(banner.contains(credential), "{banner}");
    }
    // The guide's credentials work against it: the `test` source reads and writes.
    let client = Wire::new(
        &server.base_url(),
        &Source::new("test", "your-api-key", "your-secret-key"),
    );
    client.fund(123456789, 100).await;
    assert_eq!(client.balance(123456789).await, Some(100));
}

#[tokio::test]
async fn env_overrides_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}/from-env.db", dir.path().display());
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        config_toml("sqlite:///nonexistent/dir/never.db").replace("127.0.0.1:0", "127.0.0.1:1"),
    )
    .unwrap();
    let mut command = Command::new(server_bin());
    command
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .env("CREDIT_SYNC_LISTEN", "127.0.0.1:0")
        .env("CREDIT_SYNC_DATABASE_URL", &database);
    // Not `Server::spawn`: it clears these variables.
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = command.stdout(Stdio::piped()).stderr(log).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.starts_with("credit-sync-server listening on http://127.0.0.1:"),
        "{line:?}"
    );
    assert!(dir.path().join("from-env.db").exists());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bad_config_fails_loudly_without_leaking_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "listen = \"127.0.0.1:0\"\nunknown_key = 1\n[[sources]]\nname = \"a\"\napi_key = \"k\"\nsecret = \"topsecret\"\n",
    )
    .unwrap();
    let out = Command::new(server_bin())
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown_key"), "{err}");
    assert!(out.stdout.is_empty());
    let missing = Command::new(server_bin())
        .args(["serve", "--config", "/nonexistent/credit-sync.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let server = Server::start();
    server.admin().fund(1, 5).await;
    let pid = server.pid().unwrap();
    let started = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let mut server = server;
    let status = loop {
        if let Some(status) = server.try_wait() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let log = server.stderr_log();
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("your-secret-key-here"), "a secret was logged");
    assert!(
        !log.contains("media-bot-api-key-2024"),
        "an API key was logged"
    );
}

#[tokio::test]
async fn admin_commands_work_on_the_database() {
    let server = Server::start();
    let bot = server.admin();
    let out = server.cli(&["users", "add", "77", "--nickname", "bob"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("registered user 77"));
    bot.fund(77, 30).await;
    bot.sync(77, -10, "spend", Some("o1")).await.expect_ok();

    let out = server.cli(&["balance", "77"]);
    assert!(out.status.success());
    let balance: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(balance["credits"], 20);
    assert_eq!(balance["nickname"], "bob");

    let out = server.cli(&["records", "77", "--limit", "1"]);
    assert!(out.status.success());
    let records: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 1);
    assert_eq!(records[0]["external_reference"], "o1");

    let out = server.cli(&["balance", "78"]);
    assert!(!out.status.success());

    // A mistyped database path is an error, not a fresh empty ledger.
    let missing = format!("sqlite://{}/typo.db", server.dir().display());
    let out = Command::new(server_bin())
        .args(["verify", "--database", &missing])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!server.dir().join("typo.db").exists());

    let out = server.cli(&["verify"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok: 1 users, 2 records"));
}

#[tokio::test]
async fn verify_detects_a_tampered_balance() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(5, 10).await;
    bot.fund(5, 10).await;
    // Tamper behind the server's back, as a buggy script would. Records are append-only.
    let results = raw_execute(
        server.database_url(),
        &[
            "UPDATE users SET credits = 25 WHERE telegram_id = 5",
            "UPDATE records SET change = 15",
            "DELETE FROM records",
        ],
    );
    assert_eq!(results[0], Ok(1));
    assert!(results[1].is_err(), "{results:?}");
    assert!(results[2].is_err(), "{results:?}");
    let out = server.cli(&["verify"]);
    assert!(!out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("user 5: balance 25 but its records sum to 20"),
        "{report}"
    );
}
