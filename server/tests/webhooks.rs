//! Webhook delivery against a real loopback receiver, on the suite's backend (SQLite, or
//! PostgreSQL with `CREDIT_SYNC_TEST_BACKEND=postgres`): every event arrives at least once
//! and in `seq` order through 500s, stalls and dropped connections; each attempt keeps its
//! `webhook-id` and is signed afresh with every rotated secret; filters hold; a dead
//! endpoint holds up nobody; deliveries given up are kept and listed; a replay delivers
//! again; `/metrics` shows it all. On PostgreSQL, two processes on one database deliver
//! each event to each endpoint exactly once.

mod support;

use credit_sync::webhook;
use credit_sync_testkit::{Answer, Receiver};
use serde_json::Value;
use std::time::Duration;
use support::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The rotation's new secret.
const NEXT_SECRET: &str = "whsec_bmV4dC1zZWNyZXQtb2YtdGhlLXJvdGF0aW9uLTMy";

/// Small retry delays, a 300 ms attempt timeout and 6 attempts, so failures resolve in
/// about a second.
const FAST: &str = "
[webhook_delivery]
first_retry_ms = 20
max_retry_ms = 100
max_attempts = 6
attempt_timeout_ms = 300
poll_ms = 100
lease_ms = 1500
";

fn hook(url: &str, extra: &str) -> String {
    format!("\n[[webhooks]]\nurl = \"{url}\"\n{extra}\n")
}

/// The feed's events after `0`, waiting for PostgreSQL's sequencer.
async fn feed(bot: &Wire, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let reply = bot.get("/api/events?after=0&limit=500").await;
        reply.expect_ok();
        let events = reply.body["events"].as_array().unwrap().clone();
        if events.len() >= count || std::time::Instant::now() > deadline {
            assert_eq!(events.len(), count, "{events:#?}");
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every attempt verifies with each secret (both are signed during a rotation), is
/// timestamped at its sending, and carries the event it names.
fn assert_signed(received: &credit_sync_testkit::Received, secrets: &[&str]) {
    for secret in secrets {
        let id = webhook::verify(
            |n| received.header(n),
            &received.body,
            secret,
            received.at_secs,
            2,
        )
        .unwrap_or_else(|e| panic!("{e}: {received:?}"));
        assert_eq!(id, received.json()["id"].as_str().unwrap());
    }
}

fn ids(received: &[credit_sync_testkit::Received]) -> Vec<String> {
    received.iter().map(|r| r.id().to_string()).collect()
}

async fn make_events(server: &Server) -> Vec<Value> {
    let bot = server.admin();
    bot.fund(1, 100).await.expect_ok(); // user.registered, credits.added (media_bot)
    server.client(WRITER).fund(2, 50).await.expect_ok(); // the same, by shop_bot
    bot.sync_v2(1, -10, "spend", Some("d-1")).await.expect_ok(); // credits.deducted
    bot.fund(1, 5).await.expect_ok();
    feed(&bot, 6).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_survive_failures_stalls_and_drops_in_order_signed_afresh() {
    // `/flaky` fails each event's first three attempts three ways, then takes it;
    // `/dead` stalls every attempt; `/failing` answers 500 forever.
    let receiver = Receiver::start(|path, attempt| match (path, attempt) {
        ("/flaky", 1) => Answer::Status(500),
        ("/flaky", 2) => Answer::Stall(Duration::from_millis(800)),
        ("/flaky", 3) => Answer::Drop,
        ("/dead", _) => Answer::Stall(Duration::from_secs(5)),
        ("/failing", _) => Answer::Status(500),
        _ => Answer::Status(204),
    })
    .await;
    let hooks = [
        hook(
            &receiver.url("/flaky"),
            &format!("secrets = [\"{SECRET}\", \"{NEXT_SECRET}\"]"),
        ),
        hook(
            &receiver.url("/credits"),
            &format!("secret = \"{SECRET}\"\nevents = [\"credits.*\"]\nsources = [\"media_bot\"]"),
        ),
        hook(&receiver.url("/dead"), &format!("secret = \"{SECRET}\"")),
        hook(&receiver.url("/failing"), &format!("secret = \"{SECRET}\"")),
    ]
    .concat();
    let server = Server::start_with(|toml| format!("{toml}{FAST}{hooks}"));
    let events = make_events(&server).await;
    let all: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let credits: Vec<String> = events
        .iter()
        .filter(|e| {
            e["type"].as_str().unwrap().starts_with("credits.") && e["source"] == "media_bot"
        })
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(credits.len(), 3);

    // The healthy filtered endpoint is not held up by the dead one (whose first attempt
    // alone takes the whole timeout, and its retries many more).
    assert!(
        receiver
            .wait_for(Duration::from_secs(3), |r| r.delivered("/credits").len()
                >= 3)
            .await,
        "{:?}",
        receiver.on("/credits")
    );
    assert_eq!(
        ids(&receiver.delivered("/credits")),
        credits,
        "filters and order"
    );
    assert!(receiver.on("/credits").iter().all(|r| r.attempt == 1));

    // Every event reaches `/flaky`, in seq order, after exactly its planned failures.
    assert!(
        receiver
            .wait_for(Duration::from_secs(20), |r| r.delivered("/flaky").len()
                >= all.len())
            .await,
        "{} of {} delivered",
        receiver.delivered("/flaky").len(),
        all.len()
    );
    assert_eq!(ids(&receiver.delivered("/flaky")), all);
    let flaky = receiver.on("/flaky");
    for id in &all {
        let attempts: Vec<_> = flaky.iter().filter(|r| r.id() == id).collect();
        assert_eq!(attempts.len(), 4, "{id}: {attempts:?}");
        for attempt in &attempts {
            assert_signed(attempt, &[SECRET, NEXT_SECRET]);
            assert_eq!(attempt.json()["id"], id.as_str());
            assert_eq!(attempt.header("content-type"), Some("application/json"));
        }
        // One body for every attempt: the event as the feed shows it.
        let feed_event = events.iter().find(|e| e["id"] == id.as_str()).unwrap();
        assert!(attempts.iter().all(|a| &a.json() == feed_event));
    }
    // In order: an event's first attempt comes after the previous event was delivered.
    let mut delivered_before = 0;
    for received in &flaky {
        let at = all.iter().position(|id| id == received.id()).unwrap();
        assert!(at <= delivered_before, "out of order: {received:?}");
        if received.answer.is_success() {
            delivered_before = at + 1;
        }
    }

    // `/failing` gives each event up after 6 attempts; they are kept and listed.
    assert!(
        receiver
            .wait_for(Duration::from_secs(20), |r| r.on("/failing").len()
                >= 6 * all.len())
            .await,
        "{}",
        receiver.on("/failing").len()
    );
    let listed = wait_listed(&server, &receiver.url("/failing"), all.len() as i64).await;
    assert_eq!(listed["backlog"], 0, "{listed:#}");
    assert_eq!(listed["last_error"], "HTTP 500");
    assert_eq!(listed["failures"][0]["attempts"], 6);
    assert_eq!(listed["failures"][0]["last_error"], "HTTP 500");
    let dead = summary(&server, &receiver.url("/dead"));
    assert!(
        dead["last_error"].as_str().unwrap().contains("timed out"),
        "{dead:#}"
    );
    assert!(dead["backlog"].as_i64().unwrap() > 0, "{dead:#}");

    // Metrics per endpoint.
    let metrics = server.admin().metrics().await;
    let flaky_label = receiver.url("/flaky");
    for line in [
        format!(
            "credit_sync_webhook_delivered_total{{endpoint=\"{flaky_label}\"}} {}",
            all.len()
        ),
        format!(
            "credit_sync_webhook_failed_attempts_total{{endpoint=\"{flaky_label}\"}} {}",
            3 * all.len()
        ),
        format!(
            "credit_sync_webhook_failed_deliveries_total{{endpoint=\"{}\"}} {}",
            receiver.url("/failing"),
            all.len()
        ),
        format!(
            "credit_sync_webhook_lag_seconds{{endpoint=\"{}\"}} 0",
            receiver.url("/credits")
        ),
        format!(
            "credit_sync_webhook_events_behind{{endpoint=\"{}\"}} 0",
            receiver.url("/credits")
        ),
    ] {
        assert!(metrics.contains(&line), "{line} missing in\n{metrics}");
    }
    assert!(metrics.contains(&format!(
        "credit_sync_webhook_lag_seconds{{endpoint=\"{}\"}}",
        receiver.url("/dead")
    )));

    // A replay from the first credit delivers the filtered endpoint's events again.
    let first_seq = events[0]["seq"].as_i64().unwrap().to_string();
    let out = server.run_cli(&[
        "webhooks",
        "replay",
        "--config",
        "{config}",
        "--endpoint",
        &receiver.url("/credits"),
        "--from",
        &first_seq,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        receiver
            .wait_for(Duration::from_secs(5), |r| r.delivered("/credits").len()
                >= 6)
            .await,
        "{:?}",
        receiver.on("/credits")
    );
    let again = ids(&receiver.delivered("/credits"));
    assert_eq!(again[3..], credits[..]);
    let out = server.run_cli(&[
        "webhooks",
        "replay",
        "--config",
        "{config}",
        "--endpoint",
        "http://nowhere/",
        "--from",
        "1",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no [[webhooks]] endpoint"));
}

/// `webhooks list`'s entry for `url`.
fn summary(server: &Server, url: &str) -> Value {
    let out = server.run_cli(&["webhooks", "list", "--config", "{config}"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["endpoint"] == url)
        .unwrap_or_else(|| panic!("{url} not in {list:#}"))
        .clone()
}

/// Waits until `webhooks list` shows `failed` deliveries of `url` kept.
async fn wait_listed(server: &Server, url: &str, failed: i64) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let listed = summary(server, url);
        if listed["failed_deliveries"] == failed || std::time::Instant::now() > deadline {
            assert_eq!(listed["failed_deliveries"], failed, "{listed:#}");
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_deliver_each_event_exactly_once() {
    if postgres_url().is_none() {
        eprintln!("skipped: two processes share a database only on PostgreSQL");
        return;
    }
    let receiver = Receiver::start(|_, _| Answer::Status(200)).await;
    let hooks = [
        hook(&receiver.url("/a"), &format!("secret = \"{SECRET}\"")),
        hook(
            &receiver.url("/b"),
            &format!("secret = \"{SECRET}\"\nevents = [\"credits.added\"]"),
        ),
    ]
    .concat();
    let edit = |toml: String| format!("{toml}{FAST}{hooks}");
    let first = Server::start_with(edit);
    let second = Server::start_on(first.database_url(), edit);
    let bots = [first.admin(), second.admin()];
    for i in 0..40 {
        bots[i % 2].fund(100 + (i as i64 % 5), 1).await.expect_ok();
    }
    let events = feed(&bots[0], 45).await;
    let added = events
        .iter()
        .filter(|e| e["type"] == "credits.added")
        .count();
    assert!(
        receiver
            .wait_for(Duration::from_secs(20), |r| {
                r.delivered("/a").len() >= events.len() && r.delivered("/b").len() >= added
            })
            .await
    );
    // Let a duplicate, if any, arrive.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids(&receiver.on("/a")), all, "each event once, in order");
    assert_eq!(receiver.on("/b").len(), added);
}

/// Rewrites the config file, sends SIGHUP, and waits for the `count`-th `outcome` in the log.
async fn reload(server: &Server, toml: &str, outcome: &str, count: usize) {
    std::fs::write(server.config_path(), toml).unwrap();
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(server.pid().unwrap().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while server.stderr_log().matches(outcome).count() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            server.stderr_log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sighup_adds_removes_and_rotates_endpoints_and_refuses_a_bad_one() {
    let receiver = Receiver::start(|_, _| Answer::Status(200)).await;
    let server = Server::start_with(|toml| format!("{toml}{FAST}"));
    let base = std::fs::read_to_string(server.config_path()).unwrap();
    let bot = server.admin();

    // Added by a reload: it receives what happens from then on, signed with its secret.
    let one = format!(
        "{base}{}",
        hook(&receiver.url("/a"), &format!("secret = \"{SECRET}\""))
    );
    reload(&server, &one, "SIGHUP: sources reloaded", 1).await;
    bot.fund(1, 1).await.expect_ok();
    assert!(
        receiver
            .wait_for(Duration::from_secs(5), |r| r.delivered("/a").len() == 2)
            .await
    );
    receiver
        .delivered("/a")
        .iter()
        .for_each(|r| assert_signed(r, &[SECRET]));

    // A bad secret is refused with the URL named, and the endpoint in force keeps going.
    let bad = format!(
        "{base}{}",
        hook(&receiver.url("/a"), "secret = \"whsec_!!\"")
    );
    reload(&server, &bad, "SIGHUP: reload refused", 1).await;
    assert!(
        server.stderr_log().contains("secret 1"),
        "{}",
        server.stderr_log()
    );
    bot.fund(1, 1).await.expect_ok();
    assert!(
        receiver
            .wait_for(Duration::from_secs(5), |r| r.delivered("/a").len() == 3)
            .await
    );
    receiver
        .delivered("/a")
        .iter()
        .for_each(|r| assert_signed(r, &[SECRET]));

    // Rotated: the next attempt carries the new secret's signature.
    let rotated = format!(
        "{base}{}",
        hook(&receiver.url("/a"), &format!("secret = \"{NEXT_SECRET}\""))
    );
    reload(&server, &rotated, "SIGHUP: sources reloaded", 2).await;
    bot.fund(1, 1).await.expect_ok();
    assert!(
        receiver
            .wait_for(Duration::from_secs(5), |r| r.delivered("/a").len() == 4)
            .await
    );
    assert_signed(receiver.delivered("/a").last().unwrap(), &[NEXT_SECRET]);

    // Removed: nothing more arrives.
    reload(&server, &base, "SIGHUP: sources reloaded", 3).await;
    bot.fund(1, 1).await.expect_ok();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.on("/a").len(), 4);
}
