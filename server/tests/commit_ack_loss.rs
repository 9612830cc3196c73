//! A PostgreSQL COMMIT whose acknowledgement is lost (the connection dies after the COMMIT
//! reached the database) leaves the outcome unknown: the server must say so ("retry with
//! the same external_reference"), never "nothing was applied", and the retry with the same
//! reference applies exactly once. Runs on PostgreSQL only (`scripts/with-postgres.sh`).

mod support;

use credit_sync::protocol::paths;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const USER: i64 = 5151;

/// A TCP proxy to PostgreSQL that, while armed, forwards the first COMMIT it sees and then
/// cuts that connection without relaying the answer.
struct CommitCutter {
    addr: std::net::SocketAddr,
    armed: Arc<AtomicBool>,
}

impl CommitCutter {
    async fn start(upstream: String) -> CommitCutter {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let armed = Arc::new(AtomicBool::new(false));
        let armed2 = armed.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let server = TcpStream::connect(&upstream).await.unwrap();
                tokio::spawn(pump(client, server, armed2.clone()));
            }
        });
        CommitCutter { addr, armed }
    }
}

async fn pump(client: TcpStream, server: TcpStream, armed: Arc<AtomicBool>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let cut = Arc::new(AtomicBool::new(false));
    let cut2 = cut.clone();
    let answers = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if cut2.load(Ordering::SeqCst) {
                return; // the COMMIT's answer (and everything after) is lost
            }
            if client_write.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match client_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let commit = buf[..n]
            .windows(6)
            .any(|w| w.eq_ignore_ascii_case(b"COMMIT"));
        if commit && armed.swap(false, Ordering::SeqCst) {
            cut.store(true, Ordering::SeqCst);
            let _ = server_write.write_all(&buf[..n]).await;
            // Let PostgreSQL run the COMMIT, then drop both sides.
            tokio::time::sleep(Duration::from_millis(500)).await;
            break;
        }
        if server_write.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    answers.abort();
}

/// `postgres://user@host:port/db?..` with `addr` as host:port, and the original host:port.
fn through(url: &str, addr: std::net::SocketAddr) -> (String, String) {
    let start = url
        .find('@')
        .map_or_else(|| url.find("://").unwrap() + 3, |i| i + 1);
    let end = start + url[start..].find('/').unwrap();
    let upstream = url[start..end].to_string();
    (format!("{}{addr}{}", &url[..start], &url[end..]), upstream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_commit_acknowledgement_says_the_outcome_is_unknown() {
    if postgres_url().is_none() {
        eprintln!("skipped: PostgreSQL only (CREDIT_SYNC_TEST_BACKEND=postgres)");
        return;
    }
    let database = Database::for_suite(tempfile::tempdir().unwrap().path());
    let (_, upstream) = through(database.url(), "127.0.0.1:1".parse().unwrap());
    let cutter = CommitCutter::start(upstream).await;
    let (proxied, _) = through(database.url(), cutter.addr);
    let server = Server::start_on(&proxied, |toml| toml);
    let bot = server.admin();
    bot.fund(USER, 10).await;
    let batch = json!({"source": bot.source, "atomic": true, "items": [
        {"telegram_id": USER, "amount": 7, "reason": "ack lost", "external_reference": "ack-1"}]});

    cutter.armed.store(true, Ordering::SeqCst);
    let lost = bot.post(paths::BATCH, &batch, Sign::V2).await;
    assert!(
        !cutter.armed.load(Ordering::SeqCst),
        "no COMMIT went through the proxy"
    );
    lost.expect_error(500, "internal_error");
    let message = lost.body["message"].as_str().unwrap();
    assert!(
        message.contains("outcome is unknown") && message.contains("same external_reference"),
        "{message}"
    );
    assert!(!message.contains("nothing was applied"), "{message}");
    // It did commit: the honest advice (retry with the same reference) applies it once.
    assert_eq!(bot.balance(USER).await, Some(17));
    let retry = bot.post(paths::BATCH, &batch, Sign::V2).await;
    retry.expect_ok();
    assert_eq!(bot.balance(USER).await, Some(17), "{:?}", retry.body);
    drop(server);
    drop(database);
}
