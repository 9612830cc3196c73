//! Captured requests: every write signature (a v1 token, a v2 `X-Signature` hex) is
//! single-use within the timestamp window. A request sent again, byte for byte or with a
//! new reference, another reason or none, gets `401 signature_reused` and writes nothing,
//! unless it is the same referenced change (then `duplicate: true`, as always). A refused
//! change spends its signature; a 503 does not. Spent stays spent across restarts, and
//! copies sent at once apply once. A source may refuse v1. Two processes on
//! one PostgreSQL database cannot both spend one signature. And an unknown API key is
//! refused before its body is read.

use credit_sync::protocol::{headers, messages, paths};
use credit_sync::signature;
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::{now, Reply, Sign, Wire};
use credit_sync_testkit::{Server, Source};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends `body` exactly as given, v1-signed inside (only the API key in the headers).
async fn post_v1(wire: &Wire, path: &str, body: &Value) -> Reply {
    wire.post(path, body, Sign::V1).await
}

/// A v2-signed request kept so it can be sent again byte for byte.
struct Captured {
    path: &'static str,
    signature: String,
    body: Vec<u8>,
}

impl Captured {
    fn new(wire: &Wire, path: &'static str, body: &Value) -> Captured {
        let body = serde_json::to_vec(body).unwrap();
        Captured {
            path,
            signature: signature::v2_header(&wire.secret, now(), "POST", path, &body),
            body,
        }
    }

    async fn send(&self, wire: &Wire) -> Reply {
        wire.send_signed(
            "POST",
            self.path,
            &self.signature,
            "application/json",
            self.body.clone(),
        )
        .await
    }
}

fn assert_reused(reply: &Reply, what: &str) {
    assert_eq!(
        reply.outcome(),
        (401, "signature_reused"),
        "{what}: {}",
        reply.text
    );
    assert_eq!(reply.body["message"], messages::SIGNATURE_REUSED, "{what}");
}

async fn consistent(wire: &Wire, user: i64, balance: i64, records: usize) {
    let ledger = Ledger::read(wire, user).await;
    ledger.assert_consistent();
    assert_eq!(ledger.balance, Some(balance), "user {user}");
    assert_eq!(ledger.records.len(), records, "user {user}");
}

#[tokio::test]
async fn a_captured_v1_sync_cannot_be_replayed_with_changes() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let (user, t) = (71_001, now());

    // Unreferenced: the copy with no reference, a new one, or another reason all fail.
    let original = wire.v1_body(user, 25, "purchase", None, t);
    assert_eq!(
        post_v1(&wire, paths::SYNC, &original).await.outcome(),
        (200, "ok")
    );
    assert_reused(&post_v1(&wire, paths::SYNC, &original).await, "same body");
    let mut new_reference = original.clone();
    new_reference["external_reference"] = json!("attacker-1");
    assert_reused(
        &post_v1(&wire, paths::SYNC, &new_reference).await,
        "new reference",
    );
    let mut new_reason = original.clone();
    new_reason["reason"] = json!("bonus");
    assert_reused(
        &post_v1(&wire, paths::SYNC, &new_reason).await,
        "new reason",
    );
    consistent(&wire, user, 25, 1).await;

    // Referenced: the same change again is the idempotent replay; any change of it fails.
    let original = wire.v1_body(user, 40, "order", Some("order-1"), t);
    let first = post_v1(&wire, paths::SYNC, &original).await;
    assert_eq!(first.outcome(), (200, "ok"), "{}", first.text);
    let again = post_v1(&wire, paths::SYNC, &original).await;
    assert_eq!(again.outcome(), (200, "ok"), "{}", again.text);
    assert_eq!(again.body["data"]["duplicate"], true);
    assert_eq!(
        again.body["data"]["record_id"],
        first.body["data"]["record_id"]
    );
    for (field, value) in [
        ("external_reference", json!("order-2")),
        ("reason", json!("refund")),
    ] {
        let mut changed = original.clone();
        changed[field] = value;
        assert_reused(&post_v1(&wire, paths::SYNC, &changed).await, field);
    }
    let mut unreferenced = original.clone();
    unreferenced
        .as_object_mut()
        .unwrap()
        .remove("external_reference");
    assert_reused(
        &post_v1(&wire, paths::SYNC, &unreferenced).await,
        "no reference",
    );
    consistent(&wire, user, 65, 2).await;
}

#[tokio::test]
async fn a_v2_write_is_single_use_unless_it_is_the_same_referenced_change() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let user = 71_101;
    let body = json!({"telegram_id": user, "amount": 30, "source": wire.source, "reason": "tip"});
    let captured = Captured::new(&wire, paths::SYNC, &body);
    assert_eq!(captured.send(&wire).await.outcome(), (200, "ok"));
    assert_reused(&captured.send(&wire).await, "v2 byte for byte");

    let body = json!({"telegram_id": user, "amount": 5, "source": wire.source,
        "reason": "tip", "external_reference": "v2-ref-1"});
    let captured = Captured::new(&wire, paths::SYNC, &body);
    assert_eq!(captured.send(&wire).await.outcome(), (200, "ok"));
    let again = captured.send(&wire).await;
    assert_eq!(again.outcome(), (200, "ok"), "{}", again.text);
    assert_eq!(again.body["data"]["duplicate"], true);
    assert_eq!(again.header(headers::IDEMPOTENT_REPLAYED), Some("true"));

    // POST /api/users is a write too.
    let register = Captured::new(
        &wire,
        paths::USERS,
        &json!({"telegram_id": 71_102, "nickname": "alice"}),
    );
    assert_eq!(register.send(&wire).await.outcome(), (200, "ok"));
    assert_reused(&register.send(&wire).await, "users");
    consistent(&wire, user, 35, 2).await;
}

/// Spent signatures outlive the process: after a graceful restart and after a `kill -9`,
/// a captured write is still refused (on SQLite the writer rebuilds its in-memory index
/// of them from the durable log each time it takes a connection).
#[tokio::test]
async fn a_spent_signature_stays_spent_across_restarts() {
    let mut server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let user = 71_201;
    let captured: Vec<Captured> = [3, 4]
        .iter()
        .map(|amount| {
            let body =
                json!({"telegram_id": user, "amount": amount, "source": wire.source, "reason": "tip"});
            Captured::new(&wire, paths::SYNC, &body)
        })
        .collect();
    for c in &captured {
        assert_eq!(c.send(&wire).await.outcome(), (200, "ok"));
    }
    server.stop();
    server.restart();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    for c in &captured {
        assert_reused(&c.send(&wire).await, "after a graceful restart");
    }
    server.kill9();
    server.restart();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    for c in &captured {
        assert_reused(&c.send(&wire).await, "after kill -9");
    }
    consistent(&wire, user, 7, 2).await;
}

/// Copies of one captured write sent at once share group commits (each in its own
/// savepoint): exactly one is applied, every other copy is refused.
#[tokio::test]
async fn copies_of_a_captured_write_sent_at_once_apply_once() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    for (round, user) in (71_301..71_305).enumerate() {
        let body =
            json!({"telegram_id": user, "amount": 7, "source": wire.source, "reason": "tip"});
        let captured = Captured::new(&wire, paths::SYNC, &body);
        let replies = futures_util::future::join_all((0..32).map(|_| captured.send(&wire))).await;
        let applied = replies.iter().filter(|r| r.status == 200).count();
        assert_eq!(applied, 1, "round {round}");
        for reply in replies.iter().filter(|r| r.status != 200) {
            assert_reused(reply, "a copy sent at once");
        }
        consistent(&wire, user, 7, 1).await;
    }
}

/// A v1 batch body: one token per item over the batch timestamp.
fn v1_batch(wire: &Wire, items: &[(i64, i64, Option<&str>)], t: i64) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(user, amount, reference)| {
            let token = signature::v1_token(&wire.secret, *user, *amount, &wire.source, t);
            let mut item =
                json!({"telegram_id": user, "amount": amount, "reason": "batch", "token": token});
            if let Some(r) = reference {
                item["external_reference"] = json!(r);
            }
            item
        })
        .collect();
    json!({"source": wire.source, "timestamp": t, "items": items})
}

#[tokio::test]
async fn batch_signatures_are_single_use() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let (a, b, t) = (71_201, 71_202, now());

    // v1: the per-item tokens are spent, for batches and for single syncs alike.
    let batch = v1_batch(&wire, &[(a, 10, None), (b, 20, Some("b-1"))], t);
    let first = post_v1(&wire, paths::BATCH, &batch).await;
    assert_eq!(first.outcome(), (200, "ok"), "{}", first.text);
    assert_reused(&post_v1(&wire, paths::BATCH, &batch).await, "v1 batch");
    let mut rereferenced = batch.clone();
    rereferenced["items"][0]["external_reference"] = json!("attacker-a");
    rereferenced["items"][1]["external_reference"] = json!("attacker-b");
    assert_reused(
        &post_v1(&wire, paths::BATCH, &rereferenced).await,
        "new references",
    );
    let mut one_item = batch.clone();
    one_item["items"].as_array_mut().unwrap().pop();
    assert_reused(&post_v1(&wire, paths::BATCH, &one_item).await, "a subset");
    let mut as_sync = wire.v1_body(a, 10, "batch", None, t);
    as_sync["token"] = batch["items"][0]["token"].clone();
    assert_reused(
        &post_v1(&wire, paths::SYNC, &as_sync).await,
        "item token as a sync",
    );
    // Only the referenced item, again: the idempotent replay.
    let mut referenced = batch.clone();
    referenced["items"].as_array_mut().unwrap().remove(0);
    let again = post_v1(&wire, paths::BATCH, &referenced).await;
    assert_eq!(again.outcome(), (200, "ok"), "{}", again.text);
    assert_eq!(again.body["data"]["results"][0]["duplicate"], true);

    // v2: the header signature.
    let body = json!({"source": wire.source, "items": [
        {"telegram_id": a, "amount": 1, "reason": "v2 batch"},
        {"telegram_id": b, "amount": 2, "reason": "v2 batch", "external_reference": "b-2"}]});
    let captured = Captured::new(&wire, paths::BATCH, &body);
    assert_eq!(captured.send(&wire).await.outcome(), (200, "ok"));
    assert_reused(&captured.send(&wire).await, "v2 batch");
    let body = json!({"source": wire.source, "atomic": true, "items": [
        {"telegram_id": a, "amount": 3, "reason": "v2 batch", "external_reference": "a-3"},
        {"telegram_id": b, "amount": 4, "reason": "v2 batch", "external_reference": "b-4"}]});
    let captured = Captured::new(&wire, paths::BATCH, &body);
    assert_eq!(captured.send(&wire).await.outcome(), (200, "ok"));
    let again = captured.send(&wire).await;
    assert_eq!(again.outcome(), (200, "ok"), "{}", again.text);
    assert_eq!(again.body["data"]["results"][1]["duplicate"], true);

    consistent(&wire, a, 14, 3).await;
    consistent(&wire, b, 26, 3).await;
}

#[tokio::test]
async fn a_refused_change_spends_its_signature() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let (user, t) = (71_301, now());
    assert_eq!(
        wire.sync_v2(user, 10, "fund", None).await.outcome(),
        (200, "ok")
    );

    // Refused now; an attacker who kept it must not be able to apply it after a top-up.
    let deduct = wire.v1_body(user, -50, "purchase", None, t);
    let refused = post_v1(&wire, paths::SYNC, &deduct).await;
    assert_eq!(
        refused.outcome(),
        (409, "insufficient_credits"),
        "{}",
        refused.text
    );
    assert_eq!(
        wire.sync_v2(user, 100, "top-up", None).await.outcome(),
        (200, "ok")
    );
    assert_reused(
        &post_v1(&wire, paths::SYNC, &deduct).await,
        "refused, replayed",
    );

    // The same for a v2 deduct with a reference, and for an aborted atomic batch.
    let body = json!({"telegram_id": user, "amount": -500, "source": wire.source,
        "reason": "purchase", "external_reference": "big-1"});
    let captured = Captured::new(&wire, paths::SYNC, &body);
    assert_eq!(
        captured.send(&wire).await.outcome(),
        (409, "insufficient_credits")
    );
    assert_eq!(
        wire.sync_v2(user, 1_000, "top-up", None).await.outcome(),
        (200, "ok")
    );
    assert_reused(&captured.send(&wire).await, "refused v2, replayed");
    let body = json!({"source": wire.source, "atomic": true, "items": [
        {"telegram_id": user, "amount": 1, "reason": "a"},
        {"telegram_id": user, "amount": -1_000_000, "reason": "b"}]});
    let captured = Captured::new(&wire, paths::BATCH, &body);
    assert_eq!(
        captured.send(&wire).await.outcome(),
        (200, "partial_failure")
    );
    assert_reused(&captured.send(&wire).await, "aborted batch, replayed");

    // The honest client signs again: the fresh request applies.
    let fresh = wire.v1_body(user, -50, "purchase", None, t + 1);
    assert_eq!(
        post_v1(&wire, paths::SYNC, &fresh).await.outcome(),
        (200, "ok")
    );
    consistent(&wire, user, 1_060, 4).await;
}

#[tokio::test]
async fn two_identical_unreferenced_v1_changes_in_one_second_need_a_second_or_v2() {
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let (user, t) = (71_401, now());
    let body = wire.v1_body(user, 3, "like", None, t);
    assert_eq!(
        post_v1(&wire, paths::SYNC, &body).await.outcome(),
        (200, "ok")
    );
    let second = post_v1(&wire, paths::SYNC, &body).await;
    assert_reused(&second, "second identical change");
    let message = second.body["message"].as_str().unwrap();
    for advice in ["external_reference", "a second", "v2"] {
        assert!(
            message.contains(advice),
            "{advice:?} missing in {message:?}"
        );
    }
    // Either piece of advice works: a second later, or v2 with a reference.
    let later = wire.v1_body(user, 3, "like", None, t + 1);
    assert_eq!(
        post_v1(&wire, paths::SYNC, &later).await.outcome(),
        (200, "ok")
    );
    for i in 0..2 {
        let r = wire
            .sync_v2(user, 3, "like", Some(&format!("like-{i}")))
            .await;
        assert_eq!(r.outcome(), (200, "ok"), "{}", r.text);
    }
    consistent(&wire, user, 12, 4).await;
}

/// Holds the server's only request slot: a write whose body never arrives (its handler
/// waits for it after checking the caller). Dropping the stream frees the slot.
async fn hold_the_slot(server: &Server, source: &Source) -> tokio::net::TcpStream {
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n",
        paths::SYNC,
        headers::API_KEY,
        source.api_key
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn an_honest_retry_after_a_503_works() {
    let config = setup::config().extra_toml("max_concurrent_requests = 1");
    let server = Server::start(config);
    let media = setup::media_bot();
    let wire = Wire::new(&server.base_url(), &media);
    let (user, t) = (71_501, now());
    let body = wire.v1_body(user, 9, "retry", None, t);
    let mut slot = hold_the_slot(&server, &media).await;
    // A harmless probe first, so the write only goes once the slot is surely taken.
    let deadline = Instant::now() + Duration::from_secs(5);
    while wire
        .send("GET", paths::HEALTHZ, &[], Vec::new())
        .await
        .unwrap()
        .status
        != 503
    {
        assert!(Instant::now() < deadline, "the slot was never taken");
        // A probe the server took up first (on PostgreSQL `/healthz` pings the database)
        // sheds the held write with a 503: hold the slot again.
        let mut answer = [0u8; 64];
        match slot.try_read(&mut answer) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            _ => slot = hold_the_slot(&server, &media).await,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let shed = post_v1(&wire, paths::SYNC, &body).await;
    assert_eq!(
        shed.outcome(),
        (503, "service_unavailable"),
        "{}",
        shed.text
    );
    drop(slot);
    // The retry, signed again with a fresh timestamp, applies once.
    let retry = wire.v1_body(user, 9, "retry", None, t + 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = post_v1(&wire, paths::SYNC, &retry).await;
        match answer.outcome() {
            (200, "ok") => break,
            (503, _) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => panic!("retry: {other:?} {}", answer.text),
        }
    }
    // Nothing of the shed request was spent either: it still applies (once).
    assert_eq!(
        post_v1(&wire, paths::SYNC, &body).await.outcome(),
        (200, "ok")
    );
    assert_reused(
        &post_v1(&wire, paths::SYNC, &body).await,
        "after it applied",
    );
    consistent(&wire, user, 18, 2).await;
}

#[tokio::test]
async fn a_source_may_refuse_v1() {
    let strict = Source::new("strict_bot", "strict-bot-key", "strict-bot-secret");
    // The testkit writes the listed sources after this table: one more `[[sources]]`.
    let config = setup::config_with(vec![strict.clone()]).extra_toml(
        "[[sources]]\nname = \"strict_bot_v2\"\napi_key = \"strict-v2-key\"\n\
         secret = \"strict-v2-secret\"\nsignatures = [\"v2\"]\n",
    );
    let server = Server::start(config);
    let v2_only = Wire::new(
        &server.base_url(),
        &Source::new("strict_bot_v2", "strict-v2-key", "strict-v2-secret"),
    );
    let user = 71_601;
    let v1 = v2_only.v1_body(user, 5, "v1", None, now());
    let refused = post_v1(&v2_only, paths::SYNC, &v1).await;
    assert_eq!(
        refused.outcome(),
        (401, "signature_scheme_refused"),
        "{}",
        refused.text
    );
    assert!(refused.body["message"].as_str().unwrap().contains("v2"));
    let batch = v1_batch(&v2_only, &[(user, 5, None)], now());
    let refused = post_v1(&v2_only, paths::BATCH, &batch).await;
    assert_eq!(
        refused.outcome(),
        (401, "signature_scheme_refused"),
        "{}",
        refused.text
    );
    assert_eq!(
        v2_only.sync_v2(user, 5, "v2", None).await.outcome(),
        (200, "ok")
    );
    // The default is both.
    let both = Wire::new(&server.base_url(), &strict);
    let v1 = both.v1_body(user + 1, 5, "v1", None, now());
    assert_eq!(
        post_v1(&both, paths::SYNC, &v1).await.outcome(),
        (200, "ok")
    );
    assert_eq!(v2_only.balance(user).await, Some(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_database_spend_a_signature_once() {
    let first = setup::start();
    if !first.is_postgres() {
        eprintln!("skipped: two processes share a database only on PostgreSQL");
        return;
    }
    let second = Server::start(setup::config().database(first.database_url()));
    let media = setup::media_bot();
    let (a, b) = (
        Wire::new(&first.base_url(), &media),
        Wire::new(&second.base_url(), &media),
    );
    for round in 0..20 {
        let user = 71_701 + round;
        let body = a.v1_body(user, 7, "raced", None, now());
        let (x, y) = tokio::join!(
            post_v1(&a, paths::SYNC, &body),
            post_v1(&b, paths::SYNC, &body)
        );
        let mut outcomes = [x.outcome(), y.outcome()];
        outcomes.sort();
        assert_eq!(
            outcomes,
            [(200, "ok"), (401, "signature_reused")],
            "round {round}: {} / {}",
            x.text,
            y.text
        );
        consistent(&a, user, 7, 1).await;
    }
}

/// Sends only a request head (API key `key`, a body announced but never sent) and reads
/// the status line, within 3 s (the server's body deadline is 10 s).
async fn status_before_the_body(server: &Server, path: &str, key: &str, length: usize) -> String {
    let mut stream = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{}: {key}\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n",
        headers::API_KEY
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut answer))
        .await
        .unwrap_or_else(|_| panic!("{path}: no answer within 3 s while the body is missing"))
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).to_string();
    text.lines().next().unwrap_or("").to_string()
}

#[tokio::test]
async fn an_unknown_key_is_refused_before_the_body_is_read() {
    let server = setup::start();
    for path in [paths::SYNC, paths::BATCH, paths::USERS] {
        // A body that never arrives, and one of 10 MB (over the limit) announced.
        for length in [100, 10 * 1024 * 1024] {
            let status = status_before_the_body(&server, path, "no-such-key", length).await;
            assert!(status.contains(" 401 "), "{path}, {length} bytes: {status}");
        }
    }
}
