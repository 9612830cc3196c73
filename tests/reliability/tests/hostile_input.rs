//! Hostile and bad input: each request is rejected with the protocol's status and
//! `code`, and writes nothing (checked after every case: the funded user's balance
//! and records are unchanged, and the fresh user the bad adds target stays unknown).

use credit_sync::protocol::{headers, limits, paths};
use credit_sync::signature;
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::{now, Reply, Sign, Wire};
use credit_sync_testkit::{Server, Source};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The funded user; bad deducts and reads aim at it.
const FUNDED: i64 = 5_000;
/// A user nobody registered; bad adds aim at it (auto-register is on).
const FRESH: i64 = 5_999;

struct Table {
    wire: Wire,
    snapshot: (Option<i64>, usize),
    failures: Vec<String>,
    cases: usize,
}

impl Table {
    async fn new(server: &Server) -> Table {
        let wire = Wire::new(&server.base_url(), &setup::media_bot());
        let funded = wire
            .sync_v2(FUNDED, 1_000, "fund", Some("hostile-fund"))
            .await;
        assert_eq!(funded.outcome(), (200, "ok"), "{}", funded.text);
        let ledger = Ledger::read(&wire, FUNDED).await;
        Table {
            snapshot: (ledger.balance, ledger.records.len()),
            wire,
            failures: Vec::new(),
            cases: 0,
        }
    }

    /// Records a mismatch (all of them are reported together at the end).
    async fn expect(&mut self, case: &str, reply: Reply, status: u16, code: &str) {
        self.cases += 1;
        if reply.outcome() != (status, code) {
            let text: String = reply.text.chars().take(200).collect();
            self.failures.push(format!(
                "{case}: expected {status} {code}, got {} {:?} ({text})",
                reply.status,
                reply.code()
            ));
        }
        if reply.status >= 400 && reply.body.get("success") != Some(&Value::Bool(false)) {
            self.failures.push(format!(
                "{case}: an error without the envelope's success:false"
            ));
        }
        let ledger = Ledger::read(&self.wire, FUNDED).await;
        if (ledger.balance, ledger.records.len()) != self.snapshot {
            self.failures
                .push(format!("{case}: wrote to user {FUNDED}"));
            self.snapshot = (ledger.balance, ledger.records.len());
        }
        if self.wire.balance(FRESH).await.is_some() {
            self.failures
                .push(format!("{case}: registered user {FRESH}"));
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} of {} hostile cases failed:\n{}",
            self.failures.len(),
            self.cases,
            self.failures.join("\n")
        );
        eprintln!(
            "hostile_input: {} cases rejected, nothing written",
            self.cases
        );
    }
}

fn body(
    telegram_id: Value,
    amount: Value,
    source: &str,
    reason: Value,
    reference: Option<Value>,
) -> Value {
    let mut b =
        json!({"telegram_id": telegram_id, "amount": amount, "source": source, "reason": reason});
    if let Some(r) = reference {
        b["external_reference"] = r;
    }
    b
}

fn with_source(base: &Source, api_key: &str, secret: &str) -> Source {
    let mut s = base.clone();
    s.api_key = api_key.into();
    s.secret = secret.into();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_request_is_rejected_and_writes_nothing() {
    let server = setup::start();
    let url = server.base_url();
    let media = setup::media_bot();
    let mut t = Table::new(&server).await;
    let w = t.wire.clone();
    let ts = now();

    // --- credentials -------------------------------------------------------------
    let wrong_key = Wire::new(&url, &with_source(&media, "not-a-key", &media.secret));
    t.expect(
        "wrong API key",
        wrong_key.sync(FRESH, 10, "x", None).await,
        401,
        "unauthorized",
    )
    .await;
    let r = w
        .send(
            "POST",
            paths::SYNC,
            &[("content-type", "application/json")],
            serde_json::to_vec(&w.v1_body(FRESH, 10, "x", None, ts)).unwrap(),
        )
        .await
        .unwrap();
    t.expect("missing API key", r, 401, "unauthorized").await;
    let wrong_secret = Wire::new(&url, &with_source(&media, &media.api_key, "not-the-secret"));
    t.expect(
        "wrong secret (v1)",
        wrong_secret.sync(FRESH, 10, "x", None).await,
        401,
        "invalid_signature",
    )
    .await;
    t.expect(
        "wrong secret (v2)",
        wrong_secret.sync_v2(FRESH, 10, "x", None).await,
        401,
        "invalid_signature",
    )
    .await;
    let game = setup::game_bot();
    let game_secret = Wire::new(&url, &with_source(&media, &media.api_key, &game.secret));
    t.expect(
        "another source's secret",
        game_secret.sync(FRESH, 10, "x", None).await,
        401,
        "invalid_signature",
    )
    .await;

    // --- source mismatch -----------------------------------------------------------
    let mut as_game = w.clone();
    as_game.source = "game_bot".into();
    t.expect(
        "body source is not the key's (v1)",
        as_game.sync(FRESH, 10, "x", None).await,
        403,
        "source_mismatch",
    )
    .await;
    t.expect(
        "body source is not the key's (v2)",
        as_game.sync_v2(FRESH, 10, "x", None).await,
        403,
        "source_mismatch",
    )
    .await;
    t.expect("batch source is not the key's",
        w.post(paths::BATCH, &json!({"source": "game_bot", "items": [{"telegram_id": FRESH, "amount": 1, "reason": "x"}]}), Sign::V2).await,
        403, "source_mismatch").await;

    // --- tokens for something else -------------------------------------------------
    let mut b = w.v1_body(FRESH, 100, "x", None, ts);
    b["amount"] = json!(100_000);
    t.expect(
        "v1 token for another amount",
        w.post(paths::SYNC, &b, Sign::V1).await,
        401,
        "invalid_signature",
    )
    .await;
    let mut b = w.v1_body(FUNDED, -100, "x", None, ts);
    b["telegram_id"] = json!(FUNDED + 1);
    t.expect(
        "v1 token for another user",
        w.post(paths::SYNC, &b, Sign::V1).await,
        401,
        "invalid_signature",
    )
    .await;
    let mut b = w.v1_body(FUNDED, -100, "x", None, ts);
    b["amount"] = json!(-1000);
    t.expect(
        "v1 token for another deduct",
        w.post(paths::SYNC, &b, Sign::V1).await,
        401,
        "invalid_signature",
    )
    .await;
    let mut b = w.v1_body(FRESH, 100, "x", None, ts);
    b["token"] = json!("");
    t.expect(
        "empty v1 token",
        w.post(paths::SYNC, &b, Sign::V1).await,
        401,
        "invalid_signature",
    )
    .await;
    let mut b = w.v1_body(FRESH, 100, "x", None, ts);
    b.as_object_mut().unwrap().remove("token");
    b.as_object_mut().unwrap().remove("timestamp");
    t.expect(
        "no token and no v2 header",
        w.post(paths::SYNC, &b, Sign::V1).await,
        400,
        "missing_field",
    )
    .await;

    // --- clock window --------------------------------------------------------------
    let tol = limits::DEFAULT_TIMESTAMP_TOLERANCE_SECS;
    let old = w.v1_body(FRESH, 10, "x", None, ts - tol - 5);
    let r = w.post(paths::SYNC, &old, Sign::V1).await;
    if r.body.get("server_time").and_then(Value::as_i64).is_none() {
        t.failures
            .push("timestamp_out_of_window without server_time".into());
    }
    t.expect(
        "v1 token past the window (replay)",
        r,
        401,
        "timestamp_out_of_window",
    )
    .await;
    let future = w.v1_body(FRESH, 10, "x", None, ts + tol + 5);
    t.expect(
        "v1 token from the future",
        w.post(paths::SYNC, &future, Sign::V1).await,
        401,
        "timestamp_out_of_window",
    )
    .await;
    let far = w.v1_body(FRESH, 10, "x", None, i64::MIN);
    t.expect(
        "v1 timestamp i64::MIN",
        w.post(paths::SYNC, &far, Sign::V1).await,
        401,
        "timestamp_out_of_window",
    )
    .await;
    let bytes = serde_json::to_vec(&body(
        json!(FRESH),
        json!(10),
        "media_bot",
        json!("x"),
        None,
    ))
    .unwrap();
    let sig = signature::v2_header(&media.secret, ts - tol - 5, "POST", paths::SYNC, &bytes);
    let r = w
        .send_signed("POST", paths::SYNC, &sig, "application/json", bytes)
        .await;
    t.expect(
        "v2 signature past the window",
        r,
        401,
        "timestamp_out_of_window",
    )
    .await;

    // --- v2 tampering --------------------------------------------------------------
    let signed =
        serde_json::to_vec(&body(json!(FRESH), json!(1), "media_bot", json!("x"), None)).unwrap();
    let sent = serde_json::to_vec(&body(
        json!(FRESH),
        json!(1_000),
        "media_bot",
        json!("x"),
        None,
    ))
    .unwrap();
    let sig = signature::v2_header(&media.secret, ts, "POST", paths::SYNC, &signed);
    let r = w
        .send_signed("POST", paths::SYNC, &sig, "application/json", sent.clone())
        .await;
    t.expect(
        "tampered body under a v2 signature",
        r,
        401,
        "invalid_signature",
    )
    .await;
    let sig = signature::v2_header(&media.secret, ts, "POST", paths::BATCH, &sent);
    let r = w
        .send_signed("POST", paths::SYNC, &sig, "application/json", sent.clone())
        .await;
    t.expect("v2 signature for another path", r, 401, "invalid_signature")
        .await;
    let sig = signature::v2_header(&media.secret, ts, "GET", &paths::balance(FUNDED + 1), b"");
    let r = w
        .send(
            "GET",
            &paths::balance(FUNDED),
            &[
                (headers::API_KEY, &media.api_key),
                (headers::SIGNATURE, &sig),
            ],
            Vec::new(),
        )
        .await
        .unwrap();
    t.expect(
        "v2 read signed for another user",
        r,
        401,
        "invalid_signature",
    )
    .await;
    let r = w
        .send(
            "GET",
            &paths::balance(FUNDED),
            &[(headers::API_KEY, &media.api_key)],
            Vec::new(),
        )
        .await
        .unwrap();
    t.expect("read without a v2 signature", r, 401, "invalid_signature")
        .await;
    let r = w
        .send(
            "POST",
            paths::SYNC,
            &[
                (headers::API_KEY, &media.api_key),
                (headers::SIGNATURE, "t=abc,v2=zz"),
                ("content-type", "application/json"),
            ],
            sent.clone(),
        )
        .await
        .unwrap();
    t.expect("garbage v2 header", r, 401, "invalid_signature")
        .await;

    // --- the body itself -----------------------------------------------------------
    let mut huge = body(json!(FRESH), json!(10), "media_bot", json!("x"), None);
    huge["padding"] = json!("a".repeat(limits::MAX_BODY_BYTES));
    t.expect(
        "body over 1 MiB",
        w.post(paths::SYNC, &huge, Sign::V2).await,
        413,
        "payload_too_large",
    )
    .await;
    let mut huge_batch = json!({"source": "media_bot", "items": []});
    huge_batch["items"] = json!(vec![
        json!({"telegram_id": FRESH, "amount": 1, "reason": "r".repeat(250)});
        4_000
    ]);
    t.expect(
        "batch body over 1 MiB",
        w.post(paths::BATCH, &huge_batch, Sign::V2).await,
        413,
        "payload_too_large",
    )
    .await;
    t.expect(
        "malformed JSON",
        w.post_raw(
            paths::SYNC,
            b"{not json".to_vec(),
            "application/json",
            Sign::V2,
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    let truncated = sent[..sent.len() / 2].to_vec();
    t.expect(
        "truncated JSON",
        w.post_raw(paths::SYNC, truncated, "application/json", Sign::V2)
            .await,
        400,
        "invalid_json",
    )
    .await;
    t.expect(
        "JSON array",
        w.post_raw(
            paths::SYNC,
            b"[1,2,3]".to_vec(),
            "application/json",
            Sign::V2,
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    t.expect(
        "JSON string",
        w.post_raw(
            paths::SYNC,
            b"\"hello\"".to_vec(),
            "application/json",
            Sign::V2,
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    t.expect(
        "empty body",
        w.post_raw(paths::SYNC, Vec::new(), "application/json", Sign::V2)
            .await,
        400,
        "invalid_json",
    )
    .await;
    t.expect(
        "invalid UTF-8",
        w.post_raw(
            paths::SYNC,
            b"{\"reason\": \"\xff\xfe\"}".to_vec(),
            "application/json",
            Sign::V2,
        )
        .await,
        400,
        "invalid_json",
    )
    .await;
    let sig = signature::v2_header(&media.secret, ts, "POST", paths::SYNC, &sent);
    let r = w
        .send_signed("POST", paths::SYNC, &sig, "text/plain", sent.clone())
        .await;
    t.expect("wrong content type", r, 415, "unsupported_media_type")
        .await;
    let r = w
        .send(
            "POST",
            paths::SYNC,
            &[
                (headers::API_KEY, &media.api_key),
                (headers::SIGNATURE, &sig),
            ],
            sent.clone(),
        )
        .await
        .unwrap();
    t.expect("no content type", r, 415, "unsupported_media_type")
        .await;
    let r = w
        .send_signed(
            "POST",
            paths::SYNC,
            &sig,
            "application/x-www-form-urlencoded",
            sent.clone(),
        )
        .await;
    t.expect("form content type", r, 415, "unsupported_media_type")
        .await;

    // --- amounts -------------------------------------------------------------------
    let sync = |id: Value, amount: Value| body(id, amount, "media_bot", json!("x"), None);
    t.expect(
        "amount 0",
        w.post(paths::SYNC, &sync(json!(FRESH), json!(0)), Sign::V2)
            .await,
        400,
        "invalid_amount",
    )
    .await;
    t.expect(
        "amount over the maximum",
        w.post(
            paths::SYNC,
            &sync(json!(FRESH), json!(limits::DEFAULT_MAX_AMOUNT + 1)),
            Sign::V2,
        )
        .await,
        400,
        "amount_too_large",
    )
    .await;
    t.expect(
        "deduct over the maximum",
        w.post(
            paths::SYNC,
            &sync(json!(FUNDED), json!(-limits::DEFAULT_MAX_AMOUNT - 1)),
            Sign::V2,
        )
        .await,
        400,
        "amount_too_large",
    )
    .await;
    t.expect(
        "amount i64::MAX",
        w.post(paths::SYNC, &sync(json!(FRESH), json!(i64::MAX)), Sign::V2)
            .await,
        400,
        "amount_too_large",
    )
    .await;
    t.expect(
        "amount i64::MIN",
        w.post(paths::SYNC, &sync(json!(FUNDED), json!(i64::MIN)), Sign::V2)
            .await,
        400,
        "amount_too_large",
    )
    .await;
    let beyond =
        br#"{"telegram_id":5999,"amount":9223372036854775808,"source":"media_bot","reason":"x"}"#
            .to_vec();
    t.expect(
        "amount beyond i64",
        w.post_raw(paths::SYNC, beyond, "application/json", Sign::V2)
            .await,
        400,
        "invalid_field",
    )
    .await;
    t.expect(
        "amount 1.5",
        w.post(paths::SYNC, &sync(json!(FRESH), json!(1.5)), Sign::V2)
            .await,
        400,
        "invalid_field",
    )
    .await;
    t.expect(
        "amount as a string",
        w.post(paths::SYNC, &sync(json!(FRESH), json!("100")), Sign::V2)
            .await,
        400,
        "invalid_field",
    )
    .await;
    t.expect(
        "amount missing",
        w.post(
            paths::SYNC,
            &json!({"telegram_id": FRESH, "source": "media_bot", "reason": "x"}),
            Sign::V2,
        )
        .await,
        400,
        "missing_field",
    )
    .await;
    t.expect(
        "deduct over the balance",
        w.post(paths::SYNC, &sync(json!(FUNDED), json!(-1_001)), Sign::V2)
            .await,
        409,
        "insufficient_credits",
    )
    .await;
    t.expect(
        "deduct from an unknown user",
        w.post(paths::SYNC, &sync(json!(FRESH), json!(-1)), Sign::V2)
            .await,
        404,
        "user_not_found",
    )
    .await;

    // --- telegram_id ---------------------------------------------------------------
    t.expect(
        "telegram_id as a string",
        w.post(paths::SYNC, &sync(json!("5999"), json!(10)), Sign::V2)
            .await,
        400,
        "invalid_field",
    )
    .await;
    t.expect(
        "telegram_id 1.5",
        w.post(paths::SYNC, &sync(json!(1.5), json!(10)), Sign::V2)
            .await,
        400,
        "invalid_field",
    )
    .await;
    t.expect(
        "telegram_id null",
        w.post(paths::SYNC, &sync(json!(null), json!(10)), Sign::V2)
            .await,
        400,
        "missing_field",
    )
    .await;
    t.expect(
        "negative telegram_id",
        w.post(paths::SYNC, &sync(json!(-5_999), json!(10)), Sign::V2)
            .await,
        400,
        "invalid_telegram_id",
    )
    .await;
    t.expect(
        "telegram_id 0",
        w.post(paths::SYNC, &sync(json!(0), json!(10)), Sign::V2)
            .await,
        400,
        "invalid_telegram_id",
    )
    .await;
    t.expect(
        "negative telegram_id (v1)",
        w.post(paths::SYNC, &w.v1_body(-5_999, 10, "x", None, ts), Sign::V1)
            .await,
        400,
        "invalid_telegram_id",
    )
    .await;
    let r = w.get(&paths::balance(-1)).await;
    t.expect(
        "negative telegram_id in a path",
        r,
        400,
        "invalid_telegram_id",
    )
    .await;
    let r = w.get("/api/credits/balance/abc").await;
    t.expect(
        "non-integer telegram_id in a path",
        r,
        400,
        "invalid_telegram_id",
    )
    .await;

    // --- reason and reference ------------------------------------------------------
    let text = |reason: Value, reference: Option<Value>| {
        body(json!(FRESH), json!(10), "media_bot", reason, reference)
    };
    let long = "r".repeat(limits::MAX_REASON_CHARS + 1);
    t.expect(
        "reason over 256 characters",
        w.post(paths::SYNC, &text(json!(long), None), Sign::V2)
            .await,
        400,
        "invalid_reason",
    )
    .await;
    t.expect(
        "reason with a bell",
        w.post(paths::SYNC, &text(json!("ding\u{7}"), None), Sign::V2)
            .await,
        400,
        "invalid_reason",
    )
    .await;
    t.expect(
        "reason with a newline",
        w.post(paths::SYNC, &text(json!("a\nb"), None), Sign::V2)
            .await,
        400,
        "invalid_reason",
    )
    .await;
    t.expect(
        "reason with NUL",
        w.post(paths::SYNC, &text(json!("a\u{0}b"), None), Sign::V2)
            .await,
        400,
        "invalid_reason",
    )
    .await;
    t.expect(
        "reason not a string",
        w.post(paths::SYNC, &text(json!(7), None), Sign::V2).await,
        400,
        "invalid_field",
    )
    .await;
    let long = "a".repeat(limits::MAX_REFERENCE_CHARS + 1);
    for (case, reference) in [
        ("reference over 128 characters", json!(long)),
        ("empty reference", json!("")),
        ("reference with a control character", json!("ref\u{1}")),
        (
            "reference with SQL meta-characters",
            json!("x'; DROP TABLE users;--"),
        ),
        ("reference with a quote", json!("ref\"1")),
        ("reference with a space", json!("ref 1")),
        ("reference with a percent", json!("ref%27")),
        ("reference with non-ASCII", json!("réf")),
    ] {
        t.expect(
            case,
            w.post(paths::SYNC, &text(json!("x"), Some(reference)), Sign::V2)
                .await,
            400,
            "invalid_reference",
        )
        .await;
    }
    t.expect(
        "reference not a string",
        w.post(paths::SYNC, &text(json!("x"), Some(json!(12))), Sign::V2)
            .await,
        400,
        "invalid_field",
    )
    .await;

    // --- batches -------------------------------------------------------------------
    let items = |n: usize| json!({"source": "media_bot", "items": vec![json!({"telegram_id": FRESH, "amount": 1, "reason": "b"}); n]});
    t.expect(
        "10,000 items in a batch",
        w.post(paths::BATCH, &items(10_000), Sign::V2).await,
        400,
        "batch_too_large",
    )
    .await;
    t.expect(
        "1,001 items in a batch",
        w.post(paths::BATCH, &items(limits::MAX_BATCH_ITEMS + 1), Sign::V2)
            .await,
        400,
        "batch_too_large",
    )
    .await;
    t.expect(
        "empty batch",
        w.post(paths::BATCH, &items(0), Sign::V2).await,
        400,
        "batch_too_large",
    )
    .await;
    t.expect(
        "batch items not an array",
        w.post(
            paths::BATCH,
            &json!({"source": "media_bot", "items": {"0": 1}}),
            Sign::V2,
        )
        .await,
        400,
        "invalid_field",
    )
    .await;
    t.expect("batch item of the wrong type",
        w.post(paths::BATCH, &json!({"source": "media_bot", "items": [{"telegram_id": FRESH, "amount": "1", "reason": "b"}]}), Sign::V2).await,
        400, "invalid_field").await;
    let r = w.post(paths::BATCH, &json!({"source": "media_bot", "atomic": true, "items": [
        {"telegram_id": FRESH, "amount": 5, "reason": "ok", "external_reference": "hb-1"},
        {"telegram_id": FUNDED, "amount": -5_000, "reason": "too much", "external_reference": "hb-2"}]}), Sign::V2).await;
    if r.body["data"]["results"][0]["code"] != "batch_aborted" {
        t.failures.push(format!(
            "atomic batch: the good item is not batch_aborted: {}",
            r.text
        ));
    }
    t.expect(
        "atomic batch with one failing item",
        r,
        200,
        "partial_failure",
    )
    .await;

    // --- permissions and routes ----------------------------------------------------
    let game_wire = Wire::new(&url, &game);
    t.expect(
        "register a user without admin",
        game_wire
            .post(
                paths::USERS,
                &json!({"telegram_id": FRESH, "nickname": "eve", "source": "game_bot"}),
                Sign::V2,
            )
            .await,
        403,
        "forbidden",
    )
    .await;
    t.expect(
        "nickname with control characters",
        w.post(
            paths::USERS,
            &json!({"telegram_id": FRESH, "nickname": "a\u{1b}[31m", "source": "media_bot"}),
            Sign::V2,
        )
        .await,
        400,
        "invalid_nickname",
    )
    .await;
    let r = w
        .send(
            "GET",
            paths::SYNC,
            &[(headers::API_KEY, &media.api_key)],
            Vec::new(),
        )
        .await
        .unwrap();
    t.expect("GET on a POST route", r, 405, "method_not_allowed")
        .await;
    let r = w
        .send("GET", "/api/credits/../../etc/passwd", &[], Vec::new())
        .await
        .unwrap();
    t.expect("path traversal", r, 404, "not_found").await;
    let r = w
        .send(
            "POST",
            "/api/credits/nope",
            &[
                (headers::API_KEY, &media.api_key),
                ("content-type", "application/json"),
            ],
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    t.expect("unknown route", r, 404, "not_found").await;

    t.finish();

    // SQL meta-characters in a reason are just text: stored verbatim, the tables intact.
    let reason = "Robert'); DROP TABLE users;-- \" \\ % _ ; /* */";
    let r = w
        .sync_v2(FUNDED + 1, 7, reason, Some("sql-meta-reason"))
        .await;
    assert_eq!(r.outcome(), (200, "ok"), "{}", r.text);
    let ledger = Ledger::read(&w, FUNDED + 1).await;
    assert_eq!(ledger.records[0].reason, reason);
    assert_eq!(
        w.balance(FUNDED).await,
        Some(1_000),
        "the users table is intact"
    );
}

/// Integers past i64 in a balance: the change is refused with `balance_overflow`.
#[tokio::test]
async fn balance_overflow_is_refused() {
    let server = Server::start(setup::config().max_amount(i64::MAX));
    let w = Wire::new(&server.base_url(), &setup::media_bot());
    let r = w.sync_v2(7, i64::MAX - 5, "near the top", None).await;
    assert_eq!(r.outcome(), (200, "ok"), "{}", r.text);
    for amount in [6, 1_000, i64::MAX] {
        let r = w.sync_v2(7, amount, "over the top", None).await;
        assert_eq!(
            r.outcome(),
            (422, "balance_overflow"),
            "amount {amount}: {}",
            r.text
        );
    }
    let r = w.post(paths::BATCH, &json!({"source": "media_bot", "items": [{"telegram_id": 7, "amount": 6, "reason": "b"}]}), Sign::V2).await;
    assert_eq!(
        r.body["data"]["results"][0]["code"], "balance_overflow",
        "{}",
        r.text
    );
    let ledger = Ledger::read(&w, 7).await;
    ledger.assert_consistent();
    assert_eq!(ledger.balance, Some(i64::MAX - 5));
    assert_eq!(ledger.records.len(), 1);
}

/// A v1 request replayed byte for byte after the window closes is refused. (Inside the
/// window its token is spent: `replay.rs`.)
#[tokio::test]
async fn v1_replay_after_the_window_is_refused() {
    let server = Server::start(setup::config().timestamp_tolerance_secs(2));
    let w = Wire::new(&server.base_url(), &setup::media_bot());
    let ts = now();
    let request = w.v1_body(8, 25, "replayed", None, ts);
    let first = w.post(paths::SYNC, &request, Sign::V1).await;
    assert_eq!(first.outcome(), (200, "ok"), "{}", first.text);
    let started = Instant::now();
    while now() <= ts + 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(started.elapsed() < Duration::from_secs(6));
    }
    let replay = w.post(paths::SYNC, &request, Sign::V1).await;
    assert_eq!(
        replay.outcome(),
        (401, "timestamp_out_of_window"),
        "{}",
        replay.text
    );
    assert_eq!(w.balance(8).await, Some(25));
    assert_eq!(w.records(8).await.len(), 1);
}

/// Permissions: a write-only source cannot read, a read-only source cannot write, and a
/// source without auto-register cannot create users by crediting them.
#[tokio::test]
async fn permissions_are_enforced() {
    let writer =
        Source::new("writer_bot", "writer-key-1", "writer-secret-1").permissions(&["write"]);
    let reader =
        Source::new("reader_bot", "reader-key-1", "reader-secret-1").permissions(&["read"]);
    let closed = Source::new("closed_bot", "closed-key-1", "closed-secret-1").auto_register(false);
    let server = Server::start(setup::config_with(vec![
        setup::media_bot(),
        writer.clone(),
        reader.clone(),
        closed.clone(),
    ]));
    let url = server.base_url();
    let admin = Wire::new(&url, &setup::media_bot());
    let (w, r, c) = (
        Wire::new(&url, &writer),
        Wire::new(&url, &reader),
        Wire::new(&url, &closed),
    );
    assert_eq!(
        admin.sync_v2(6_000, 50, "fund", None).await.outcome(),
        (200, "ok")
    );

    let reply = w.get(&paths::balance(6_000)).await;
    assert_eq!(reply.outcome(), (403, "forbidden"), "{}", reply.text);
    let reply = w.get(&paths::records(6_000, None, None)).await;
    assert_eq!(reply.outcome(), (403, "forbidden"), "{}", reply.text);
    assert_eq!(
        w.sync_v2(6_000, 1, "write ok", None).await.outcome(),
        (200, "ok")
    );

    let reply = r.sync_v2(6_000, 1_000, "no write", None).await;
    assert_eq!(reply.outcome(), (403, "forbidden"), "{}", reply.text);
    let reply = r.sync(6_000, -10, "no write", None).await;
    assert_eq!(reply.outcome(), (403, "forbidden"), "{}", reply.text);
    let reply = r
        .post(paths::BATCH, &json!({"source": "reader_bot", "items": [{"telegram_id": 6_000, "amount": 1, "reason": "b"}]}), Sign::V2)
        .await;
    assert_eq!(reply.outcome(), (403, "forbidden"), "{}", reply.text);
    assert_eq!(r.balance(6_000).await, Some(51));

    let reply = c.sync_v2(6_001, 10, "new user", None).await;
    assert_eq!(reply.outcome(), (404, "user_not_found"), "{}", reply.text);
    assert_eq!(admin.balance(6_001).await, None);
    assert_eq!(
        c.sync_v2(6_000, 10, "known user", None).await.outcome(),
        (200, "ok")
    );
    let ledger = Ledger::read(&admin, 6_000).await;
    ledger.assert_consistent();
    assert_eq!(ledger.balance, Some(61));
}
