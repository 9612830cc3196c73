//! The money flows over HTTP, on the suite's backend: holds, captures, voids, reversals
//! and transfers answer in the documented shapes, with the documented codes and headers,
//! in the documented order of checks (docs/protocol.md, "Money flows").

mod support;

use credit_sync::protocol::{headers, paths};
use serde_json::{json, Value};
use support::*;

/// A v2-signed POST at a signing time of its own (equal bodies never share a signature).
async fn post(bot: &Wire, path: &str, body: Value) -> Reply {
    bot.post(path, &body, Sign::V2At(signing_time())).await
}

async fn hold(bot: &Wire, telegram_id: i64, amount: i64, reference: &str) -> Reply {
    post(
        bot,
        paths::HOLDS,
        json!({"telegram_id": telegram_id, "amount": amount, "reason": "image job",
               "external_reference": reference}),
    )
    .await
}

fn hold_id(reply: &Reply) -> String {
    reply.body["data"]["hold"]["hold_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no hold id: {}", reply.text))
        .to_string()
}

/// `(credits, held, available)` of the balance read.
async fn view(bot: &Wire, telegram_id: i64) -> (i64, i64, i64) {
    let reply = bot.get(&paths::balance(telegram_id)).await;
    reply.expect_ok();
    let n = |k: &str| {
        reply.body[k]
            .as_i64()
            .unwrap_or_else(|| panic!("{k}: {}", reply.text))
    };
    (n("credits"), n("held"), n("available"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_is_placed_captured_once_and_replayed_by_its_reference() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 100).await;

    let placed = hold(&bot, 1, 30, "job-1").await;
    placed.expect_ok();
    let data = &placed.body["data"];
    assert_eq!(data["hold"]["state"], "open");
    assert_eq!(data["hold"]["amount"], 30);
    assert_eq!(data["hold"]["source"], "media_bot");
    assert_eq!(
        (
            data["credits"].clone(),
            data["held"].clone(),
            data["available"].clone()
        ),
        (json!(100), json!(30), json!(70))
    );
    assert_eq!(placed.body["balance"], 100);
    let id = hold_id(&placed);
    assert!(id.starts_with("hold_") && id.len() == 29, "{id}");
    assert_eq!(view(&bot, 1).await, (100, 30, 70));

    // The same hold again is its replay; another amount under the reference a conflict.
    let again = hold(&bot, 1, 30, "job-1").await;
    again.expect_ok();
    assert_eq!(again.body["data"]["duplicate"], true);
    assert_eq!(again.header(headers::IDEMPOTENT_REPLAYED), Some("true"));
    assert_eq!(hold_id(&again), id);
    hold(&bot, 1, 31, "job-1")
        .await
        .expect_error(409, "reference_conflict");

    // The list shows it.
    let list = bot.get(&paths::holds(1)).await;
    list.expect_ok();
    assert_eq!(list.body["held"], 30);
    assert_eq!(list.body["holds"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["holds"][0]["hold_id"], id.as_str());

    // Held credits count: a deduct of more than available is refused.
    let deduct = bot.sync_v2(1, -71, "spend", None).await;
    deduct.expect_error(409, "insufficient_credits");
    assert_eq!(deduct.body["balance"], 100);

    // A partial capture: one record, the rest released.
    let captured = post(
        &bot,
        &paths::capture(&id),
        json!({"amount": 20, "external_reference": "job-1-done"}),
    )
    .await;
    captured.expect_ok();
    let data = &captured.body["data"];
    assert_eq!(data["hold"]["state"], "captured");
    assert_eq!(data["hold"]["captured"], 20);
    assert_eq!(
        (
            data["credits"].clone(),
            data["held"].clone(),
            data["available"].clone()
        ),
        (json!(80), json!(0), json!(80))
    );
    let record_id = data["hold"]["record_id"]
        .as_i64()
        .expect("the capture's record");
    let records = bot.records(1).await;
    assert_eq!(records[0].id, record_id);
    assert_eq!(records[0].change, -20);
    assert_eq!(records[0].hold_id.as_deref(), Some(id.as_str()));

    // The same capture with its reference is a replay; any other is hold_resolved, with
    // the final state in data.
    let replay = post(
        &bot,
        &paths::capture(&id),
        json!({"amount": 20, "external_reference": "job-1-done"}),
    )
    .await;
    replay.expect_ok();
    assert_eq!(replay.body["data"]["duplicate"], true);
    for body in [json!({}), json!({"external_reference": "other"})] {
        let resolved = post(&bot, &paths::capture(&id), body).await;
        resolved.expect_error(409, "hold_resolved");
        assert_eq!(resolved.body["data"]["hold"]["state"], "captured");
        assert_eq!(resolved.body["data"]["hold"]["captured"], 20);
    }
    post(&bot, &paths::void(&id), json!({}))
        .await
        .expect_error(409, "hold_resolved");
    assert_eq!(view(&bot, 1).await, (80, 0, 80));
    assert_eq!(bot.record_count(1).await, 2);
    assert_verified(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_refuse_in_the_documented_order() {
    let server = Server::start();
    let bot = server.admin();
    let shop = server.client(WRITER);
    bot.fund(2, 50).await;

    // v2 only: a body without X-Signature is refused whatever v1 fields it has.
    let unsigned = bot
        .post(
            paths::HOLDS,
            &json!({"telegram_id": 2, "amount": 5, "reason": "r", "timestamp": now(), "token": "x"}),
            Sign::V1,
        )
        .await;
    unsigned.expect_error(401, "invalid_signature");
    // Values.
    for (body, code, field) in [
        (
            json!({"telegram_id": 2, "amount": 0, "reason": "r"}),
            "invalid_amount",
            "amount",
        ),
        (
            json!({"telegram_id": 2, "amount": -5, "reason": "r"}),
            "invalid_amount",
            "amount",
        ),
        (
            json!({"telegram_id": 2, "amount": 5, "reason": "r", "ttl_secs": 0}),
            "invalid_field",
            "ttl_secs",
        ),
        (
            json!({"telegram_id": 2, "amount": 5, "reason": "r", "ttl_secs": 604_801}),
            "invalid_field",
            "ttl_secs",
        ),
        (
            json!({"telegram_id": 0, "amount": 5, "reason": "r"}),
            "invalid_telegram_id",
            "telegram_id",
        ),
        (
            json!({"telegram_id": 2, "reason": "r"}),
            "missing_field",
            "amount",
        ),
    ] {
        let reply = post(&bot, paths::HOLDS, body).await;
        reply.expect_error(400, code);
        assert_eq!(reply.field(), field);
    }
    post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 2, "amount": 5, "reason": "r", "source": "shop_bot"}),
    )
    .await
    .expect_error(403, "source_mismatch");
    hold(&bot, 3, 5, "no-user")
        .await
        .expect_error(404, "user_not_found");
    hold(&bot, 2, 51, "too-much")
        .await
        .expect_error(409, "insufficient_credits");

    // Unknown and malformed hold ids.
    for id in ["hold_0123456789abcdef01234567", "hold_1", "x"] {
        post(&bot, &paths::capture(id), json!({}))
            .await
            .expect_error(404, "hold_not_found");
    }

    // Only the source that placed a hold (or an admin) resolves it.
    let placed = hold(&shop, 2, 10, "shop-hold").await;
    placed.expect_ok();
    let id = hold_id(&placed);
    let other = server.client(NO_AUTO);
    post(&other, &paths::void(&id), json!({}))
        .await
        .expect_error(403, "forbidden");
    post(&bot, &paths::capture(&id), json!({"amount": 11}))
        .await
        .expect_error(400, "invalid_amount");
    let voided = post(
        &bot,
        &paths::void(&id),
        json!({"external_reference": "admin-void"}),
    )
    .await;
    voided.expect_ok();
    assert_eq!(voided.body["data"]["hold"]["state"], "voided");
    assert_eq!(view(&bot, 2).await, (50, 0, 50));
    // The reader may list but not hold.
    let reader = server.client(READER);
    reader.get(&paths::holds(2)).await.expect_ok();
    hold(&reader, 2, 1, "reader")
        .await
        .expect_error(403, "forbidden");
    bot.get(&paths::holds(99))
        .await
        .expect_error(404, "user_not_found");
    assert_verified(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_stops_counting_and_cannot_be_captured() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(4, 10).await;
    let placed = post(
        &bot,
        paths::HOLDS,
        json!({"telegram_id": 4, "amount": 10, "reason": "short", "ttl_secs": 2}),
    )
    .await;
    placed.expect_ok();
    let id = hold_id(&placed);
    assert_eq!(view(&bot, 4).await, (10, 10, 0));
    tokio::time::sleep(std::time::Duration::from_millis(2_100)).await;
    assert_eq!(view(&bot, 4).await, (10, 0, 10));
    let late = post(&bot, &paths::capture(&id), json!({})).await;
    late.expect_error(409, "hold_resolved");
    assert_eq!(late.body["data"]["hold"]["state"], "expired");
    assert!(bot.get(&paths::holds(4)).await.body["holds"]
        .as_array()
        .unwrap()
        .is_empty());
    bot.sync_v2(4, -10, "all of it", None).await.expect_ok();
    assert_verified(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reversals_link_to_their_original_and_never_exceed_it() {
    let server = Server::start();
    let bot = server.admin();
    let add = bot.sync_v2(5, 100, "order paid", Some("order-9")).await;
    add.expect_ok();
    let original = add.body["data"]["record_id"].as_i64().unwrap();

    let partial = post(
        &bot,
        paths::REVERSE,
        json!({"original_reference": "order-9", "amount": 30, "reason": "partial refund",
               "external_reference": "refund-9a"}),
    )
    .await;
    partial.expect_ok();
    let data = &partial.body["data"];
    assert_eq!(
        (data["change"].clone(), data["balance"].clone()),
        (json!(-30), json!(70))
    );
    assert_eq!(
        (data["reversed"].clone(), data["remaining"].clone()),
        (json!(30), json!(70))
    );
    assert_eq!(data["reverses"], original);
    let replay = post(
        &bot,
        paths::REVERSE,
        json!({"original_reference": "order-9", "amount": 30, "reason": "partial refund",
               "external_reference": "refund-9a"}),
    )
    .await;
    assert_eq!(replay.body["data"]["duplicate"], true, "{}", replay.text);
    assert_eq!(replay.header(headers::IDEMPOTENT_REPLAYED), Some("true"));
    post(
        &bot,
        paths::REVERSE,
        json!({"record_id": original, "amount": 71, "reason": "too much"}),
    )
    .await
    .expect_error(409, "reversal_exceeds_record");
    let rest = post(
        &bot,
        paths::REVERSE,
        json!({"record_id": original, "reason": "the rest"}),
    )
    .await;
    rest.expect_ok();
    assert_eq!(rest.body["data"]["change"], -70);
    assert_eq!(rest.body["data"]["remaining"], 0);
    post(
        &bot,
        paths::REVERSE,
        json!({"record_id": original, "reason": "again"}),
    )
    .await
    .expect_error(409, "reversal_exceeds_record");
    let reversal = rest.body["data"]["record_id"].as_i64().unwrap();
    post(
        &bot,
        paths::REVERSE,
        json!({"record_id": reversal, "reason": "undo"}),
    )
    .await
    .expect_error(409, "record_not_reversible");
    for (body, status, code) in [
        (
            json!({"record_id": 999_999, "reason": "r"}),
            404,
            "record_not_found",
        ),
        (
            json!({"original_reference": "nope", "reason": "r"}),
            404,
            "record_not_found",
        ),
        (json!({"reason": "r"}), 400, "missing_field"),
        (
            json!({"record_id": original, "original_reference": "order-9", "reason": "r"}),
            400,
            "invalid_field",
        ),
    ] {
        post(&bot, paths::REVERSE, body)
            .await
            .expect_error(status, code);
    }
    let records = bot.records(5).await;
    assert_eq!(records.len(), 3);
    assert!(records[..2].iter().all(|r| r.reverses == Some(original)));
    assert_eq!(bot.balance(5).await, Some(0));
    // Another (non-admin) source may not reverse media_bot's record.
    let shop_add = server
        .client(WRITER)
        .sync_v2(5, 10, "shop", Some("shop-1"))
        .await;
    shop_add.expect_ok();
    post(
        &server.client(NO_AUTO),
        paths::REVERSE,
        json!({"record_id": shop_add.body["data"]["record_id"], "reason": "r"}),
    )
    .await
    .expect_error(403, "forbidden");
    assert_verified(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_writes_two_linked_records_or_none() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(6, 40).await;
    let body = json!({"from_telegram_id": 6, "to_telegram_id": 7, "amount": 25, "reason": "gift",
                      "external_reference": "gift-1"});
    let sent = post(&bot, paths::TRANSFER, body.clone()).await;
    sent.expect_ok();
    let data = &sent.body["data"];
    assert_eq!(data["from"]["balance"], 15);
    assert_eq!(data["to"]["balance"], 25);
    assert_eq!(data["from"]["change"], -25);
    assert_eq!(sent.body["balance"], 15);
    let transfer_id = data["transfer_id"].as_str().unwrap().to_string();
    assert!(transfer_id.starts_with("tr_"));
    let again = post(&bot, paths::TRANSFER, body).await;
    assert_eq!(again.body["data"]["duplicate"], true, "{}", again.text);
    assert_eq!(again.body["data"]["transfer_id"], transfer_id.as_str());
    let conflict = post(
        &bot,
        paths::TRANSFER,
        json!({"from_telegram_id": 6, "to_telegram_id": 8, "amount": 25, "reason": "gift",
               "external_reference": "gift-1"}),
    )
    .await;
    conflict.expect_error(409, "reference_conflict");
    assert_eq!(conflict.body["fields"], json!(["to_telegram_id"]));
    // A sync reference is not a transfer's.
    bot.sync_v2(6, 1, "x", Some("plain-1")).await.expect_ok();
    let other = post(
        &bot,
        paths::TRANSFER,
        json!({"from_telegram_id": 6, "to_telegram_id": 7, "amount": 1, "reason": "x",
               "external_reference": "plain-1"}),
    )
    .await;
    other.expect_error(409, "reference_conflict");
    assert_eq!(other.body["fields"], json!(["operation"]));
    post(
        &bot,
        paths::TRANSFER,
        json!({"from_telegram_id": 6, "to_telegram_id": 7, "amount": 17, "reason": "x"}),
    )
    .await
    .expect_error(409, "insufficient_credits");
    post(
        &bot,
        paths::TRANSFER,
        json!({"from_telegram_id": 6, "to_telegram_id": 6, "amount": 1, "reason": "x"}),
    )
    .await
    .expect_error(400, "invalid_field");
    post(
        &server.client(NO_AUTO),
        paths::TRANSFER,
        json!({"from_telegram_id": 6, "to_telegram_id": 70, "amount": 1, "reason": "x"}),
    )
    .await
    .expect_error(404, "user_not_found");
    for id in [6, 7] {
        let records = bot.records(id).await;
        let leg = records
            .iter()
            .find(|r| r.transfer_id.is_some())
            .expect("a leg");
        assert_eq!(leg.transfer_id.as_deref(), Some(transfer_id.as_str()));
    }
    assert_eq!(view(&bot, 6).await, (16, 0, 16));
    assert_eq!(view(&bot, 7).await, (25, 0, 25));
    // A transfer leg is not reversed.
    let leg = sent.body["data"]["from"]["record_id"].clone();
    post(
        &bot,
        paths::REVERSE,
        json!({"record_id": leg, "reason": "undo"}),
    )
    .await
    .expect_error(409, "record_not_reversible");
    assert_verified(&server);
}
