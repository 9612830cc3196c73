//! Abuse limits: the per-key rate limit answers 429 with `Retry-After` and the SDK
//! waits that long; slow-loris connections and oversized headers are cut off; secret
//! comparison is constant-time; and no `Debug` output or server log shows a secret.

use credit_sync::protocol::{headers, paths};
use credit_sync::signature;
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::Wire;
use credit_sync_testkit::{Fault, Proxy, Server};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The longest the server may let a client take to send its request head or body
/// (the server cuts both at 10 s; the tests allow 2 s of slack on top).
const HEADER_TIMEOUT_BOUND: Duration = Duration::from_secs(10);

fn rate_limited_server(per_sec: u32) -> Server {
    Server::start(setup::config_with(vec![
        setup::media_bot().rate_limit_per_sec(per_sec),
        setup::game_bot(),
    ]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after_per_key() {
    let server = rate_limited_server(5);
    let media = Wire::new(&server.base_url(), &setup::media_bot());
    let game = Wire::new(&server.base_url(), &setup::game_bot());
    // The whole burst at once, so the bucket cannot refill in between however slow the box.
    let burst = (0..30).map(|i| {
        let media = media.clone();
        async move {
            media
                .sync_v2(9_000, 1, "burst", Some(&format!("burst-{i}")))
                .await
        }
    });
    let mut limited = 0;
    for r in futures_util::future::join_all(burst).await {
        match r.outcome() {
            (200, "ok") => {}
            (429, "rate_limited") => {
                limited += 1;
                let secs: u64 = r
                    .header(headers::RETRY_AFTER)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| {
                        panic!("429 without a Retry-After in seconds: {:?}", r.headers)
                    });
                assert!((1..=60).contains(&secs), "Retry-After {secs}");
            }
            other => panic!("burst: unexpected {other:?}: {}", r.text),
        }
    }
    // Another key is not limited by this one's burst.
    let others = (0..10).map(|i| {
        let game = game.clone();
        async move {
            game.sync_v2(9_001, 1, "other key", Some(&format!("other-{i}")))
                .await
        }
    });
    for g in futures_util::future::join_all(others).await {
        assert_eq!(g.outcome(), (200, "ok"), "{}", g.text);
    }
    assert!(
        limited >= 15,
        "only {limited} of 30 simultaneous requests were limited at 5/s"
    );
    let ledger = Ledger::read(&game, 9_000).await;
    assert_eq!(
        ledger.records.len(),
        30 - limited,
        "a limited request wrote something"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_honours_retry_after() {
    let server = rate_limited_server(4);
    let proxy = Proxy::start(server.addr());
    proxy.set_fault(Fault::Pass);
    let client = credit_sync::Client::new(
        setup::sdk_builder(&proxy.url(), &setup::media_bot())
            .max_retries(6)
            .build()
            .unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    for i in 0..10 {
        let r = client
            .add_credits(9_100, 2, "throttled", Some(&format!("thr-{i}")))
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e:?}"));
        assert!(!r.duplicate);
    }
    proxy.settle(Duration::from_secs(2));
    let mut log = proxy.exchanges();
    log.sort_by_key(|e| e.index);
    let limited: Vec<_> = log.iter().filter(|e| e.status == Some(429)).collect();
    assert!(!limited.is_empty(), "the burst was never limited");
    for pair in log.windows(2) {
        if pair[0].status == Some(429) {
            let asked: u64 = pair[0].retry_after.as_deref().unwrap().parse().unwrap();
            let waited = pair[1].at - pair[0].at;
            assert!(
                waited + Duration::from_millis(50) >= Duration::from_secs(asked),
                "the SDK retried {waited:?} after a 429 asking for {asked} s"
            );
        }
    }
    let wire = Wire::new(&server.base_url(), &setup::game_bot());
    assert_eq!(wire.balance(9_100).await, Some(20));
    eprintln!(
        "rate limit: 10 SDK calls, {} requests, {} answered 429, {:.1?}",
        log.len(),
        limited.len(),
        started.elapsed()
    );
}

/// Reads until the server closes the connection (or `limit` passes); returns how long that took.
fn time_until_closed(mut conn: TcpStream, trickle: &[u8], limit: Duration) -> Option<Duration> {
    conn.set_read_timeout(Some(Duration::from_millis(250)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    let mut i = 0;
    while started.elapsed() < limit {
        // One byte every 250 ms: always "making progress", never finishing.
        if conn.write_all(&trickle[i % trickle.len()..][..1]).is_err() {
            return Some(started.elapsed());
        }
        i += 1;
        match conn.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => return Some(started.elapsed()), // an error answer, then close
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn slow_loris_headers_are_cut_off() {
    let server = setup::start();
    let mut conn = TcpStream::connect(server.addr()).unwrap();
    conn.write_all(b"POST /api/credits/sync HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let took = time_until_closed(
        conn,
        b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaa\r\n",
        HEADER_TIMEOUT_BOUND + Duration::from_secs(2),
    );
    assert!(
        took.is_some(),
        "a client trickling its headers kept the connection open past {HEADER_TIMEOUT_BOUND:?}"
    );
}

#[test]
fn slow_loris_bodies_are_cut_off() {
    let server = setup::start();
    let mut conn = TcpStream::connect(server.addr()).unwrap();
    write!(
        conn,
        "POST /api/credits/sync HTTP/1.1\r\nHost: x\r\nX-Api-Key: media-bot-api-key-2024\r\n\
         Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{{"
    )
    .unwrap();
    let took = time_until_closed(conn, b" ", HEADER_TIMEOUT_BOUND + Duration::from_secs(2));
    assert!(
        took.is_some(),
        "a client trickling its body kept the connection open past {HEADER_TIMEOUT_BOUND:?}"
    );
}

/// Many half-open connections do not starve honest clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_connections_do_not_starve_others() {
    let server = setup::start();
    let idle: Vec<TcpStream> = (0..128)
        .map(|_| {
            let mut c = TcpStream::connect(server.addr()).unwrap();
            c.write_all(b"POST /api/credits/sync HTTP/1.1\r\nHost: x\r\nContent-Le")
                .unwrap();
            c
        })
        .collect();
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let started = Instant::now();
    for i in 0..20 {
        let r = wire
            .sync_v2(9_200, 1, "honest", Some(&format!("h-{i}")))
            .await;
        assert_eq!(r.outcome(), (200, "ok"), "{}", r.text);
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "honest calls took {:?}",
        started.elapsed()
    );
    drop(idle);
}

/// Sends a request with `extra` header lines; returns the status, or `None` when the
/// server closed the connection without one.
fn status_with_headers(server: &Server, extra: &str) -> Option<u16> {
    let mut conn = TcpStream::connect(server.addr()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = format!("GET {} HTTP/1.1\r\nHost: x\r\n{extra}\r\n", paths::HEALTHZ);
    let _ = conn.write_all(request.as_bytes());
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                head.extend_from_slice(&buf[..n]);
                if head.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    let text = String::from_utf8_lossy(&head);
    text.split(' ').nth(1).and_then(|s| s.parse().ok())
}

#[test]
fn oversized_headers_are_refused() {
    let mut server = setup::start();
    assert_eq!(
        status_with_headers(&server, ""),
        Some(200),
        "control: a plain health check"
    );
    let one_mib = format!("X-Big: {}\r\n", "a".repeat(1024 * 1024));
    let many: String = (0..500).map(|i| format!("X-H{i}: v\r\n")).collect();
    for (case, extra) in [("a 1 MiB header", one_mib), ("500 headers", many)] {
        let status = status_with_headers(&server, &extra);
        assert!(
            matches!(status, None | Some(400) | Some(413) | Some(431)),
            "{case}: answered {status:?} instead of being refused"
        );
    }
    assert!(server.is_running());
    assert_eq!(
        status_with_headers(&server, ""),
        Some(200),
        "still serving after the abuse"
    );
}

#[test]
fn headers_over_64_kib_are_refused() {
    let server = setup::start();
    let big = format!("X-Big: {}\r\n", "a".repeat(64 * 1024));
    let status = status_with_headers(&server, &big);
    assert!(
        matches!(status, None | Some(400) | Some(431)),
        "a 64 KiB header was accepted ({status:?})"
    );
}

/// `constant_time_eq` takes as long whether the first or the last byte differs.
/// (A plain `==` returns at the first difference: about 1,000 times faster here.)
#[test]
fn secret_comparison_is_constant_time() {
    let a = vec![0x5au8; 1 << 20];
    let mut first = a.clone();
    first[0] ^= 1;
    let mut last = a.clone();
    *last.last_mut().unwrap() ^= 1;
    let once = |b: &[u8]| {
        let t = Instant::now();
        assert!(!std::hint::black_box(signature::constant_time_eq(&a, b)));
        t.elapsed()
    };
    // Alternate the two, so load from other tests hits both alike; compare medians.
    let (mut earlies, mut lates) = (Vec::new(), Vec::new());
    for _ in 0..21 {
        earlies.push(once(&first));
        lates.push(once(&last));
    }
    earlies.sort();
    lates.sort();
    let (early, late) = (earlies[10], lates[10]);
    let ratio = early.as_secs_f64() / late.as_secs_f64();
    assert!(
        (0.3..3.0).contains(&ratio),
        "first-byte difference {early:?} vs last-byte {late:?}: the comparison exits early"
    );
    // And the verifiers reject near-misses either way.
    let good = signature::v1_token("s", 1, 2, "src", 3);
    let mut flipped = good.clone().into_bytes();
    flipped[63] = if flipped[63] == b'0' { b'1' } else { b'0' };
    assert!(!signature::verify_v1(
        "s",
        1,
        2,
        "src",
        3,
        std::str::from_utf8(&flipped).unwrap()
    ));
    assert!(!signature::verify_v1("s", 1, 2, "src", 3, &good[..63]));
}

#[test]
fn debug_output_never_shows_a_secret() {
    let media = setup::media_bot();
    let builder = setup::sdk_builder("http://127.0.0.1:9", &media);
    let config = builder.clone().build().unwrap();
    let client = credit_sync::Client::new(config.clone()).unwrap();
    let blocking = credit_sync::blocking::Client::new(config.clone()).unwrap();
    let server = setup::start();
    let wire = Wire::new(&server.base_url(), &media);
    let outputs = [
        format!("{builder:?}"),
        format!("{builder:#?}"),
        format!("{config:?}"),
        format!("{config:#?}"),
        format!("{client:?}"),
        format!("{client:#?}"),
        format!("{blocking:?}"),
        format!("{blocking:#?}"),
        format!("{server:?}"),
        format!("{wire:?}"),
    ];
    for out in &outputs {
        assert!(
            !out.contains(&media.secret),
            "secret in Debug output: {out}"
        );
        assert!(
            !out.contains(&media.api_key),
            "API key in Debug output: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_logs_never_show_a_secret() {
    let mut server = Server::start(setup::config().env("RUST_LOG", "trace"));
    let media = setup::media_bot();
    let game = setup::game_bot();
    let wire = Wire::new(&server.base_url(), &media);
    // Successes, failures of every kind, and the SDK's traffic.
    wire.sync(9_300, 10, "log", Some("log-1")).await;
    wire.sync_v2(9_300, 10, "log", Some("log-2")).await;
    wire.sync_v2(9_300, -1_000, "log", None).await;
    let mut wrong = media.clone();
    wrong.secret = "not-the-secret".into();
    Wire::new(&server.base_url(), &wrong)
        .sync(9_300, 10, "log", None)
        .await;
    let mut as_game = wire.clone();
    as_game.api_key = game.api_key.clone();
    as_game.sync_v2(9_300, 10, "log", None).await;
    let client = setup::client(&server.base_url(), &media);
    client.add_credits(9_301, 5, "log", None).await.unwrap();
    client.get_records(9_301, Some(5), None).await.unwrap();
    let _ = client.register_user(9_302, Some("nick")).await;
    server.stop();
    let logs = format!("{}\n{}", server.stderr_log(), server.stdout_log());
    assert!(logs.len() > 100, "expected trace logs, got: {logs}");
    for (name, secret) in [
        ("media secret", &media.secret),
        ("media API key", &media.api_key),
        ("game secret", &game.secret),
        ("game API key", &game.api_key),
    ] {
        assert!(
            !logs.contains(secret.as_str()),
            "the server logged the {name}"
        );
    }
}

/// Request smuggling: ambiguous framing (`Content-Length` with `Transfer-Encoding`,
/// two different `Content-Length`s) is refused, and the request hidden in the body
/// never runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ambiguous_framing_is_refused() {
    let server = setup::start();
    let media = setup::media_bot();
    let wire = Wire::new(&server.base_url(), &media);
    // A complete, validly signed write hidden after the first request's body.
    let ts = credit_sync_testkit::now();
    let hidden_body =
        serde_json::to_string(&wire.v1_body(9_400, 77, "smuggled", Some("smuggled-1"), ts))
            .unwrap();
    let hidden = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nX-Api-Key: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{hidden_body}",
        paths::SYNC,
        media.api_key,
        hidden_body.len(),
    );
    let cases = [
        format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{hidden}",
            paths::SYNC
        ),
        format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 0\r\nContent-Length: {}\r\n\r\n{hidden}",
            paths::SYNC,
            hidden.len()
        ),
    ];
    for (i, request) in cases.iter().enumerate() {
        let mut conn = TcpStream::connect(server.addr()).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = conn.write_all(request.as_bytes());
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer);
        let text = String::from_utf8_lossy(&answer);
        let statuses: Vec<&str> = text
            .match_indices("HTTP/1.1 ")
            .map(|(at, _)| &text[at + 9..at + 12])
            .collect();
        assert!(
            statuses.iter().all(|s| s.starts_with('4')),
            "case {i}: ambiguous framing was served: {statuses:?}"
        );
    }
    assert_eq!(wire.balance(9_400).await, None, "the smuggled write ran");
}

/// Runs `serve --config` on a config the server must refuse; returns what it printed.
fn refused_config_output(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, toml).unwrap();
    let mut child = std::process::Command::new(credit_sync_testkit::server_bin())
        .arg("serve")
        .arg("--config")
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server accepted a config it must refuse:\n{toml}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A config the server refuses must not echo a secret in its error (operators paste
/// these errors into tickets; process managers keep them in journals).
#[test]
fn config_errors_never_echo_a_secret() {
    let secret = "s3cr3t-value-that-must-not-leak";
    let key = "api-key-that-must-not-leak";
    let head = "listen = \"127.0.0.1:0\"\ndatabase = \"sqlite:///nonexistent/x.db\"\n\n[[sources]]\nname = \"a\"\n";
    let cases = [
        ("a misspelt field name", format!("{head}api_key = \"{key}\"\nsecret_key = \"{secret}\"\n")),
        ("an unterminated string", format!("{head}api_key = \"{key}\"\nsecret = \"{secret}\n")),
        ("the key twice", format!("{head}api_key = \"{key}\"\nsecret = \"{secret}\"\napi_key = \"{key}\"\n")),
        (
            "two sources with one key",
            format!("{head}api_key = \"{key}\"\nsecret = \"{secret}\"\n\n[[sources]]\nname = \"b\"\napi_key = \"{key}\"\nsecret = \"other\"\n"),
        ),
    ];
    for (case, toml) in cases {
        let out = refused_config_output(&toml);
        assert!(!out.is_empty(), "{case}: refused without saying why");
        assert!(
            !out.contains(secret),
            "{case}: the error shows the secret:\n{out}"
        );
        assert!(
            !out.contains(key),
            "{case}: the error shows the API key:\n{out}"
        );
    }
}

/// The demo keeps the rate limit off (the guide's quick start must not meet 429s),
/// and serves the guide's credentials.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_has_no_rate_limit() {
    let server = Server::start_demo();
    let media = setup::media_bot();
    let wire = Wire::new(&server.base_url(), &media);
    // Each v1 write a different amount: two v1 tokens of one user and amount in one second
    // are one token, single-use (docs/protocol.md, the v1 limit).
    let burst = (1..=60).map(|i| {
        let wire = wire.clone();
        async move {
            wire.sync(123_456_789, i, "demo burst", Some(&format!("demo-{i}")))
                .await
        }
    });
    for r in futures_util::future::join_all(burst).await {
        assert_eq!(r.outcome(), (200, "ok"), "{}", r.text);
    }
    assert_eq!(wire.balance(123_456_789).await, Some(60 * 61 / 2));
}

/// Out of retries, the SDK reports `rate_limited` with the server's `Retry-After`, and the
/// refused change was not applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_reports_rate_limited_with_retry_after() {
    let server = rate_limited_server(1);
    let client = credit_sync::Client::new(
        setup::sdk_builder(&server.base_url(), &setup::media_bot())
            .max_retries(0)
            .build()
            .unwrap(),
    )
    .unwrap();
    client
        .add_credits(9_500, 1, "first", Some("rl-1"))
        .await
        .unwrap();
    match client
        .add_credits(9_500, 1, "second", Some("rl-2"))
        .await
        .map_err(credit_sync::Error::from)
    {
        Err(credit_sync::Error::RateLimited { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(1)));
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    let wire = Wire::new(&server.base_url(), &setup::game_bot());
    assert_eq!(wire.balance(9_500).await, Some(1));
}
