//! Deadlines and the retry budget against the real server: `timeout` bounds the whole
//! call, an attempt has its own limit, and a storm of failures empties the budget so
//! calls fail fast with their real code. Time bounds are generous (CI is a loaded machine).

mod support;

use credit_sync::protocol::Code;
use credit_sync::{Client, Error, RetryBudget};
use std::time::{Duration, Instant};
use support::{error_body, user, Fault, Server};

#[tokio::test]
async fn a_silent_server_costs_the_deadline_not_the_retries() {
    let server = Server::start();
    let proxy = server.proxy(std::iter::repeat_n(Fault::Hang, 20));
    let client = Client::new(
        server
            .config_at(&proxy.url())
            .timeout(Duration::from_secs(2))
            .max_retries(3)
            .build()
            .unwrap(),
    )
    .unwrap();
    let start = Instant::now();
    let err = client
        .add_credits(user(), 5, "x", Some("deadline-ref-1"))
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.code(), Code::Timeout, "{err:?}");
    assert!(matches!(err.error, Error::Timeout { .. }));
    assert_eq!(err.reference.as_deref(), Some("deadline-ref-1"));
    assert!(err.error.outcome_unknown());
    assert!(took >= Duration::from_millis(1900), "{took:?}");
    assert!(
        took < Duration::from_secs(5),
        "within the deadline plus slack: {took:?}"
    );
    assert_eq!(err.attempts, 1, "the first attempt had the whole deadline");
}

#[tokio::test]
async fn short_attempts_are_retried_inside_the_deadline() {
    let server = Server::start();
    let proxy = server.proxy(std::iter::repeat_n(Fault::Hang, 50));
    let client = Client::new(
        server
            .config_at(&proxy.url())
            .timeout(Duration::from_millis(1500))
            .attempt_timeout(Duration::from_millis(300))
            .max_retries(20)
            .build()
            .unwrap(),
    )
    .unwrap();
    let start = Instant::now();
    let err = client.add_credits(user(), 5, "x", None).await.unwrap_err();
    let took = start.elapsed();
    assert_eq!(err.code(), Code::Timeout, "{err:?}");
    assert!(err.reference.unwrap().starts_with("auto-"));
    assert!(err.attempts >= 2, "{} attempts", err.attempts);
    assert!(took < Duration::from_secs(4), "{took:?}");

    // One short hang, then the answer: applied once, within the deadline.
    let proxy = server.proxy([Fault::Hang]);
    let client = Client::new(
        server
            .config_at(&proxy.url())
            .timeout(Duration::from_secs(10))
            .attempt_timeout(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let r = client.add_credits(user(), 5, "x", None).await.unwrap();
    assert_eq!(r.attempts, 2);
}

#[tokio::test]
async fn a_backoff_past_the_deadline_returns_the_real_error_at_once() {
    let server = Server::start();
    let limited =
        Fault::respond(429, error_body("rate_limited", "")).with_header("retry-after", "30");
    let proxy = server.proxy([limited]);
    let client = Client::new(
        server
            .config_at(&proxy.url())
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap(),
    )
    .unwrap();
    let start = Instant::now();
    let err = client.get_balance(user()).await.unwrap_err();
    assert_eq!(err.code(), Code::RateLimited, "{err:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

fn storm_client(server: &Server, url: &str, budget: Option<RetryBudget>) -> Client {
    let b = server.config_at(url).max_retries(3);
    let b = match budget {
        Some(budget) => b.retry_budget(budget),
        None => b.disable_retry_budget(),
    };
    Client::new(b.build().unwrap()).unwrap()
}

#[tokio::test]
async fn a_retry_storm_empties_the_budget_and_calls_fail_fast() {
    let server = Server::start();
    let unavailable = || Fault::respond(503, error_body("service_unavailable", ""));
    let proxy = server.proxy([]);
    proxy.set_fault(unavailable());
    // 50 tokens: ten retries for the whole client.
    let budget = RetryBudget {
        capacity: 50,
        ..RetryBudget::default()
    };
    let client = storm_client(&server, &proxy.url(), Some(budget));
    let calls: u64 = 40;
    let results = futures_util::future::join_all(
        (0..calls).map(|_| client.add_credits(user(), 1, "storm", None)),
    )
    .await;
    let mut fast: u64 = 0;
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert_eq!(e.code(), Code::ServiceUnavailable, "{e:?}");
        assert!(e.reference.is_some());
        if e.attempts == 1 {
            fast += 1;
        }
    }
    let exchanges = proxy.exchange_count();
    assert!(exchanges <= calls + 10, "{exchanges} exchanges");
    assert!(fast >= calls / 2, "{fast} of {calls} failed fast");

    // Without a budget every call takes its retries.
    let proxy = server.proxy([]);
    proxy.set_fault(unavailable());
    let client = storm_client(&server, &proxy.url(), None);
    let results = futures_util::future::join_all((0..10).map(|_| client.get_balance(user()))).await;
    assert!(results.iter().all(|r| r.is_err()));
    assert_eq!(proxy.exchange_count(), 40);
}

#[tokio::test]
async fn successes_refill_the_budget() {
    let server = Server::start();
    let proxy = server.proxy([]);
    let budget = RetryBudget {
        capacity: 5,
        ..RetryBudget::default()
    };
    let client = storm_client(&server, &proxy.url(), Some(budget));
    let unavailable = || Fault::respond(503, error_body("service_unavailable", ""));
    // One retry empties the bucket; the call then succeeds and puts its tokens back.
    proxy.push_script([unavailable()]);
    let r = client.add_credits(user(), 1, "x", None).await.unwrap();
    assert_eq!(r.attempts, 2);
    proxy.push_script([unavailable()]);
    let r = client.add_credits(user(), 1, "x", None).await.unwrap();
    assert_eq!(r.attempts, 2, "the success refilled the budget");
}

#[test]
fn deadline_settings_are_checked() {
    let b = || {
        Client::builder()
            .base_url("http://127.0.0.1:1")
            .api_key("k")
            .secret_key("s")
            .source("src")
    };
    let e = b().attempt_timeout(Duration::ZERO).build().unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let c = b().build().unwrap();
    assert_eq!(c.timeout, Duration::from_secs(10));
    assert_eq!(c.attempt_timeout, None);
    assert_eq!(c.retry_budget, Some(RetryBudget::default()));
    assert_eq!(
        b().disable_retry_budget().build().unwrap().retry_budget,
        None
    );
}
