//! SQLite that cannot write (another process holds the write lock past the busy timeout)
//! answers `503 service_unavailable` with `Retry-After`, not a `500`, and writes nothing;
//! the same change, sent again with its reference once the lock is gone, applies once.

mod support;

use credit_sync::protocol::headers;
use sqlx::sqlite::SqlitePoolOptions;
use std::time::{Duration, Instant};
use support::*;

const USER: i64 = 4242;
/// The server's SQLite busy timeout (`store.rs`), and the slack on top of it.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn a_locked_database_answers_503_with_retry_after_and_nothing_is_written() {
    let server = Server::start_sqlite();
    let bot = server.admin();
    bot.fund(USER, 10).await;
    // Another writer (as another process would) holds SQLite's write lock.
    let other = SqlitePoolOptions::new()
        .max_connections(1)
        .connect(server.database_url())
        .await
        .unwrap();
    let mut holder = other.acquire().await.unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut *holder)
        .await
        .unwrap();
    let started = Instant::now();
    let answer = bot.sync(USER, 5, "while locked", Some("busy-1")).await;
    let waited = started.elapsed();
    answer.expect_error(503, "service_unavailable");
    let retry_after: u64 = answer
        .headers
        .get(headers::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("503 without Retry-After: {:?}", answer.headers));
    assert!(retry_after >= 1);
    let message = answer.body["message"].as_str().unwrap();
    assert!(message.contains("same external_reference"), "{message}");
    assert!(
        waited >= BUSY_TIMEOUT - Duration::from_secs(1) && waited < BUSY_TIMEOUT * 3,
        "answered after {waited:?}"
    );
    sqlx::query("ROLLBACK").execute(&mut *holder).await.unwrap();
    drop(holder);
    other.close().await;
    assert_eq!(
        bot.balance(USER).await,
        Some(10),
        "the refused change wrote"
    );
    // The honest retry: same reference, fresh signature. Applied once.
    let retry = bot.sync(USER, 5, "while locked", Some("busy-1")).await;
    retry.expect_ok();
    assert_eq!(retry.body["data"]["duplicate"], false, "{:?}", retry.body);
    assert_eq!(bot.balance(USER).await, Some(15));
}
