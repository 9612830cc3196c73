//! The event stream over HTTP, on the suite's backend (SQLite, or PostgreSQL with
//! `CREDIT_SYNC_TEST_BACKEND=postgres`): every committed change yields exactly its event,
//! nothing else does, long polls wake on commit, the `own` filter and the retention hold,
//! and on PostgreSQL two processes' concurrent writers never make a reader skip an event.

mod support;

use credit_sync::protocol::{paths, EventType};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use support::*;

/// A v2-signed POST at a signing time of its own.
async fn post(bot: &Wire, path: &str, body: Value) -> Reply {
    bot.post(path, &body, Sign::V2At(signing_time())).await
}

/// One page of the feed.
async fn page(bot: &Wire, after: &str, limit: u32, wait: u32) -> (Vec<Value>, String) {
    let reply = bot
        .get(&format!(
            "{}?after={after}&limit={limit}&wait={wait}",
            paths::EVENTS
        ))
        .await;
    reply.expect_ok();
    let events = reply.body["events"].as_array().expect("events").clone();
    let next = reply.body["next_cursor"]
        .as_str()
        .expect("next_cursor")
        .to_string();
    (events, next)
}

/// Every event after `after`, in order, and the cursor after the last.
async fn drain(bot: &Wire, after: &str) -> (Vec<Value>, String) {
    let mut cursor = after.to_string();
    let mut all = Vec::new();
    loop {
        let (events, next) = page(bot, &cursor, 500, 0).await;
        cursor = next;
        if events.is_empty() {
            return (all, cursor);
        }
        all.extend(events);
    }
}

/// The events after `after`, waiting a little for PostgreSQL's sequencer to number them
/// until `count` arrived (SQLite serves them at once).
async fn expect_events(bot: &Wire, after: &str, count: usize) -> (Vec<Value>, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (events, next) = drain(bot, after).await;
        if events.len() >= count || Instant::now() > deadline {
            assert_eq!(events.len(), count, "{events:#?}");
            return (events, next);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until no new event arrives for a moment (PostgreSQL numbers them shortly after).
async fn settled(bot: &Wire) -> String {
    let mut cursor = "0".to_string();
    let mut quiet = 0;
    while quiet < 3 {
        let (events, next) = drain(bot, &cursor).await;
        quiet = if events.is_empty() { quiet + 1 } else { 0 };
        cursor = next;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cursor
}

fn types(events: &[Value]) -> Vec<&str> {
    events.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

fn assert_shape(event: &Value) {
    let id = event["id"].as_str().expect("id");
    assert!(id.starts_with("evt_") && id.len() == 40, "{id}");
    assert!(event["seq"].as_i64().unwrap() > 0);
    assert!(event["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(EventType::parse(event["type"].as_str().unwrap()) != EventType::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_change_yields_exactly_its_event() {
    let server = Server::start();
    let bot = server.admin();

    // A first credit registers the user: `user.registered`, then `credits.added`.
    let funded = bot.fund(1, 100).await;
    let record_id = funded.body["data"]["record_id"].as_i64().unwrap();
    let (events, cursor) = expect_events(&bot, "0", 2).await;
    assert_eq!(types(&events), ["user.registered", "credits.added"]);
    events.iter().for_each(assert_shape);
    assert_eq!(
        events[0]["data"],
        json!({"telegram_id": 1, "nickname": null})
    );
    assert_eq!(events[0]["source"], "media_bot");
    let added = &events[1];
    assert_eq!(added["telegram_id"], 1);
    assert_eq!(added["source"], "media_bot");
    // `data` is the record exactly as the records endpoint shows it.
    let records = bot.records(1).await;
    assert_eq!(
        added["data"],
        serde_json::to_value(&records[0]).unwrap(),
        "{added:#}"
    );
    assert_eq!(added["data"]["id"], record_id);
    assert!(events[0]["seq"].as_i64() < events[1]["seq"].as_i64());

    // A deduct.
    bot.sync_v2(1, -10, "spend", Some("d-1")).await.expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 1).await;
    assert_eq!(types(&events), ["credits.deducted"]);
    assert_eq!(events[0]["data"]["change"], -10);
    assert_eq!(events[0]["data"]["external_reference"], "d-1");

    // Every item of a batch (one of them registers user 2).
    post(
        &bot,
        paths::BATCH,
        json!({"source": "media_bot", "items": [
            {"telegram_id": 1, "amount": 5, "reason": "a"},
            {"telegram_id": 2, "amount": 7, "reason": "b"},
            {"telegram_id": 1, "amount": -1, "reason": "c"}]}),
    )
    .await
    .expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 4).await;
    assert_eq!(
        types(&events),
        [
            "credits.added",
            "user.registered",
            "credits.added",
            "credits.deducted"
        ]
    );

    // A hold placed, then captured (no separate deduct event: the hold tells it).
    let placed = post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 1, "amount": 20, "reason": "job"}),
    )
    .await;
    placed.expect_ok();
    let hold_id = placed.body["data"]["hold"]["hold_id"]
        .as_str()
        .unwrap()
        .to_string();
    let captured = post(&bot, &paths::capture(&hold_id), json!({"amount": 15})).await;
    captured.expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 2).await;
    assert_eq!(types(&events), ["hold.created", "hold.captured"]);
    assert_eq!(events[0]["data"], placed.body["data"]["hold"]);
    assert_eq!(events[1]["data"], captured.body["data"]["hold"]);
    assert_eq!(events[1]["data"]["state"], "captured");

    // A hold voided.
    let placed = post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 1, "amount": 5, "reason": "job"}),
    )
    .await;
    let hold_id = placed.body["data"]["hold"]["hold_id"]
        .as_str()
        .unwrap()
        .to_string();
    let voided = post(&bot, &paths::void(&hold_id), json!({})).await;
    voided.expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 2).await;
    assert_eq!(types(&events), ["hold.created", "hold.voided"]);
    assert_eq!(events[1]["data"], voided.body["data"]["hold"]);

    // A reversal.
    let reversed = post(
        &bot,
        paths::REVERSE,
        json!({"record_id": record_id, "amount": 3, "reason": "refund"}),
    )
    .await;
    reversed.expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 1).await;
    assert_eq!(types(&events), ["credits.reversed"]);
    assert_eq!(events[0]["data"]["reverses"], record_id);
    assert_eq!(events[0]["data"]["change"], -3);

    // A transfer: one event with both legs, to a user it registers.
    let moved = post(
        &bot,
        paths::TRANSFER,
        json!({"from_telegram_id": 1, "to_telegram_id": 3, "amount": 4, "reason": "gift"}),
    )
    .await;
    moved.expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 2).await;
    assert_eq!(types(&events), ["user.registered", "credits.transferred"]);
    let transfer = &events[1];
    assert_eq!(transfer["telegram_id"], 1);
    assert_eq!(
        transfer["data"]["transfer_id"],
        moved.body["data"]["transfer_id"]
    );
    assert_eq!(transfer["data"]["amount"], 4);
    assert_eq!(transfer["data"]["from"]["change"], -4);
    assert_eq!(transfer["data"]["to"]["change"], 4);
    assert_eq!(
        transfer["data"]["to"],
        serde_json::to_value(&bot.records(3).await[0]).unwrap()
    );

    // A registration (only when it creates the user).
    post(
        &bot,
        paths::USERS,
        json!({"telegram_id": 4, "nickname": "ann"}),
    )
    .await
    .expect_ok();
    post(
        &bot,
        paths::USERS,
        json!({"telegram_id": 4, "nickname": "bob"}),
    )
    .await
    .expect_ok();
    let (events, cursor) = expect_events(&bot, &cursor, 1).await;
    assert_eq!(types(&events), ["user.registered"]);
    assert_eq!(
        events[0]["data"],
        json!({"telegram_id": 4, "nickname": "ann"})
    );

    // An expired hold: the write that settles it emits `hold.expired`, then its own.
    let placed = post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 1, "amount": 5, "reason": "short", "ttl_secs": 1}),
    )
    .await;
    placed.expect_ok();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // (A write that must judge the live holds settles them: a new hold always does.)
    post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 1, "amount": 1, "reason": "after expiry"}),
    )
    .await
    .expect_ok();
    let (mut events, _) = expect_events(&bot, &cursor, 3).await;
    // Within one change, its events come in the order its backend wrote them (PostgreSQL
    // settles after the insert).
    events[1..].sort_by_key(|e| e["type"] != "hold.expired");
    assert_eq!(
        types(&events),
        ["hold.created", "hold.expired", "hold.created"]
    );
    assert_eq!(events[1]["data"]["state"], "expired");
    assert_eq!(
        events[1]["data"]["hold_id"],
        placed.body["data"]["hold"]["hold_id"]
    );

    // Ids are unique and seqs strictly increase over the whole feed.
    let (all, _) = drain(&bot, "0").await;
    let ids: BTreeSet<&str> = all.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), all.len());
    let seqs: Vec<i64> = all.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // And an event reads the same every time.
    let (again, _) = drain(&bot, "0").await;
    assert_eq!(all, again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_replays_and_aborted_batches_yield_no_event() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 10).await;
    bot.sync_v2(1, 5, "ref", Some("once")).await.expect_ok();
    let cursor = settled(&bot).await;

    // A refused deduct, a refusal of an unknown user, a replay, a conflict.
    bot.sync_v2(1, -1000, "too much", None)
        .await
        .expect_error(409, "insufficient_credits");
    let strict = server.client(NO_AUTO);
    strict
        .sync_v2(99, 5, "unknown", None)
        .await
        .expect_error(404, "user_not_found");
    let replay = bot.sync_v2(1, 5, "ref", Some("once")).await;
    replay.expect_ok();
    assert_eq!(replay.body["data"]["duplicate"], true);
    bot.sync_v2(1, 6, "ref", Some("once"))
        .await
        .expect_error(409, "reference_conflict");
    // A reused signature.
    let t = signing_time();
    let body = bot.change_body(1, 1, "x", None);
    bot.post(paths::SYNC, &body, Sign::V2At(t))
        .await
        .expect_ok();
    bot.post(paths::SYNC, &body, Sign::V2At(t))
        .await
        .expect_error(401, "signature_reused");
    // An atomic batch one item of which fails: nothing of it.
    let aborted = post(
        &bot,
        paths::BATCH,
        json!({"source": "media_bot", "atomic": true, "items": [
            {"telegram_id": 1, "amount": 5, "reason": "a"},
            {"telegram_id": 7, "amount": 5, "reason": "registers"},
            {"telegram_id": 1, "amount": -100000, "reason": "fails"}]}),
    )
    .await;
    assert_eq!(aborted.body["data"]["failed"], 3, "{}", aborted.text);
    // A refused hold and a refused capture.
    post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 1, "amount": 100000, "reason": "big"}),
    )
    .await
    .expect_error(409, "insufficient_credits");
    post(
        &bot,
        &paths::capture("hold_000000000000000000000000"),
        json!({}),
    )
    .await
    .expect_error(404, "hold_not_found");

    // Only the one signed write that went through.
    let (events, _) = expect_events(&bot, &cursor, 1).await;
    assert_eq!(types(&events), ["credits.added"]);
    assert_eq!(events[0]["data"]["reason"], "x");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (late, _) = drain(&bot, &cursor).await;
    assert_eq!(late.len(), 1, "{late:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_returns_when_an_event_commits_or_when_wait_passes() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 10).await;
    let cursor = settled(&bot).await;

    // Nothing happens: an empty page after `wait`, with the same cursor.
    let started = Instant::now();
    let (events, next) = page(&bot, &cursor, 10, 1).await;
    let waited = started.elapsed();
    assert!(events.is_empty());
    assert_eq!(next, cursor);
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");

    // A write while the poll waits: it answers at once with the event.
    let poll = {
        let bot = server.admin();
        let cursor = cursor.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let page = page(&bot, &cursor, 10, 20).await;
            (page, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let written = Instant::now();
    bot.sync_v2(1, 2, "wake", None).await.expect_ok();
    let ((events, next), waited) = poll.await.unwrap();
    assert_eq!(types(&events), ["credits.added"]);
    assert_ne!(next, cursor);
    assert!(
        written.elapsed() < Duration::from_secs(3),
        "woken {:?} after the write",
        written.elapsed()
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_own_source_sees_only_its_own_events() {
    let server = Server::start_with(|toml| {
        toml.replace(
            "name = \"strict_bot\"",
            "name = \"strict_bot\"\nevents = \"own\"",
        )
    });
    let admin = server.admin();
    let strict = server.client(NO_AUTO);
    admin.fund(1, 10).await;
    strict.sync_v2(1, 3, "mine", None).await.expect_ok();
    admin.fund(1, 4).await;
    let all = settled(&admin).await;
    let (everything, _) = drain(&admin, "0").await;
    assert_eq!(
        types(&everything),
        [
            "user.registered",
            "credits.added",
            "credits.added",
            "credits.added"
        ]
    );
    let (own, next) = drain(&strict, "0").await;
    assert_eq!(types(&own), ["credits.added"]);
    assert_eq!(own[0]["source"], "strict_bot");
    // Its cursor skips the others' events it has been shown not to see.
    assert_eq!(next, all);
    // And the default scope sees them all.
    let (reader, _) = drain(&server.client(READER), "0").await;
    assert_eq!(reader.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_past_the_retention_is_410_cursor_expired() {
    let server = Server::start_with(|toml| format!("event_retention_days = 1\n{toml}"));
    let bot = server.admin();
    bot.fund(1, 10).await;
    bot.fund(1, 10).await;
    let (events, _) = expect_events(&bot, "0", 3).await;
    let first = events[0]["seq"].as_i64().unwrap().to_string();
    let last = events[2]["seq"].as_i64().unwrap().to_string();
    // Two days old: the next prune (at most every 10 s) removes them.
    raw_execute(
        server.database_url(),
        &["UPDATE events SET created_at_ms = created_at_ms - 172800000"],
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        bot.fund(2, 1).await;
        let reply = bot.get(&format!("{}?after={first}", paths::EVENTS)).await;
        if reply.outcome() == (410, "cursor_expired") {
            assert_eq!(reply.field(), "after");
            break;
        }
        reply.expect_ok();
        assert!(Instant::now() < deadline, "never pruned");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The last pruned event's cursor lost nothing; no cursor starts at the oldest kept.
    settled(&bot).await;
    let (kept, _) = drain(&bot, &last).await;
    assert!(!kept.is_empty());
    let (from_start, _) = drain(&bot, "0").await;
    assert_eq!(from_start, kept);
    // A malformed cursor is a 400.
    bot.get(&format!("{}?after=r12", paths::EVENTS))
        .await
        .expect_error(400, "invalid_field");
    bot.get(&format!("{}?limit=501", paths::EVENTS))
        .await
        .expect_error(400, "invalid_field");
    bot.get(&format!("{}?wait=31", paths::EVENTS))
        .await
        .expect_error(400, "invalid_field");
}

/// Adds to `users` round-robin from `writers` tasks per server until stopped; returns the
/// record ids that were answered as applied.
async fn write_until(
    bots: Vec<Wire>,
    per_bot: usize,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> Vec<i64> {
    let mut tasks = Vec::new();
    for (b, bot) in bots.into_iter().enumerate() {
        let bot = std::sync::Arc::new(bot);
        for w in 0..per_bot {
            let (bot, stop) = (bot.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let user = 1 + ((b * 7 + w + i) % 5) as i64;
                    // A reason of its own: equal bodies at one second would share a signature.
                    let body = bot.change_body(user, 1, &format!("load {b} {w} {i}"), None);
                    let Ok(reply) = bot.send_signed_json(paths::SYNC, &body, now()).await else {
                        break;
                    };
                    if reply.outcome() == (200, "ok") {
                        ids.push(reply.body["data"]["record_id"].as_i64().unwrap());
                    }
                    i += 1;
                }
                ids
            }));
        }
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    ids
}

trait SendSignedJson {
    async fn send_signed_json(
        &self,
        path: &str,
        body: &Value,
        t: i64,
    ) -> Result<Reply, reqwest::Error>;
}

impl SendSignedJson for Wire {
    /// A v2-signed POST that reports a dead server instead of panicking.
    async fn send_signed_json(
        &self,
        path: &str,
        body: &Value,
        t: i64,
    ) -> Result<Reply, reqwest::Error> {
        let bytes = serde_json::to_vec(body).unwrap();
        let sig = credit_sync::signature::v2_header(ADMIN.2, t, "POST", path, &bytes);
        self.send(
            "POST",
            path,
            &[
                (credit_sync::protocol::headers::API_KEY, ADMIN.1),
                (credit_sync::protocol::headers::SIGNATURE, &sig),
                ("content-type", "application/json"),
            ],
            bytes,
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_in_two_processes_never_make_a_reader_skip_an_event() {
    if postgres_url().is_none() {
        eprintln!("skipped: two processes share a database only on PostgreSQL");
        return;
    }
    let first = Server::start();
    let second = first.start_sibling();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = tokio::spawn(write_until(
        vec![first.admin(), second.admin()],
        4,
        stop.clone(),
    ));
    // The reader pages with `after` (alternating processes) while the writers run.
    let readers = [first.admin(), second.admin()];
    let mut seen: Vec<Value> = Vec::new();
    let mut cursor = "0".to_string();
    let until = Instant::now() + Duration::from_secs(6);
    let mut turn = 0;
    while Instant::now() < until {
        let (events, next) = page(&readers[turn % 2], &cursor, 50, 1).await;
        turn += 1;
        seen.extend(events);
        cursor = next;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let applied = writers.await.unwrap();
    // Then to the end.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rest, _) = drain(&first.admin(), &cursor).await;
    seen.extend(rest);

    let seqs: Vec<i64> = seen.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "seq not increasing");
    let mut by_record: BTreeMap<i64, usize> = BTreeMap::new();
    for e in seen.iter().filter(|e| e["type"] == "credits.added") {
        *by_record
            .entry(e["data"]["id"].as_i64().unwrap())
            .or_default() += 1;
    }
    assert!(applied.len() > 100, "only {} writes", applied.len());
    for id in &applied {
        assert_eq!(
            by_record.get(id),
            Some(&1),
            "record {id} seen {:?} times",
            by_record.get(id)
        );
    }
    assert_eq!(by_record.len(), applied.len());
    // And the whole feed read afterwards is exactly what the reader saw while it grew.
    let (whole, _) = drain(&first.admin(), "0").await;
    assert_eq!(whole, seen);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_change_loses_no_committed_event_and_emits_none_for_the_rest() {
    let mut server = Server::start();
    let bot = server.admin();
    for user in 1..=5 {
        bot.fund(user, 1).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers = tokio::spawn(write_until(vec![server.admin()], 8, stop.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = writers.await.unwrap();
    server.restart();
    let bot = server.admin();
    settled(&bot).await;
    let (events, _) = drain(&bot, "0").await;
    let evented: BTreeSet<i64> = events
        .iter()
        .filter(|e| e["type"] == "credits.added")
        .map(|e| e["data"]["id"].as_i64().unwrap())
        .collect();
    let mut committed = BTreeSet::new();
    for user in 1..=5 {
        committed.extend(bot.records(user).await.into_iter().map(|r| r.id));
    }
    // Exactly the committed records have their event: none lost, none extra.
    assert_eq!(evented, committed);
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "credits.added")
            .count(),
        committed.len()
    );
    // Every write answered "applied" committed.
    assert!(answered.iter().all(|id| committed.contains(id)));
    assert!(
        answered.len() > 10,
        "only {} writes before the kill",
        answered.len()
    );
}

/// The server's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_parked_long_polls_cost_little_memory_and_all_wake_on_one_commit() {
    const POLLS: usize = 1000;
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 10).await;
    let cursor = settled(&bot).await;
    let pid = server.pid().expect("running");
    // Warm the server's allocator and pools with a few ordinary polls first.
    for _ in 0..3 {
        page(&bot, &cursor, 10, 0).await;
    }
    let before = rss_kib(pid);
    let path = format!("{}?after={cursor}&limit=10&wait=25", paths::EVENTS);
    let sig = credit_sync::signature::v2_header(ADMIN.2, now(), "GET", &path, b"");
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(POLLS)
        .timeout(Duration::from_secs(40))
        .build()
        .unwrap();
    let url = format!("{}{path}", server.base_url());
    let polls: Vec<_> = (0..POLLS)
        .map(|_| {
            let request = http
                .get(&url)
                .header(credit_sync::protocol::headers::API_KEY, ADMIN.1)
                .header(credit_sync::protocol::headers::SIGNATURE, &sig);
            tokio::spawn(async move {
                let reply = request.send().await.expect("answered");
                let status = reply.status().as_u16();
                let body: Value = reply.json().await.expect("JSON");
                (status, body["events"].as_array().map_or(0, Vec::len))
            })
        })
        .collect();
    // Parked: the connections are open and the handlers wait on the notifier.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let parked = rss_kib(pid);
    let per_poll = (parked.saturating_sub(before)) as f64 / POLLS as f64;
    eprintln!(
        "RSS before {before} KiB, with {POLLS} parked long polls {parked} KiB: +{} KiB, {per_poll:.1} KiB per poll",
        parked.saturating_sub(before)
    );
    // One commit wakes them all, long before their `wait`.
    let written = Instant::now();
    bot.sync_v2(1, 1, "wake everyone", None).await.expect_ok();
    for poll in polls {
        assert_eq!(poll.await.unwrap(), (200, 1));
    }
    let woke = written.elapsed();
    eprintln!("{POLLS} long polls answered {woke:?} after one commit");
    assert!(woke < Duration::from_secs(10), "{woke:?}");
    assert!(
        per_poll < 64.0,
        "{per_poll:.1} KiB per parked long poll ({before} -> {parked} KiB)"
    );
}
