//! The ledger's promises under load: no overdraft, replays apply once, batches apply per
//! item or atomically, and `verify` agrees afterwards.

mod support;

use credit_sync::protocol::paths;
use futures_util::future::join_all;
use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_deducts_never_overdraw() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 100).await;
    let answers = join_all((0..130).map(|i| {
        let bot = &bot;
        async move {
            if i % 2 == 0 {
                bot.sync(1, -1, "spend", None).await
            } else {
                // Half of them v2-signed, with references.
                let body = json!({"telegram_id": 1, "amount": -1, "source": "media_bot",
                                  "reason": "spend", "external_reference": format!("order_{i}")});
                bot.post(paths::SYNC, &body, Sign::V2).await
            }
        }
    }))
    .await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    for a in answers.iter().filter(|a| a.status != 200) {
        a.expect_error(409, "insufficient_credits");
    }
    assert_eq!(ok, 100);
    assert_eq!(bot.balance(1).await, Some(0));
    assert_eq!(bot.record_count(1).await, 101);
    // Every success saw a distinct balance: the deducts were serialized.
    let mut balances: Vec<i64> = answers
        .iter()
        .filter(|a| a.status == 200)
        .map(|a| a.body["balance"].as_i64().unwrap())
        .collect();
    balances.sort();
    assert_eq!(balances, (0..100).collect::<Vec<_>>());
    assert_verified(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_replays_apply_once() {
    let server = Server::start();
    let bot = server.admin();
    let answers =
        join_all((0..64).map(|_| bot.sync(9, 10, "reward", Some("task_1_2026-11-25")))).await;
    for a in &answers {
        a.expect_ok();
        assert_eq!(a.body["balance"], 10);
    }
    let fresh = answers
        .iter()
        .filter(|a| a.body["data"]["duplicate"] == false)
        .count();
    assert_eq!(fresh, 1);
    let ids: std::collections::HashSet<i64> = answers
        .iter()
        .map(|a| a.body["data"]["record_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(bot.balance(9).await, Some(10));
    assert_eq!(bot.record_count(9).await, 1);
    assert_verified(&server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mixed_load_keeps_the_books_consistent() {
    let server = Server::start();
    let bot = server.admin();
    let shop = server.client(WRITER);
    for user in 1..=5 {
        bot.fund(user, 50).await;
    }
    join_all((0..200).map(|i| {
        let (bot, shop) = (&bot, &shop);
        async move {
            let user = i % 5 + 1;
            match i % 4 {
                0 => {
                    bot.sync(user, 7, "earn", Some(&format!("e{}", i % 30)))
                        .await
                }
                1 => shop.sync(user, -11, "spend", None).await,
                2 => bot.sync(user, -3, "spend", Some(&format!("s{i}"))).await,
                _ => shop.sync(user + 10, 2, "new user", None).await,
            }
        }
    }))
    .await;
    assert_verified(&server);
}

fn batch_body(bot: &Wire, items: &[(i64, i64, &str, Option<&str>)], atomic: bool) -> Value {
    let t = signing_time();
    let items: Vec<Value> = items
        .iter()
        .map(|(id, amount, reason, reference)| {
            let mut item = json!({"telegram_id": id, "amount": amount, "reason": reason,
                                  "token": bot.v1_token(*id, *amount, t)});
            if let Some(r) = reference {
                item["external_reference"] = json!(r);
            }
            item
        })
        .collect();
    json!({"source": bot.source, "timestamp": t, "atomic": atomic, "items": items})
}

#[tokio::test]
async fn batch_applies_each_item_on_its_own() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(2, 10).await;
    let body = batch_body(
        &bot,
        &[
            (123456, 1000, "活动第1名", Some("camp_1_1")),
            (2, -50, "too much", None),
            (789012, 500, "活动第2名", Some("camp_1_2")),
            (3, 0, "zero", None),
            (123456, 1000, "活动第1名", Some("camp_1_1")),
        ],
        false,
    );
    let a = bot.post(paths::BATCH, &body, Sign::V1).await;
    assert_eq!(
        (a.status, a.code()),
        (200, "partial_failure"),
        "{:?}",
        a.body
    );
    assert_eq!(a.body["success"], false);
    let data = &a.body["data"];
    assert_eq!(
        (data["success"].as_u64(), data["failed"].as_u64()),
        (Some(3), Some(2))
    );
    let results = data["results"].as_array().unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["ok", "insufficient_credits", "ok", "invalid_amount", "ok"]
    );
    assert_eq!(results[1]["balance"], 10);
    assert_eq!(results[3]["field"], "amount");
    assert_eq!(results[0]["external_reference"], "camp_1_1");
    assert_eq!(
        results[4]["duplicate"], true,
        "a repeated reference in one batch applies once"
    );
    assert_eq!(results[4]["record_id"], results[0]["record_id"]);
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r["index"], i);
    }
    assert_eq!(bot.balance(123456).await, Some(1000));
    assert_eq!(bot.balance(789012).await, Some(500));
    assert_eq!(bot.balance(2).await, Some(10));
    assert_eq!(bot.balance(3).await, None);

    // A v2-signed batch needs no tokens; all ok gives code ok.
    let body = json!({"source": "media_bot", "items": [
        {"telegram_id": 2, "amount": 5, "reason": "a"},
        {"telegram_id": 2, "amount": -15, "reason": "b"}]});
    let a = bot.post(paths::BATCH, &body, Sign::V2).await;
    a.expect_ok();
    assert_eq!(a.body["success"], true);
    assert_eq!(a.body["data"]["results"][1]["balance"], 0);
    assert_verified(&server);
}

#[tokio::test]
async fn atomic_batch_rolls_back_everything() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 10).await;
    // The ledger refuses item 2 after items 0 and 1 were applied inside the transaction.
    let items = [
        (1, 5, "a", Some("atomic_1")),
        (50, 7, "new user", None),
        (1, -100, "too much", None),
        (1, 1, "c", None),
    ];
    let a = bot
        .post(paths::BATCH, &batch_body(&bot, &items, true), Sign::V1)
        .await;
    assert_eq!(
        (a.status, a.code()),
        (200, "partial_failure"),
        "{:?}",
        a.body
    );
    let results = a.body["data"]["results"].as_array().unwrap();
    let codes: Vec<&str> = results
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "batch_aborted",
            "batch_aborted",
            "insufficient_credits",
            "batch_aborted"
        ]
    );
    assert_eq!(a.body["data"]["success"], 0);
    assert_eq!(a.body["data"]["failed"], 4);
    assert_eq!(bot.balance(1).await, Some(10));
    assert_eq!(
        bot.balance(50).await,
        None,
        "the auto-registration was rolled back too"
    );
    assert_eq!(bot.record_count(1).await, 1);

    // An invalid item aborts the batch before the ledger is touched.
    let items = [(1, 5, "a", None), (1, 5, "b", Some("bad ref"))];
    let a = bot
        .post(paths::BATCH, &batch_body(&bot, &items, true), Sign::V1)
        .await;
    let results = a.body["data"]["results"].as_array().unwrap();
    assert_eq!(results[0]["code"], "batch_aborted");
    assert_eq!(results[1]["code"], "invalid_reference");
    assert_eq!(bot.balance(1).await, Some(10));

    // The reference of the rolled-back batch is still free; a good atomic batch applies all.
    let items = [(1, 5, "a", Some("atomic_1")), (1, -15, "b", None)];
    let a = bot
        .post(paths::BATCH, &batch_body(&bot, &items, true), Sign::V1)
        .await;
    a.expect_ok();
    assert_eq!(bot.balance(1).await, Some(0));
    assert_verified(&server);
}

#[tokio::test]
async fn batch_request_errors() {
    let server = Server::start();
    let bot = server.admin();
    let item = |i: i64| (i, 1, "x", None);
    // Empty and oversized batches.
    let a = bot
        .post(paths::BATCH, &batch_body(&bot, &[], false), Sign::V1)
        .await;
    a.expect_error(400, "batch_too_large");
    assert_eq!(a.field(), "items");
    let many: Vec<_> = (1..=1001).map(item).collect();
    bot.post(paths::BATCH, &batch_body(&bot, &many, false), Sign::V1)
        .await
        .expect_error(400, "batch_too_large");
    // Exactly 1000 is fine.
    let thousand: Vec<_> = (1..=1000).map(item).collect();
    let a = bot
        .post(paths::BATCH, &batch_body(&bot, &thousand, false), Sign::V1)
        .await;
    a.expect_ok();
    assert_eq!(a.body["data"]["success"], 1000);
    // A bad item token fails the whole request, naming the item.
    let mut body = batch_body(&bot, &[item(1), item(2)], false);
    body["items"][1]["amount"] = json!(2);
    let a = bot.post(paths::BATCH, &body, Sign::V1).await;
    a.expect_error(401, "invalid_signature");
    assert_eq!(a.field(), "items[1].token");
    let mut body = batch_body(&bot, &[item(1)], false);
    body["items"][0].as_object_mut().unwrap().remove("token");
    let a = bot.post(paths::BATCH, &body, Sign::V1).await;
    a.expect_error(400, "missing_field");
    assert_eq!(a.field(), "items[0].token");
    let mut body = batch_body(&bot, &[item(1)], false);
    body.as_object_mut().unwrap().remove("timestamp");
    bot.post(paths::BATCH, &body, Sign::V1)
        .await
        .expect_error(400, "missing_field");
    // Type errors in an item fail the request.
    let mut body = batch_body(&bot, &[item(1)], false);
    body["items"][0]["amount"] = json!("1");
    let a = bot.post(paths::BATCH, &body, Sign::V1).await;
    a.expect_error(400, "invalid_field");
    assert_eq!(a.field(), "items[0].amount");
    assert!(a.body["message"]
        .as_str()
        .unwrap()
        .contains("items[0].amount"));
    // Source mismatch.
    let other = server.client(WRITER);
    other
        .post(paths::BATCH, &batch_body(&bot, &[item(1)], false), Sign::V2)
        .await
        .expect_error(403, "source_mismatch");
    assert_eq!(bot.balance(1).await, Some(1));
    assert_verified(&server);
}
