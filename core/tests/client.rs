//! The async client against the real server: every method, every error variant,
//! retries through a fault-injection proxy, clock-skew recovery.

mod support;

use credit_sync::protocol::{validate_reference, Code};
use credit_sync::{BatchEntry, Client, Error};
use futures_util::TryStreamExt;
use std::time::{Duration, Instant};
use support::{error_body, user, Fault, Server};

fn client_at(server: &Server, base_url: &str, max_retries: u32) -> Client {
    Client::new(server.retrying_config(base_url, max_retries)).unwrap()
}

/// How many ledger records a user has.
async fn record_count(client: &Client, telegram_id: i64) -> usize {
    client
        .records_stream(telegram_id, 200)
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn add_credits_with_a_reference_is_idempotent() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    let r = client
        .add_credits(u, 100, "观看视频奖励", Some("video_12345"))
        .await
        .unwrap();
    assert!(r.success);
    assert_eq!(r.code, Code::Ok);
    assert_eq!((r.telegram_id, r.change, r.balance), (u, 100, Some(100)));
    assert!(r.record_id.is_some());
    assert!(!r.duplicate);
    assert_eq!(r.reference.as_deref(), Some("video_12345"));
    assert!(r.error.is_none());

    let again = client
        .add_credits(u, 100, "观看视频奖励", Some("video_12345"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.record_id, r.record_id);
    assert_eq!(again.balance, Some(100));
    assert_eq!(record_count(&client, u).await, 1);
}

#[tokio::test]
async fn a_call_without_reference_gets_an_auto_reference() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    let a = client.add_credits(u, 5, "a", None).await.unwrap();
    let b = client.add_credits(u, 5, "a", None).await.unwrap();
    let (ra, rb) = (a.reference.unwrap(), b.reference.unwrap());
    assert!(ra.starts_with("auto-") && rb.starts_with("auto-"));
    assert_ne!(ra, rb, "one reference per logical call");
    assert!(validate_reference(&ra).is_ok());
    assert_eq!(b.balance, Some(10));
    let page = client.get_records(u, None, None).await.unwrap();
    assert_eq!(
        page.records[0].external_reference.as_deref(),
        Some(rb.as_str())
    );
}

#[tokio::test]
async fn deduct_and_sync() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    client.add_credits(u, 100, "earn", None).await.unwrap();
    let r = client
        .deduct_credits(u, 30, "spend", Some("order_1"))
        .await
        .unwrap();
    assert_eq!((r.change, r.balance), (-30, Some(70)));
    let r = client.sync(u, -20, "signed spend", None).await.unwrap();
    assert_eq!((r.change, r.balance), (-20, Some(50)));
    let r = client.sync(u, 5, "signed earn", None).await.unwrap();
    assert_eq!(r.balance, Some(55));
    // A replayed deduct still succeeds after the balance moved.
    let r = client
        .deduct_credits(u, 30, "spend", Some("order_1"))
        .await
        .unwrap();
    assert!(r.duplicate);
}

#[tokio::test]
async fn insufficient_credits_writes_nothing_and_carries_the_balance() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    client.add_credits(u, 10, "earn", None).await.unwrap();
    let err = client
        .deduct_credits(u, 500, "VIP", Some("order_vip"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InsufficientCredits);
    match &err.error {
        Error::InsufficientCredits { balance, .. } => assert_eq!(*balance, Some(10)),
        other => panic!("{other:?}"),
    }
    assert_eq!(err.reference.as_deref(), Some("order_vip"));
    assert_eq!((err.attempts, err.retryable), (1, false));
    assert!(
        err.request_id.is_some(),
        "the server's X-Request-Id is kept"
    );
    let failed = credit_sync::SyncResult::failed(err);
    assert!(!failed.success && failed.balance == Some(10));
    assert_eq!((failed.telegram_id, failed.change), (u, -500));
    assert_eq!(failed.reference.as_deref(), Some("order_vip"));
    assert_eq!(record_count(&client, u).await, 1);
}

#[tokio::test]
async fn reference_conflict_names_the_fields() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    client
        .add_credits(u, 10, "earn", Some("conflict_1"))
        .await
        .unwrap();
    let err = client
        .add_credits(u, 11, "earn", Some("conflict_1"))
        .await
        .unwrap_err();
    match err.error {
        Error::ReferenceConflict { fields, .. } => {
            assert!(fields.iter().any(|f| f == "amount"), "{fields:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn user_not_found() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    assert_eq!(client.get_balance(u).await.unwrap(), None);
    let err = client
        .deduct_credits(u, 1, "spend", None)
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::UserNotFound { .. }), "{err:?}");
    // A source without auto-registration cannot credit an unknown user either.
    let plain = Client::new(server.plain_config().build().unwrap()).unwrap();
    let err = plain.add_credits(u, 1, "earn", None).await.unwrap_err();
    assert_eq!(err.code(), Code::UserNotFound);
}

#[tokio::test]
async fn batch_reports_each_item() {
    let server = Server::start();
    let client = server.client();
    let (a, b, c) = (user(), user(), user());
    let items = vec![
        BatchEntry::new(a, 1000, "活动第1名").reference("camp_1_1"),
        BatchEntry::new(b, 500, "活动第2名"),
        BatchEntry::new(c, -5, "not enough"),
    ];
    let r = client.batch_sync(items.clone(), false).await.unwrap();
    assert!(!r.success);
    assert_eq!(r.code, Code::PartialFailure);
    assert_eq!((r.succeeded, r.failed), (2, 1));
    assert_eq!(r.results.len(), 3);
    assert_eq!(r.results[0].balance, Some(1000));
    assert_eq!(r.results[0].reference.as_deref(), Some("camp_1_1"));
    assert!(r.results[1]
        .reference
        .as_deref()
        .unwrap()
        .starts_with("auto-"));
    let failed = &r.results[2];
    assert!(!failed.success);
    assert!(failed.error.is_some());
    assert_ne!(failed.code, Code::Ok);

    // The same batch again: the referenced item replays, the auto-referenced one is a
    // new logical call.
    let again = client.batch_sync(items, false).await.unwrap();
    assert!(again.results[0].duplicate);
    assert!(!again.results[1].duplicate);
    assert_eq!(client.get_balance(a).await.unwrap().unwrap().credits, 1000);
    assert_eq!(client.get_balance(b).await.unwrap().unwrap().credits, 1000);
}

#[tokio::test]
async fn an_atomic_batch_applies_all_or_nothing() {
    let server = Server::start();
    let client = server.client();
    let (a, b) = (user(), user());
    client.add_credits(b, 1, "seed", None).await.unwrap();
    let items = vec![
        BatchEntry::new(a, 100, "ok"),
        BatchEntry::new(b, -50, "too much"),
    ];
    let r = client.batch_sync(items, true).await;
    match r {
        Ok(r) => {
            assert!(!r.success);
            assert_eq!(r.succeeded, 0);
            assert!(r.results.iter().all(|i| !i.success));
            assert!(r.results.iter().any(|i| i.code == Code::BatchAborted));
        }
        Err(e) => assert_ne!(e.code(), Code::Ok),
    }
    assert_eq!(client.get_balance(a).await.unwrap(), None);
    assert_eq!(client.get_balance(b).await.unwrap().unwrap().credits, 1);

    let ok = client
        .batch_sync(
            vec![BatchEntry::new(a, 7, "x"), BatchEntry::new(b, 3, "y")],
            true,
        )
        .await
        .unwrap();
    assert!(ok.success && ok.succeeded == 2);
}

#[tokio::test]
async fn records_page_and_stream() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    for i in 1..=7 {
        client
            .add_credits(u, i, &format!("r{i}"), None)
            .await
            .unwrap();
    }
    let first = client.get_records(u, Some(3), None).await.unwrap();
    assert_eq!(first.records.len(), 3);
    assert_eq!(first.records[0].change, 7, "newest first");
    assert_eq!(first.records[0].balance_after, 28);
    assert_eq!(first.records[0].source, support::SOURCE);
    let cursor = first.next_cursor.clone().expect("more pages");
    let second = client.get_records(u, Some(3), Some(&cursor)).await.unwrap();
    assert_eq!(second.records[0].change, 4);

    let all: Vec<_> = client.records_stream(u, 2).try_collect().await.unwrap();
    let changes: Vec<i64> = all.iter().map(|r| r.change).collect();
    assert_eq!(changes, [7, 6, 5, 4, 3, 2, 1]);
    // An unknown user has no records (or is reported as unknown).
    match client
        .records_stream(user(), 2)
        .try_collect::<Vec<_>>()
        .await
    {
        Ok(records) => assert!(records.is_empty()),
        Err(e) => assert_eq!(e.code(), Code::UserNotFound),
    }
}

#[tokio::test]
async fn register_user_and_forbidden() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    let d = client.register_user(u, Some("alice")).await.unwrap();
    assert!(d.created);
    assert_eq!((d.telegram_id, d.credits), (u, 0));
    assert_eq!(d.nickname.as_deref(), Some("alice"));
    let d = client.register_user(u, Some("alice2")).await.unwrap();
    assert!(!d.created);
    let b = client.get_balance(u).await.unwrap().unwrap();
    assert_eq!(b.nickname.as_deref(), Some("alice2"));

    let plain = Client::new(server.plain_config().build().unwrap()).unwrap();
    let err = plain.register_user(user(), None).await.unwrap_err();
    assert_eq!(err.code(), Code::Forbidden);
    assert!(matches!(err, Error::Authentication { .. }));
}

#[tokio::test]
async fn authentication_errors_are_not_retried() {
    let server = Server::start();
    let proxy = server.proxy([]);
    let base = server.config_at(&proxy.url());
    let wrong_key = Client::new(base.clone().api_key("nope").build().unwrap()).unwrap();
    let err = wrong_key.get_balance(user()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthorized);
    assert!(matches!(err, Error::Authentication { .. }));
    assert_eq!(proxy.exchange_count(), 1);

    let wrong_secret = Client::new(base.clone().secret_key("nope").build().unwrap()).unwrap();
    let err = wrong_secret
        .add_credits(user(), 1, "x", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidSignature);
    let err = wrong_secret.get_balance(user()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidSignature);
    assert_eq!(proxy.exchange_count(), 3);

    let wrong_source = Client::new(base.source("other_bot").build().unwrap()).unwrap();
    let err = wrong_source
        .add_credits(user(), 1, "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err.error, Error::Authentication { .. }), "{err:?}");
    assert_eq!(proxy.exchange_count(), 4);
}

#[tokio::test]
async fn arguments_are_checked_before_sending() {
    let server = Server::start();
    let proxy = server.proxy([]);
    let client = client_at(&server, &proxy.url(), 3);
    let u = user();
    fn field(e: impl Into<Error>) -> (Code, Option<String>) {
        match e.into() {
            Error::Validation { code, field, .. } => (code, field),
            other => panic!("{other:?}"),
        }
    }
    let f = field(client.add_credits(u, 0, "x", None).await.unwrap_err());
    assert_eq!(f, (Code::InvalidAmount, Some("amount".into())));
    let f = field(client.add_credits(u, -1, "x", None).await.unwrap_err());
    assert_eq!(f, (Code::InvalidArgument, Some("amount".into())));
    let f = field(client.deduct_credits(u, -1, "x", None).await.unwrap_err());
    assert_eq!(f, (Code::InvalidArgument, Some("amount".into())));
    let f = field(client.add_credits(0, 1, "x", None).await.unwrap_err());
    assert_eq!(f, (Code::InvalidTelegramId, Some("telegram_id".into())));
    let f = field(
        client
            .add_credits(u, 1, &"x".repeat(257), None)
            .await
            .unwrap_err(),
    );
    assert_eq!(f, (Code::InvalidReason, Some("reason".into())));
    let f = field(
        client
            .add_credits(u, 1, "x", Some("a b"))
            .await
            .unwrap_err(),
    );
    assert_eq!(
        f,
        (Code::InvalidReference, Some("external_reference".into()))
    );
    let f = field(client.batch_sync(vec![], false).await.unwrap_err());
    assert_eq!(f, (Code::BatchTooLarge, Some("items".into())));
    let items = vec![BatchEntry::new(u, 1, "ok"), BatchEntry::new(u, 0, "bad")];
    let f = field(client.batch_sync(items, false).await.unwrap_err());
    assert_eq!(f, (Code::InvalidAmount, Some("items[1].amount".into())));
    let f = field(client.get_records(u, Some(0), None).await.unwrap_err());
    assert_eq!(f, (Code::InvalidArgument, Some("limit".into())));
    let f = field(client.get_records(u, Some(201), None).await.unwrap_err());
    assert_eq!(f.1, Some("limit".into()));
    let f = field(
        client
            .get_records(u, None, Some("a&b=c"))
            .await
            .unwrap_err(),
    );
    assert_eq!(f.1, Some("cursor".into()));
    let f = field(client.register_user(u, Some("a\nb")).await.unwrap_err());
    assert_eq!(f, (Code::InvalidNickname, Some("nickname".into())));
    let f = field(client.get_balance(-5).await.unwrap_err());
    assert_eq!(f.0, Code::InvalidTelegramId);
    assert_eq!(
        proxy.exchange_count(),
        0,
        "nothing invalid reached the network"
    );

    // The server's own limits come back as validation errors too.
    let f = field(
        client
            .add_credits(u, support::MAX_AMOUNT + 1, "x", None)
            .await
            .unwrap_err(),
    );
    assert_eq!(f.0, Code::AmountTooLarge);
    assert_eq!(
        proxy.exchange_count(),
        1,
        "validation errors are not retried"
    );
}

#[tokio::test]
async fn config_errors() {
    assert_eq!(
        credit_sync::Config::builder().build().unwrap_err().code(),
        Code::InvalidArgument
    );
    let err = credit_sync::Config::builder()
        .base_url("ftp://x")
        .api_key("k")
        .secret_key("s")
        .source("s")
        .build()
        .unwrap_err();
    assert!(err.message().contains("http"));
}

#[tokio::test]
async fn a_dropped_response_is_retried_and_applied_once() {
    let server = Server::start();
    let proxy = server.proxy([Fault::CloseBeforeResponse]);
    let client = client_at(&server, &proxy.url(), 3);
    let u = user();
    // No reference given: the SDK's auto reference must survive the retry.
    let r = client.add_credits(u, 100, "earn", None).await.unwrap();
    assert!(r.duplicate, "the retry was a replay of the applied change");
    assert_eq!(r.balance, Some(100));
    assert_eq!(proxy.exchange_count(), 2);
    assert_eq!(record_count(&server.client(), u).await, 1);
    assert_eq!(
        server
            .client()
            .get_balance(u)
            .await
            .unwrap()
            .unwrap()
            .credits,
        100
    );
}

#[tokio::test]
async fn a_reset_connection_is_retried_and_applied_once() {
    let server = Server::start();
    let proxy = server.proxy([]);
    let client = client_at(&server, &proxy.url(), 3);
    let u = user();
    client.add_credits(u, 50, "seed", None).await.unwrap();
    // Reset twice in a row: the third attempt gets through and replays.
    proxy.push_script([Fault::DropResponse, Fault::DropResponse]);
    let r = client.deduct_credits(u, 20, "spend", None).await.unwrap();
    assert!(r.duplicate);
    assert_eq!(r.balance, Some(30));
    assert_eq!(proxy.exchange_count(), 4);
    assert_eq!(record_count(&server.client(), u).await, 2);
}

#[tokio::test]
async fn a_batch_survives_a_dropped_response() {
    let server = Server::start();
    let proxy = server.proxy([Fault::CloseBeforeResponse]);
    let client = client_at(&server, &proxy.url(), 3);
    let (a, b) = (user(), user());
    let r = client
        .batch_sync(
            vec![BatchEntry::new(a, 10, "x"), BatchEntry::new(b, 20, "y")],
            false,
        )
        .await
        .unwrap();
    assert!(r.success);
    assert!(r.results.iter().all(|i| i.duplicate));
    let direct = server.client();
    assert_eq!(record_count(&direct, a).await, 1);
    assert_eq!(record_count(&direct, b).await, 1);
}

#[tokio::test]
async fn bad_gateway_and_unavailable_are_retried() {
    let server = Server::start();
    let proxy = server.proxy([
        Fault::respond(502, "<html>bad gateway</html>"),
        Fault::respond(503, error_body("service_unavailable", "")),
        Fault::respond(500, error_body("internal_error", "")),
    ]);
    let client = client_at(&server, &proxy.url(), 3);
    let u = user();
    let r = client.add_credits(u, 5, "x", None).await.unwrap();
    assert!(
        !r.duplicate,
        "the injected failures never reached the server"
    );
    assert_eq!(proxy.exchange_count(), 4);
    assert_eq!(record_count(&server.client(), u).await, 1);
}

#[tokio::test]
async fn server_errors_surface_after_the_retries() {
    let server = Server::start();
    let unavailable = || Fault::respond(503, error_body("service_unavailable", ""));
    let proxy = server.proxy(std::iter::repeat_n(unavailable(), 10));
    let client = client_at(&server, &proxy.url(), 2);
    let err = client.get_balance(user()).await.unwrap_err();
    match err {
        Error::Server { code, status, .. } => {
            assert_eq!((code, status), (Code::ServiceUnavailable, 503))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(proxy.exchange_count(), 3, "first attempt + 2 retries");

    // A 200 that is not this protocol is not retried.
    proxy.push_script([Fault::respond(200, "hello")]);
    let proxy2 = server.proxy([Fault::respond(200, "hello")]);
    let client = client_at(&server, &proxy2.url(), 3);
    let err = client.get_balance(user()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidResponse);
    assert_eq!(proxy2.exchange_count(), 1);
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let server = Server::start();
    let limited =
        Fault::respond(429, error_body("rate_limited", "")).with_header("retry-after", "1");
    let proxy = server.proxy([limited]);
    let client = client_at(&server, &proxy.url(), 3);
    let start = Instant::now();
    client.add_credits(user(), 1, "x", None).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(proxy.exchange_count(), 2);
}

#[tokio::test]
async fn rate_limited_by_the_server() {
    let server = Server::start();
    let client = Client::new(server.limited_config().max_retries(0).build().unwrap()).unwrap();
    let u = user();
    let mut limited = None;
    for _ in 0..20 {
        match client.add_credits(u, 1, "x", None).await {
            Ok(_) => continue,
            Err(e) => {
                limited = Some(e);
                break;
            }
        }
    }
    match limited
        .expect("the server limits to 1 request per second")
        .error
    {
        Error::RateLimited { retry_after, .. } => {
            assert!(retry_after.is_some(), "the server says when to come back")
        }
        other => panic!("{other:?}"),
    }
    // With retries (honouring Retry-After) the call gets through.
    let patient = Client::new(server.limited_config().build().unwrap()).unwrap();
    patient.add_credits(u, 1, "x", None).await.unwrap();
}

#[tokio::test]
async fn timeouts_are_retried_then_reported() {
    let server = Server::start();
    let proxy = server.proxy([Fault::Hang, Fault::Hang]);
    let client = Client::new(
        server
            .config_at(&proxy.url())
            .timeout(Duration::from_secs(10))
            .attempt_timeout(Duration::from_millis(300))
            .max_retries(1)
            .build()
            .unwrap(),
    )
    .unwrap();
    let err = client.get_balance(user()).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert_eq!(err.code(), Code::Timeout);
    assert_eq!(proxy.exchange_count(), 2);

    // One hang, then an answer: the write is applied once.
    proxy.push_script([Fault::Hang]);
    let fast = Client::new(
        server
            .config_at(&proxy.url())
            .attempt_timeout(Duration::from_millis(500))
            .max_retries(2)
            .build()
            .unwrap(),
    )
    .unwrap();
    let u = user();
    fast.add_credits(u, 3, "x", None).await.unwrap();
    assert_eq!(record_count(&server.client(), u).await, 1);
}

#[tokio::test]
async fn connection_errors_are_retried_then_reported() {
    let server = Server::start();
    let url = format!("http://127.0.0.1:{}", support::closed_port());
    let client = client_at(&server, &url, 2);
    let start = Instant::now();
    let err = client.get_balance(user()).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert_eq!(err.code(), Code::ConnectionError);
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn clock_skew_is_learnt_from_the_server() {
    let server = Server::start();
    let proxy = server.proxy([]);
    let client = client_at(&server, &proxy.url(), 0);
    client.set_clock_offset(-3600);
    let u = user();
    let r = client.add_credits(u, 1, "x", None).await.unwrap();
    assert_eq!(r.balance, Some(1));
    assert_eq!(
        proxy.exchange_count(),
        2,
        "one rejected attempt, one corrected"
    );
    assert!(
        client.clock_offset().abs() <= 2,
        "{}",
        client.clock_offset()
    );
    // Later calls (and clones) keep the offset: no more rejections.
    client.clone().get_balance(u).await.unwrap();
    assert_eq!(proxy.exchange_count(), 3);

    // A skew in the other direction, on a read.
    client.set_clock_offset(7200);
    client.get_records(u, None, None).await.unwrap();
    assert_eq!(proxy.exchange_count(), 5);
}

#[tokio::test]
async fn a_clock_that_stays_wrong_is_a_timestamp_error() {
    let server = Server::start();
    let skewed = || {
        Fault::respond(
            401,
            error_body("timestamp_out_of_window", r#","server_time":1"#),
        )
    };
    let proxy = server.proxy([skewed(), skewed(), skewed()]);
    let client = client_at(&server, &proxy.url(), 3);
    let err = client.get_balance(user()).await.unwrap_err();
    match err {
        Error::Timestamp { server_time, .. } => assert_eq!(server_time, Some(1)),
        other => panic!("{other:?}"),
    }
    assert_eq!(proxy.exchange_count(), 2, "exactly one corrected retry");
}

#[tokio::test]
async fn concurrent_calls_with_one_reference_apply_once() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    let calls = (0..16).map(|_| {
        let c = client.clone();
        tokio::spawn(async move { c.add_credits(u, 10, "once", Some("only_once")).await })
    });
    let results = futures_util::future::join_all(calls).await;
    let ok: Vec<_> = results.into_iter().map(|r| r.unwrap().unwrap()).collect();
    assert_eq!(ok.iter().filter(|r| !r.duplicate).count(), 1);
    assert_eq!(client.get_balance(u).await.unwrap().unwrap().credits, 10);
}

#[test]
fn one_client_on_several_runtimes() {
    let server = Server::start();
    let client = server.client();
    let u = user();
    for flavor in 0..3 {
        let rt = if flavor % 2 == 0 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        } else {
            tokio::runtime::Runtime::new().unwrap()
        };
        rt.block_on(client.add_credits(u, 1, "x", None)).unwrap();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(
        rt.block_on(client.get_balance(u)).unwrap().unwrap().credits,
        3
    );
}

#[tokio::test]
async fn debug_never_shows_secrets() {
    let server = Server::start();
    let client = server.client();
    for text in [
        format!("{client:?}"),
        format!("{:?}", client.config()),
        format!("{:?}", server.config()),
        format!("{:?}", server.blocking_client()),
    ] {
        assert!(!text.contains(support::API_KEY), "{text}");
        assert!(!text.contains(support::SECRET), "{text}");
    }
    assert!(format!("{client:?}").contains("media_bot"));
}

/// The `X-Signature` timestamp and the JSON body of a request the proxy saw.
fn signed_parts(request: &str) -> (i64, Option<serde_json::Value>) {
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let sig = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("x-signature")
                .then(|| v.trim().to_string())
        })
        .expect("every request carries a v2 signature");
    let parsed = credit_sync::signature::parse_v2_header(&sig).unwrap();
    let body = (!body.is_empty()).then(|| serde_json::from_str(body).unwrap());
    (parsed.timestamp, body)
}

#[tokio::test]
async fn every_attempt_is_signed_afresh_with_the_same_reference() {
    let server = Server::start();
    let limited =
        Fault::respond(429, error_body("rate_limited", "")).with_header("retry-after", "1");
    let proxy = server.proxy([limited]);
    let client = client_at(&server, &proxy.url(), 3);
    let u = user();
    client.add_credits(u, 9, "x", None).await.unwrap();
    let seen = proxy.requests();
    assert_eq!(seen.len(), 2);
    let (t1, b1) = signed_parts(&seen[0]);
    let (t2, b2) = signed_parts(&seen[1]);
    let (b1, b2) = (b1.unwrap(), b2.unwrap());
    assert!(t2 > t1, "a fresh timestamp per attempt ({t1}, {t2})");
    // Both schemes on writes: the v1 token and its timestamp in the body.
    assert_eq!(b1["timestamp"], t1);
    assert_eq!(b2["timestamp"], t2);
    let v1 = |t: i64| credit_sync::signature::v1_token(support::SECRET, u, 9, support::SOURCE, t);
    assert_eq!(b1["token"], v1(t1));
    assert_eq!(b2["token"], v1(t2));
    assert_eq!(b1["external_reference"], b2["external_reference"]);
    assert!(b1["external_reference"]
        .as_str()
        .unwrap()
        .starts_with("auto-"));

    // Reads carry only the v2 signature.
    client.get_balance(u).await.unwrap();
    let seen = proxy.requests();
    assert!(seen[2].starts_with("GET /api/credits/balance/"));
    assert_eq!(signed_parts(&seen[2]).1, None);
}

/// Issue 11 item 4: a write whose every answer is lost fails with the reference it
/// carried (here the SDK's own `auto-<uuid v7>`), its attempts and `retryable`; calling
/// again with that reference applies the change exactly once.
#[tokio::test]
async fn a_lost_answer_reports_its_reference_and_the_retry_applies_once() {
    let server = Server::start();
    let proxy = server.proxy([]);
    proxy.set_fault(Fault::DropResponse);
    let lossy = client_at(&server, &proxy.url(), 2);
    let direct = server.client();
    let u = user();
    direct.add_credits(u, 100, "seed", None).await.unwrap();

    let err = lossy
        .add_credits(u, 7, "reward", None)
        .await
        .expect_err("every answer is dropped");
    assert!(err.error.outcome_unknown(), "{err:?}");
    assert_eq!(err.code(), Code::ConnectionError);
    assert_eq!((err.attempts, err.retryable), (3, true));
    let reference = err
        .reference
        .clone()
        .expect("the failure names its reference");
    assert!(reference.starts_with("auto-"), "{reference}");
    assert_eq!((err.telegram_id, err.change), (Some(u), Some(7)));
    // The guide's style keeps the same facts.
    let failed = credit_sync::SyncResult::settle(Err(err)).unwrap();
    assert!(!failed.success);
    assert_eq!(failed.reference.as_deref(), Some(reference.as_str()));
    assert_eq!((failed.attempts, failed.retryable), (3, true));

    // The change was applied by the first attempt; the retries were replays.
    let again = direct
        .add_credits(u, 7, "reward", Some(&reference))
        .await
        .unwrap();
    assert!(
        again.duplicate,
        "the retry with the carried reference is a replay"
    );
    assert_eq!(again.balance, Some(107), "applied exactly once");
    assert_eq!(record_count(&direct, u).await, 2);

    // A deduct reports its signed change, and the same pattern holds.
    let err = lossy.deduct_credits(u, 5, "spend", None).await.unwrap_err();
    assert_eq!(err.change, Some(-5));
    let r = direct
        .deduct_credits(u, 5, "spend", err.reference.as_deref())
        .await
        .unwrap();
    assert_eq!((r.duplicate, r.balance), (true, Some(102)));
    assert_eq!(record_count(&direct, u).await, 3);
}
