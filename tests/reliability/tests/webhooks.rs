//! Webhook delivery through `kill -9`: the server is killed while it delivers to a slow
//! receiver (and while changes arrive), and restarted on the same database, twice. Every
//! committed event still reaches the endpoint (at least once), and the first delivery of
//! each comes in `seq` order; on PostgreSQL the dead process's claim expires and the
//! restarted one takes the endpoint over.

use credit_sync_reliability::setup;
use credit_sync_testkit::{Answer, Receiver, Server, Wire};
use serde_json::Value;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// All events of the feed.
async fn feed(wire: &Wire) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = wire
            .get(&format!("/api/events?after={cursor}&limit=500"))
            .await;
        reply.expect_ok();
        let events = reply.body["events"].as_array().unwrap().clone();
        cursor = reply.body["next_cursor"].as_str().unwrap().to_string();
        if events.is_empty() {
            return all;
        }
        all.extend(events);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_mid_delivery_loses_no_event() {
    // 30 ms per delivery: a backlog builds while changes arrive, so each kill cuts
    // deliveries in flight.
    let receiver = Receiver::start(|_, _| Answer::After(Duration::from_millis(30), 200)).await;
    let hooks = format!(
        "\n[webhook_delivery]\nfirst_retry_ms = 20\nmax_retry_ms = 100\nattempt_timeout_ms = 300\n\
         poll_ms = 100\nlease_ms = 1000\n\n[[webhooks]]\nurl = \"{}\"\nsecret = \"{SECRET}\"\n",
        receiver.url("/hook")
    );
    let mut server = Server::start_edited(setup::config(), |toml| format!("{toml}{hooks}"));
    let mut wire = Wire::new(&server.base_url(), &setup::media_bot());
    for round in 0..3 {
        for i in 0..20 {
            wire.fund(60_000 + i % 4, 1 + round).await.expect_ok();
        }
        if round < 2 {
            // Mid-delivery: some of this round's events are still on their way.
            tokio::time::sleep(Duration::from_millis(100)).await;
            server.restart();
            wire = Wire::new(&server.base_url(), &setup::media_bot());
        }
    }
    // Wait for PostgreSQL's sequencer, then for every event to arrive.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = feed(&wire).await;
    while events.len() < 64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        events = feed(&wire).await;
    }
    assert_eq!(events.len(), 64, "4 registrations and 60 credits");
    let ids: Vec<String> = events
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let arrived = receiver
        .wait_for(Duration::from_secs(30), |r| {
            let got: std::collections::HashSet<String> = r
                .delivered("/hook")
                .iter()
                .map(|d| d.id().to_string())
                .collect();
            ids.iter().all(|id| got.contains(id))
        })
        .await;
    let delivered = receiver.delivered("/hook");
    assert!(
        arrived,
        "{} deliveries, {} events",
        delivered.len(),
        ids.len()
    );
    // First deliveries in seq order; repeats (after a kill) only of earlier events.
    let mut firsts = Vec::new();
    for d in &delivered {
        if !firsts.contains(&d.id().to_string()) {
            firsts.push(d.id().to_string());
        }
    }
    assert_eq!(firsts, ids);
    println!(
        "{} events, {} deliveries ({} repeated after the kills)",
        ids.len(),
        delivered.len(),
        delivered.len() - ids.len()
    );
}
