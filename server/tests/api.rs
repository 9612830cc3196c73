//! Every endpoint of the real binary: the happy paths, idempotency and pagination.

mod support;

use credit_sync::protocol::{headers, paths};
use serde_json::json;
use support::*;

#[tokio::test]
async fn sync_adds_deducts_and_reads_back() {
    let server = Server::start();
    let bot = server.admin();
    let added = bot
        .sync(123456789, 100, "测试奖励", Some("video_12345"))
        .await;
    added.expect_ok();
    assert_eq!(added.body["success"], true);
    assert_eq!(added.body["balance"], 100);
    assert_eq!(added.body["data"]["telegram_id"], 123456789);
    assert_eq!(added.body["data"]["change"], 100);
    assert_eq!(added.body["data"]["duplicate"], false);
    assert!(added.body["data"]["record_id"].as_i64().unwrap() > 0);
    assert!(added.headers.get(headers::IDEMPOTENT_REPLAYED).is_none());
    assert!(added.headers.get(headers::REQUEST_ID).is_some());

    let spent = bot.sync(123456789, -30, "测试消费", None).await;
    spent.expect_ok();
    assert_eq!(spent.body["balance"], 70);

    let balance = bot.get(&paths::balance(123456789)).await;
    balance.expect_ok();
    assert_eq!(balance.body["credits"], 70);
    assert_eq!(balance.body["telegram_id"], 123456789);
    assert!(balance.body["nickname"].is_null());

    let records = bot.get(&paths::records(123456789, Some(5), None)).await;
    records.expect_ok();
    let list = records.body["records"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["change"], -30);
    assert_eq!(list[0]["balance_after"], 70);
    assert_eq!(list[1]["change"], 100);
    assert_eq!(list[1]["reason"], "测试奖励");
    assert_eq!(list[1]["source"], "media_bot");
    assert_eq!(list[1]["external_reference"], "video_12345");
    assert!(list[1]["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(records.body["next_cursor"].is_null());
}

#[tokio::test]
async fn v2_signed_sync_without_token() {
    let server = Server::start();
    let bot = server.admin();
    let body = json!({"telegram_id": 5, "amount": 10, "source": "media_bot", "reason": "v2"});
    bot.post(paths::SYNC, &body, Sign::V2).await.expect_ok();
    assert_eq!(bot.balance(5).await, Some(10));
}

#[tokio::test]
async fn replay_returns_the_original_result() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 100).await;
    let first = bot.sync(1, -60, "buy vip", Some("order_1")).await;
    first.expect_ok();
    // The balance is now 40 < 60, but the replay is checked first and still succeeds.
    let again = bot.sync(1, -60, "buy vip", Some("order_1")).await;
    again.expect_ok();
    assert_eq!(again.body["data"]["duplicate"], true);
    assert_eq!(
        again.body["data"]["record_id"],
        first.body["data"]["record_id"]
    );
    assert_eq!(again.body["balance"], 40);
    assert_eq!(
        again.headers.get(headers::IDEMPOTENT_REPLAYED).unwrap(),
        "true"
    );
    assert_eq!(bot.balance(1).await, Some(40));
    assert_eq!(bot.record_count(1).await, 2);
}

#[tokio::test]
async fn reference_conflict_names_the_fields() {
    let server = Server::start();
    let bot = server.admin();
    bot.sync(1, 50, "video", Some("video_9")).await.expect_ok();
    let conflict = bot.sync(2, 51, "video", Some("video_9")).await;
    conflict.expect_error(409, "reference_conflict");
    assert_eq!(conflict.body["fields"], json!(["telegram_id", "amount"]));
    let conflict = bot.sync(1, 50, "other", Some("video_9")).await;
    conflict.expect_error(409, "reference_conflict");
    assert_eq!(conflict.body["fields"], json!(["reason"]));
    assert_eq!(bot.balance(2).await, None);
    assert_eq!(bot.record_count(1).await, 1);
}

#[tokio::test]
async fn references_are_per_source() {
    let server = Server::start();
    server
        .admin()
        .sync(1, 5, "a", Some("same"))
        .await
        .expect_ok();
    let other = server.client(WRITER).sync(1, 5, "a", Some("same")).await;
    other.expect_ok();
    assert_eq!(other.body["data"]["duplicate"], false);
    assert_eq!(server.admin().balance(1).await, Some(10));
}

#[tokio::test]
async fn records_paginate_by_keyset() {
    let server = Server::start();
    let bot = server.admin();
    for i in 1..=25 {
        bot.fund(7, i).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = bot
            .get(&paths::records(7, Some(10), cursor.as_deref()))
            .await;
        page.expect_ok();
        pages += 1;
        for record in page.body["records"].as_array().unwrap() {
            seen.push(record["change"].as_i64().unwrap());
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => {
                assert!(next
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)));
                cursor = Some(next.to_string());
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=25).rev().collect::<Vec<_>>());
    // A record added meanwhile does not shift older pages (keyset, not OFFSET).
    let first = bot.get(&paths::records(7, Some(10), None)).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    bot.fund(7, 100).await;
    let second = bot.get(&paths::records(7, Some(10), Some(&cursor))).await;
    assert_eq!(second.body["records"][0]["change"], 15);
    // The default page size.
    let default = bot.get(&paths::records(7, None, None)).await;
    assert_eq!(default.body["records"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn register_user_sets_the_nickname() {
    let server = Server::start();
    let bot = server.admin();
    let created = bot
        .post(
            paths::USERS,
            &json!({"telegram_id": 42, "nickname": "alice"}),
            Sign::V2,
        )
        .await;
    created.expect_ok();
    assert_eq!(
        created.body["data"],
        json!({"telegram_id": 42, "credits": 0, "nickname": "alice", "created": true})
    );
    bot.fund(42, 9).await;
    let t = now();
    let body = json!({"telegram_id": 42, "nickname": "alice2", "source": "media_bot",
                      "timestamp": t, "token": bot.v1_token(42, 0, t)});
    let updated = bot.post(paths::USERS, &body, Sign::V1).await;
    updated.expect_ok();
    assert_eq!(
        updated.body["data"],
        json!({"telegram_id": 42, "credits": 9, "nickname": "alice2", "created": false})
    );
    let balance = bot.get(&paths::balance(42)).await;
    assert_eq!(balance.body["nickname"], "alice2");
    // A registered user can be charged (deduct from a known user with 0 credits).
    bot.sync(42, -10, "x", None)
        .await
        .expect_error(409, "insufficient_credits");
}

#[tokio::test]
async fn operations_endpoints() {
    let server = Server::start();
    let http = reqwest::Client::new();
    let health = Reply::read(
        http.get(format!("{}{}", server.base_url(), paths::HEALTHZ))
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    health.expect_ok();
    server.admin().fund(1, 5).await;
    let metrics = server.admin().metrics().await;
    assert!(
        metrics.contains(
            r#"credit_sync_requests_total{route="/api/credits/sync",method="POST",code="ok"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("credit_sync_request_duration_seconds_bucket"));
    assert!(metrics.contains("credit_sync_ledger_changes_applied_total 1"));
    // Answers count per configured source; an unknown key names none, so adds no series.
    server
        .client(WRITER)
        .sync_v2(1, -50, "too much", None)
        .await
        .expect_error(409, "insufficient_credits");
    let stranger = Wire::new(
        &server.base_url(),
        &Source::new("nobody", "not-a-key", "not-a-secret"),
    );
    stranger
        .sync_v2(1, 1, "x", None)
        .await
        .expect_error(401, "unauthorized");
    let metrics = server.admin().metrics().await;
    for line in [
        r#"credit_sync_source_requests_total{source="media_bot",code="ok"} 1"#,
        r#"credit_sync_source_requests_total{source="shop_bot",code="insufficient_credits"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} missing: {metrics}");
    }
    assert!(!metrics.contains("nobody"), "{metrics}");
    // The money-flow routes are labelled by their templates, not as `other`.
    server.admin().get(&paths::holds(1)).await.expect_ok();
    let metrics = server.admin().metrics().await;
    assert!(
        metrics.contains(r#"route="/api/credits/holds/{telegram_id}",method="GET",code="ok""#),
        "{metrics}"
    );
    let openapi = Reply::read(
        http.get(format!("{}{}", server.base_url(), paths::OPENAPI))
            .send()
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(openapi.status, 200);
    assert!(openapi.body["openapi"].as_str().unwrap().starts_with("3."));
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let server = Server::start();
    let http = reqwest::Client::new();
    let url = format!("{}{}", server.base_url(), paths::HEALTHZ);
    let echoed = http
        .get(&url)
        .header(headers::REQUEST_ID, "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()[headers::REQUEST_ID], "trace-42");
    let generated = http
        .get(&url)
        .header(headers::REQUEST_ID, "bad id with spaces")
        .send()
        .await
        .unwrap();
    let id = generated.headers()[headers::REQUEST_ID].to_str().unwrap();
    assert!(!id.is_empty() && id != "bad id with spaces");
}
