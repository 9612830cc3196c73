//! Every error code the server produces, with its status, its `field`, and proof that
//! nothing was written.

mod support;

use credit_sync::protocol::{headers, limits, paths};
use credit_sync::signature;
use serde_json::{json, Value};
use support::*;

const USER: i64 = 1000;

/// A server whose USER has 100 credits and one record.
async fn funded() -> Server {
    let server = Server::start();
    server.admin().fund(USER, 100).await;
    server
}

/// Nothing was written: USER still has 100 credits and one record, and no one else exists.
async fn untouched(server: &Server) {
    let bot = server.admin();
    assert_eq!(bot.balance(USER).await, Some(100));
    assert_eq!(bot.record_count(USER).await, 1);
    let verify = server.cli(&["verify"]);
    assert!(verify.status.success());
    let out = String::from_utf8_lossy(&verify.stdout);
    assert!(out.contains("1 users, 1 records"), "{out}");
}

fn with(mut body: Value, key: &str, value: Value) -> Value {
    body[key] = value;
    body
}

#[tokio::test]
async fn authentication_errors() {
    let server = funded().await;
    let bot = server.admin();
    let body = bot.v1_body(USER, 5, "x", None, signing_time());

    // No key, unknown key.
    let mut nokey = server.admin();
    nokey.api_key = String::new();
    nokey
        .post(paths::SYNC, &body, Sign::V1)
        .await
        .expect_error(401, "unauthorized");
    let mut wrong_key = server.admin();
    wrong_key.api_key = "not-a-key".into();
    wrong_key
        .post(paths::SYNC, &body, Sign::V1)
        .await
        .expect_error(401, "unauthorized");

    // Wrong secret: v1 and v2.
    let mut wrong_secret = server.admin();
    wrong_secret.secret = "guess".into();
    let forged = wrong_secret.v1_body(USER, 5, "x", None, signing_time());
    let a = bot.post(paths::SYNC, &forged, Sign::V1).await;
    a.expect_error(401, "invalid_signature");
    assert_eq!(a.field(), "token");
    let v2 = json!({"telegram_id": USER, "amount": 5, "source": "media_bot", "reason": "x"});
    wrong_secret
        .post(paths::SYNC, &v2, Sign::V2)
        .await
        .expect_error(401, "invalid_signature");

    // A token for another amount (tampered body under v1).
    let tampered = with(body.clone(), "amount", json!(500));
    bot.post(paths::SYNC, &tampered, Sign::V1)
        .await
        .expect_error(401, "invalid_signature");

    // Another source's key with this body: source mismatch.
    let other = server.client(WRITER);
    let a = other.post(paths::SYNC, &body, Sign::V1).await;
    a.expect_error(403, "source_mismatch");
    assert_eq!(a.field(), "source");

    // Stale and future timestamps, v1 and v2; server_time tells the client the clock.
    for skew in [-301, 301, -100_000] {
        let t = now() + skew;
        let stale = json!({"telegram_id": USER, "amount": 5, "source": "media_bot", "reason": "x",
                           "timestamp": t, "token": bot.v1_token(USER, 5, t)});
        let a = bot.post(paths::SYNC, &stale, Sign::V1).await;
        a.expect_error(401, "timestamp_out_of_window");
        assert!((a.body["server_time"].as_i64().unwrap() - now()).abs() < 5);
        bot.post(paths::SYNC, &v2, Sign::V2At(t))
            .await
            .expect_error(401, "timestamp_out_of_window");
    }

    // Missing v1 parts without a v2 header.
    let a = bot.post(paths::SYNC, &v2, Sign::None).await;
    a.expect_error(400, "missing_field");
    assert_eq!(a.field(), "token");
    let no_ts = with(v2.clone(), "token", json!("00"));
    let a = bot.post(paths::SYNC, &no_ts, Sign::None).await;
    a.expect_error(400, "missing_field");
    assert_eq!(a.field(), "timestamp");

    untouched(&server).await;
}

#[tokio::test]
async fn v2_covers_body_path_and_method() {
    let server = funded().await;
    let bot = server.admin();
    let body = br#"{"telegram_id":1000,"amount":5,"source":"media_bot","reason":"x"}"#;
    let t = now();
    let header = signature::v2_header(&bot.secret, t, "POST", paths::SYNC, body);
    let send = |raw: &'static [u8], header: String| {
        let bot = &bot;
        async move {
            bot.send_signed(
                "POST",
                paths::SYNC,
                &header,
                "application/json",
                raw.to_vec(),
            )
            .await
        }
    };
    // The same signature over a tampered body.
    let tampered: &'static [u8] =
        br#"{"telegram_id":1000,"amount":9,"source":"media_bot","reason":"x"}"#;
    send(tampered, header.clone())
        .await
        .expect_error(401, "invalid_signature");
    // A malformed header.
    send(body, "v2=abc".into())
        .await
        .expect_error(401, "invalid_signature");
    // Signed for another path.
    let elsewhere = signature::v2_header(&bot.secret, t, "POST", paths::BATCH, body);
    send(body, elsewhere)
        .await
        .expect_error(401, "invalid_signature");
    untouched(&server).await;
    // The genuine request works, and unknown header keys are ignored.
    send(body, format!("{header},v3=future")).await.expect_ok();
}

#[tokio::test]
async fn reads_require_v2_and_read_permission() {
    let server = funded().await;
    let bot = server.admin();
    let path = paths::balance(USER);
    bot.get_signed(&path, Sign::None)
        .await
        .expect_error(401, "invalid_signature");
    bot.get_signed(&path, Sign::V2At(now() - 1000))
        .await
        .expect_error(401, "timestamp_out_of_window");
    // Signed for another user's path.
    let a = bot
        .http
        .get(format!("{}{}", bot.base_url, paths::balance(USER + 1)))
        .header(headers::API_KEY, &bot.api_key)
        .header(
            headers::SIGNATURE,
            signature::v2_header(&bot.secret, now(), "GET", &path, b""),
        )
        .send()
        .await
        .unwrap();
    Reply::read(a)
        .await
        .unwrap()
        .expect_error(401, "invalid_signature");
    // A write-only source may not read; a read-only source may not write.
    server
        .client(WRITER)
        .get(&path)
        .await
        .expect_error(403, "forbidden");
    let reader = server.client(READER);
    reader.get(&path).await.expect_ok();
    reader
        .sync(USER, 5, "x", None)
        .await
        .expect_error(403, "forbidden");
    // Only admins register users.
    let a = bot
        .post(paths::USERS, &json!({"telegram_id": 5}), Sign::V2)
        .await;
    a.expect_ok();
    server
        .client(WRITER)
        .post(paths::USERS, &json!({"telegram_id": 6}), Sign::V2)
        .await
        .expect_error(403, "forbidden");
    assert_eq!(bot.balance(6).await, None);
}

#[tokio::test]
async fn read_path_and_query_errors() {
    let server = funded().await;
    let bot = server.admin();
    for bad in ["0", "-5", "abc", "99999999999999999999"] {
        let a = bot.get(&format!("{}/{bad}", paths::BALANCE)).await;
        a.expect_error(400, "invalid_telegram_id");
        assert_eq!(a.field(), "telegram_id");
    }
    bot.get(&paths::balance(USER + 1))
        .await
        .expect_error(404, "user_not_found");
    for query in ["limit=0", "limit=201", "limit=x"] {
        let a = bot.get(&format!("{}/{USER}?{query}", paths::RECORDS)).await;
        a.expect_error(400, "invalid_field");
        assert_eq!(a.field(), "limit");
    }
    let a = bot
        .get(&format!("{}/{USER}?cursor=nonsense", paths::RECORDS))
        .await;
    a.expect_error(400, "invalid_field");
    assert_eq!(a.field(), "cursor");
    // An unknown user has an empty page.
    let a = bot.get(&paths::records(USER + 1, None, None)).await;
    a.expect_ok();
    assert_eq!(a.body["records"], json!([]));
    assert!(a.body["next_cursor"].is_null());
}

#[tokio::test]
async fn validation_errors_name_the_field_and_write_nothing() {
    let server = funded().await;
    let bot = server.admin();
    let t = now();
    let signed = |telegram_id: i64, amount: i64| {
        json!({"telegram_id": telegram_id, "amount": amount, "source": "media_bot", "reason": "x",
               "timestamp": t, "token": bot.v1_token(telegram_id, amount, t)})
    };
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (signed(USER, 0), 400, "invalid_amount", "amount"),
        (
            signed(USER, 1_000_000_000_001),
            400,
            "amount_too_large",
            "amount",
        ),
        (
            signed(USER, -1_000_000_000_001),
            400,
            "amount_too_large",
            "amount",
        ),
        (signed(0, 5), 400, "invalid_telegram_id", "telegram_id"),
        (signed(-7, 5), 400, "invalid_telegram_id", "telegram_id"),
        (
            with(signed(USER, 5), "reason", json!("x".repeat(257))),
            400,
            "invalid_reason",
            "reason",
        ),
        (
            with(signed(USER, 5), "reason", json!("a\nb")),
            400,
            "invalid_reason",
            "reason",
        ),
        (
            with(
                signed(USER, 5),
                "external_reference",
                json!("r".repeat(129)),
            ),
            400,
            "invalid_reference",
            "external_reference",
        ),
        (
            with(signed(USER, 5), "external_reference", json!("")),
            400,
            "invalid_reference",
            "external_reference",
        ),
        (
            with(
                signed(USER, 5),
                "external_reference",
                json!("x'; DROP TABLE users;--"),
            ),
            400,
            "invalid_reference",
            "external_reference",
        ),
        (
            with(signed(USER, 5), "amount", json!("5")),
            400,
            "invalid_field",
            "amount",
        ),
        (
            with(signed(USER, 5), "amount", json!(5.5)),
            400,
            "invalid_field",
            "amount",
        ),
        (
            with(signed(USER, 5), "amount", json!(9223372036854775808u64)),
            400,
            "invalid_field",
            "amount",
        ),
        (
            with(signed(USER, 5), "telegram_id", json!("1000")),
            400,
            "invalid_field",
            "telegram_id",
        ),
        (
            with(signed(USER, 5), "reason", json!(5)),
            400,
            "invalid_field",
            "reason",
        ),
        (
            with(signed(USER, 5), "amount", Value::Null),
            400,
            "missing_field",
            "amount",
        ),
        (
            with(signed(USER, 5), "reason", Value::Null),
            400,
            "missing_field",
            "reason",
        ),
        (
            with(signed(USER, 5), "source", Value::Null),
            400,
            "missing_field",
            "source",
        ),
    ];
    for (body, status, code, field) in cases {
        let a = bot.post(paths::SYNC, &body, Sign::V1).await;
        a.expect_error(status, code);
        assert_eq!(a.field(), field, "{body}");
    }
    // A 256-character reason in any script is fine.
    bot.sync(USER, 1, &"观".repeat(256), None).await.expect_ok();
    bot.sync(USER, -1, "undo", None).await.expect_ok();
    assert_eq!(bot.balance(USER).await, Some(100));
}

#[tokio::test]
async fn transport_errors() {
    let server = funded().await;
    let bot = server.admin();
    // Not JSON, not an object.
    for raw in [&b"{not json"[..], b"[1,2]", b"", b"42"] {
        bot.post_raw(paths::SYNC, raw.to_vec(), "application/json", Sign::V1)
            .await
            .expect_error(400, "invalid_json");
    }
    // Wrong content type.
    let body = serde_json::to_vec(&bot.v1_body(USER, 5, "x", None, signing_time())).unwrap();
    bot.post_raw(paths::SYNC, body.clone(), "text/plain", Sign::V1)
        .await
        .expect_error(415, "unsupported_media_type");
    bot.post_raw(
        paths::SYNC,
        body.clone(),
        "application/json; charset=utf-8",
        Sign::V1,
    )
    .await
    .expect_ok();
    // Over 1 MiB.
    let mut big = bot.v1_body(USER, 5, "x", None, signing_time());
    big["padding"] = json!("x".repeat(limits::MAX_BODY_BYTES));
    bot.post(paths::SYNC, &big, Sign::V1)
        .await
        .expect_error(413, "payload_too_large");
    // Unknown route and wrong method, both as envelopes.
    bot.get("/api/credits/nothing")
        .await
        .expect_error(404, "not_found");
    bot.get(paths::SYNC)
        .await
        .expect_error(405, "method_not_allowed");
    bot.post(&paths::balance(USER), &json!({}), Sign::V2)
        .await
        .expect_error(405, "method_not_allowed");
    bot.sync(USER, -5, "undo", None).await.expect_ok();
    assert_eq!(bot.balance(USER).await, Some(100));
}

#[tokio::test]
async fn business_errors() {
    let server = funded().await;
    let bot = server.admin();
    // Overdraft: refused with the current balance, nothing written.
    let a = bot.sync(USER, -101, "too much", Some("order_x")).await;
    a.expect_error(409, "insufficient_credits");
    assert_eq!(a.body["balance"], 100);
    // The refused reference was not consumed.
    bot.sync(USER, -100, "all", Some("order_x"))
        .await
        .expect_ok();
    bot.sync(USER, 100, "back", None).await.expect_ok();
    // Deduct from an unknown user.
    bot.sync(USER + 1, -1, "x", None)
        .await
        .expect_error(404, "user_not_found");
    // A source without auto_register cannot create users by adding.
    let strict = server.client(NO_AUTO);
    strict
        .sync(USER + 2, 5, "x", None)
        .await
        .expect_error(404, "user_not_found");
    strict.sync(USER, 5, "x", None).await.expect_ok();
    strict.sync(USER, -5, "x", None).await.expect_ok();
    assert_eq!(bot.balance(USER + 1).await, None);
    assert_eq!(bot.balance(USER + 2).await, None);
    assert_eq!(bot.balance(USER).await, Some(100));
}

#[tokio::test]
async fn balance_overflow() {
    let server = Server::start_with(|toml| {
        toml.replace(
            "max_amount = 1000000000000",
            &format!("max_amount = {}", i64::MAX),
        )
    });
    let bot = server.admin();
    bot.fund(1, i64::MAX).await;
    let a = bot.sync(1, 1, "one more", None).await;
    a.expect_error(422, "balance_overflow");
    assert_eq!(a.body["balance"], i64::MAX);
    bot.sync(1, -i64::MAX, "all", None).await.expect_ok();
    assert_eq!(bot.balance(1).await, Some(0));
    assert_eq!(bot.record_count(1).await, 2);
}

#[tokio::test]
async fn rate_limited_with_retry_after() {
    let server = Server::start();
    let slow = server.client(LIMITED);
    let mut limited = None;
    for i in 0..10 {
        let a = slow.sync(1, 1, "x", None).await;
        if a.status == 429 {
            limited = Some((i, a));
            break;
        }
        a.expect_ok();
    }
    let (i, a) = limited.expect("the limit of 2/s was hit");
    assert!(i >= 2, "limited too early: {i}");
    a.expect_error(429, "rate_limited");
    let retry: u64 = a.headers[headers::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry));
    // Other sources are not affected.
    server.admin().fund(2, 1).await;
}

#[tokio::test]
async fn overloaded_server_sheds_with_service_unavailable() {
    use std::io::Write;
    let server = Server::start_with(|toml| {
        toml.replace(
            "max_amount = 1000000000000",
            "max_amount = 1000000000000\nmax_concurrent_requests = 1",
        )
    });
    // Hold the only slot: a request whose body never finishes arriving.
    let addr = server.base_url().trim_start_matches("http://").to_string();
    let mut slow = std::net::TcpStream::connect(&addr).unwrap();
    write!(
        slow,
        "POST {} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nX-Api-Key: {}\r\n\r\n{{",
        paths::SYNC,
        ADMIN.1
    )
    .unwrap();
    slow.flush().unwrap();
    let bot = server.admin();
    let mut shed = None;
    for _ in 0..50 {
        let a = bot.sync(1, 1, "x", None).await;
        if a.status == 503 {
            shed = Some(a);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let a = shed.expect("a request was shed while the slot was held");
    a.expect_error(503, "service_unavailable");
    assert_eq!(a.headers[headers::RETRY_AFTER], "1");
    drop(slow);
    // Once the slot is free, requests are served again.
    let mut served = false;
    for _ in 0..50 {
        if bot.sync(1, 1, "x", None).await.status == 200 {
            served = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(served);
}

#[tokio::test]
async fn register_user_errors() {
    let server = funded().await;
    let bot = server.admin();
    let cases = [
        (
            json!({"telegram_id": 0}),
            400,
            "invalid_telegram_id",
            "telegram_id",
        ),
        (
            json!({"telegram_id": "7"}),
            400,
            "invalid_field",
            "telegram_id",
        ),
        (
            json!({"nickname": "x"}),
            400,
            "missing_field",
            "telegram_id",
        ),
        (
            json!({"telegram_id": 7, "nickname": "n".repeat(129)}),
            400,
            "invalid_nickname",
            "nickname",
        ),
        (
            json!({"telegram_id": 7, "nickname": "a\u{1b}[31m"}),
            400,
            "invalid_nickname",
            "nickname",
        ),
        (
            json!({"telegram_id": 7, "source": "shop_bot"}),
            403,
            "source_mismatch",
            "source",
        ),
    ];
    for (body, status, code, field) in cases {
        let a = bot.post(paths::USERS, &body, Sign::V2).await;
        a.expect_error(status, code);
        assert_eq!(a.field(), field, "{body}");
    }
    // v1 signs amount 0; a token for another amount is refused.
    let t = now();
    let body = json!({"telegram_id": 7, "source": "media_bot", "timestamp": t,
                      "token": bot.v1_token(7, 1, t)});
    bot.post(paths::USERS, &body, Sign::V1)
        .await
        .expect_error(401, "invalid_signature");
    assert_eq!(bot.balance(7).await, None);
    untouched(&server).await;
}
