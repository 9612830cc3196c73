//! The event feed through the SDK against the real server: paging, a long poll that
//! wakes on a commit (and outlasts the client's `timeout`), resuming from a stored cursor
//! sees every event once, and `verify_webhook` on what the core signs.

mod support;

use credit_sync::protocol::EventType;
use credit_sync::{verify_webhook, Error};
use futures::StreamExt;
use std::time::{Duration, Instant};
use support::{user, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_long_polls_and_resumes_exactly_once() {
    let server = Server::start();
    let client = server.client();
    let start = client.get_events(None, Some(500), None).await.unwrap();
    let u = user();
    for i in 0..5 {
        client
            .add_credits(u, 10, "video", Some(&format!("ev{i}")))
            .await
            .unwrap();
    }
    // Paging: two at a time from the start cursor.
    let mut after = start.next_cursor.clone();
    let mut seen = Vec::new();
    loop {
        let page = client
            .get_events(Some(&after), Some(2), None)
            .await
            .unwrap();
        assert!(page.events.len() <= 2);
        if page.events.is_empty() {
            assert_eq!(page.next_cursor, after, "an empty page keeps the cursor");
            break;
        }
        seen.extend(page.events.iter().map(|e| e.seq));
        after = page.next_cursor;
    }
    assert!(seen.windows(2).all(|w| w[0] < w[1]));
    assert!(seen.len() >= 5);

    // A long poll longer than the client's whole-call timeout wakes on the next commit.
    let short = credit_sync::Client::new(
        server
            .config()
            .timeout(Duration::from_secs(2))
            .attempt_timeout(Duration::from_secs(1))
            .build()
            .unwrap(),
    )
    .unwrap();
    let waiting = {
        let after = after.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let page = short.get_events(Some(&after), None, Some(10)).await;
            (page, t.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(3000)).await;
    client
        .add_credits(u, 1, "wake", Some("wake"))
        .await
        .unwrap();
    let (page, took) = waiting.await.unwrap();
    let page = page.unwrap();
    assert!(!page.events.is_empty(), "the long poll returned empty");
    assert!(
        took >= Duration::from_millis(2500) && took < Duration::from_secs(9),
        "{took:?}"
    );

    // The stream from a stored cursor: take three, store the third's cursor, resume.
    let mut stream = Box::pin(client.events(Some(&start.next_cursor)));
    let mut first = Vec::new();
    for _ in 0..3 {
        first.push(stream.next().await.unwrap().unwrap());
    }
    drop(stream);
    let stored = first[2].cursor();
    let total = seen.len() + page.events.len();
    let mut resumed = Vec::new();
    let mut stream = Box::pin(client.events(Some(&stored)));
    while resumed.len() + 3 < total {
        let e = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("stream stalled")
            .unwrap()
            .unwrap();
        resumed.push(e);
    }
    let mut all: Vec<i64> = first.iter().chain(&resumed).map(|e| e.seq).collect();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), n, "an event was seen twice");
    let added = first.iter().chain(&resumed);
    assert_eq!(
        added.filter(|e| e.kind == EventType::CreditsAdded).count(),
        6
    );

    // Blocking: the same page and an iterator, off the runtime.
    let blocking = server.blocking_client();
    let cursor = start.next_cursor.clone();
    let (page, firsts) = std::thread::spawn(move || {
        let page = blocking
            .get_events(Some(&cursor), Some(2), Some(0))
            .unwrap();
        let firsts: Vec<i64> = blocking
            .events(Some(&cursor))
            .take(2)
            .map(|e| e.unwrap().seq)
            .collect();
        (page, firsts)
    })
    .join()
    .unwrap();
    assert_eq!(
        page.events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        firsts
    );

    // Bad arguments are refused before sending.
    for (after, limit, wait) in [
        (Some("r1"), None, None),
        (None, Some(0), None),
        (None, Some(501), None),
        (None, None, Some(31)),
    ] {
        let e = client.get_events(after, limit, wait).await.unwrap_err();
        assert_eq!(e.code().as_str(), "invalid_argument", "{e}");
    }
}

#[test]
fn cursor_expired_is_its_own_error() {
    let env: credit_sync::protocol::Envelope<serde_json::Value> = serde_json::from_str(
        r#"{"success":false,"code":"cursor_expired","message":"gone","field":"after"}"#,
    )
    .unwrap();
    let e = Error::from_envelope(410, &env, None);
    assert!(matches!(e, Error::CursorExpired { .. }), "{e:?}");
    assert_eq!(e.code().as_str(), "cursor_expired");
    assert_eq!(e.kind().as_str(), "cursor_expired");
}

#[test]
fn verify_webhook_accepts_core_signatures_and_refuses_tampering() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let body = br#"{"id":"evt_9","seq":9,"type":"credits.added","created_at":"2026-01-01T00:00:00Z","source":"other_bot","telegram_id":7,"data":{}}"#;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let key = credit_sync::webhook::Secret::parse(secret).unwrap();
    let sig = credit_sync::webhook::sign(&[key], "evt_9", now, body);
    let headers = [
        ("Webhook-Id", "evt_9".to_string()),
        ("Webhook-Timestamp", now.to_string()),
        ("Webhook-Signature", sig),
    ];
    let event = verify_webhook(&headers, body, &[secret]).unwrap();
    assert_eq!(
        (event.kind, event.cursor()),
        (EventType::CreditsAdded, "9".into())
    );
    let code = |r: credit_sync::Result<_>| r.unwrap_err().code().as_str();
    assert_eq!(
        code(verify_webhook(&headers, b"{}", &[secret])),
        "webhook_signature_invalid"
    );
}
