//! Crash durability: load the server, `kill -9` it mid-stream, restart it on the same
//! database, many times. Every change the server acknowledged is there after each
//! restart, exactly once; an atomic batch cut by the crash is all there or not at all;
//! retrying the unacknowledged calls with their references applies each exactly once;
//! and `credit-sync-server verify` passes at the end.

use credit_sync::BatchEntry;
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::Wire;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const CYCLES: u64 = 10;
const WORKERS: u64 = 8;
const USERS: i64 = 12;
const FIRST_USER: i64 = 40_000;

/// One intended change: its reference, user and amount. A batch is several.
#[derive(Debug, Clone)]
struct Change {
    reference: String,
    user: i64,
    amount: i64,
}

#[derive(Default, Clone)]
struct Book {
    /// Every change a worker tried, acknowledged or not.
    sent: Vec<Change>,
    /// References the server acknowledged.
    acked: HashSet<String>,
    /// The reference groups of atomic batches.
    batches: Vec<Vec<String>>,
}

fn sdk(base_url: &str) -> credit_sync::Client {
    credit_sync::Client::new(
        setup::sdk_builder(base_url, &setup::media_bot())
            .timeout(Duration::from_secs(3))
            .max_retries(1)
            .build()
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_stream_loses_nothing_acknowledged() {
    let mut server = setup::start();
    let book = Arc::new(Mutex::new(Book::default()));
    let mut rng = setup::rng(0xDEAD);
    let started = Instant::now();
    for cycle in 0..CYCLES {
        let client = sdk(&server.base_url());
        let acked_at_start = book.lock().unwrap().acked.len();
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (client, stop, book) = (client.clone(), stop.clone(), book.clone());
                tokio::spawn(async move {
                    let mut rng = setup::rng(cycle * 100 + w);
                    let mut n = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let reference = format!("c{cycle}-w{w}-{n}");
                        let user = FIRST_USER + rng.random_range(0..USERS);
                        // Every 5th call an atomic batch: 5 items, and every 25th 200 items,
                        // so a kill often lands inside a batch's transaction.
                        if n.is_multiple_of(5) {
                            let size = if n.is_multiple_of(25) { 200 } else { 5 };
                            let changes: Vec<Change> = (0..size)
                                .map(|i| Change {
                                    reference: format!("{reference}-{i}"),
                                    user: FIRST_USER + (user + i) % USERS,
                                    amount: rng.random_range(1..=100),
                                })
                                .collect();
                            let items = changes
                                .iter()
                                .map(|c| {
                                    BatchEntry::new(c.user, c.amount, "crash-batch")
                                        .reference(&c.reference)
                                })
                                .collect();
                            {
                                let mut b = book.lock().unwrap();
                                b.sent.extend(changes.iter().cloned());
                                b.batches
                                    .push(changes.iter().map(|c| c.reference.clone()).collect());
                            }
                            match client.batch_sync(items, true).await {
                                Ok(r) if r.success => {
                                    let mut b = book.lock().unwrap();
                                    b.acked.extend(changes.into_iter().map(|c| c.reference));
                                }
                                Ok(r) => panic!("batch failed without a crash: {r:?}"),
                                Err(_) => return n,
                            }
                        } else {
                            let amount = rng.random_range(1..=1_000);
                            book.lock().unwrap().sent.push(Change {
                                reference: reference.clone(),
                                user,
                                amount,
                            });
                            match client
                                .add_credits(user, amount, "crash", Some(&reference))
                                .await
                            {
                                Ok(_) => {
                                    book.lock().unwrap().acked.insert(reference);
                                }
                                Err(_) => return n,
                            }
                        }
                    }
                    n
                })
            })
            .collect();
        // Let the load run, then pull the plug while requests are in flight.
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..700))).await;
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.expect("worker");
        }
        let acked = book.lock().unwrap().acked.len();
        assert!(
            acked > acked_at_start,
            "cycle {cycle}: no change was acknowledged before the kill"
        );
        server.restart();
        let snapshot = book.lock().unwrap().clone();
        check(&server, &snapshot, cycle).await;
    }

    // Retry every call the crashes left unacknowledged, with its reference: each is
    // then applied exactly once, whether or not the server had committed it.
    let client = sdk(&server.base_url());
    let (sent, acked, batches) = {
        let b = book.lock().unwrap();
        (b.sent.clone(), b.acked.clone(), b.batches.clone())
    };
    let batch_of: HashMap<&str, &Vec<String>> = batches
        .iter()
        .flat_map(|g| g.iter().map(move |r| (r.as_str(), g)))
        .collect();
    let by_ref: HashMap<&str, &Change> = sent.iter().map(|c| (c.reference.as_str(), c)).collect();
    let mut retried = HashSet::new();
    for change in sent.iter().filter(|c| !acked.contains(&c.reference)) {
        if let Some(group) = batch_of.get(change.reference.as_str()) {
            if !retried.insert(group[0].clone()) {
                continue;
            }
            let items = group
                .iter()
                .map(|r| {
                    let c = by_ref[r.as_str()];
                    BatchEntry::new(c.user, c.amount, "crash-batch").reference(r)
                })
                .collect();
            let r = client.batch_sync(items, true).await.expect("batch retry");
            assert!(r.success, "{r:?}");
        } else {
            client
                .add_credits(change.user, change.amount, "crash", Some(&change.reference))
                .await
                .expect("retry");
        }
    }
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let mut expected: HashMap<i64, i64> = HashMap::new();
    for c in &sent {
        *expected.entry(c.user).or_default() += c.amount;
    }
    let mut records = 0;
    for user in FIRST_USER..FIRST_USER + USERS {
        let ledger = Ledger::read(&wire, user).await;
        ledger.assert_consistent();
        assert_eq!(
            ledger.balance.unwrap_or(0),
            expected.get(&user).copied().unwrap_or(0),
            "user {user}: after the retries every intended change is applied exactly once"
        );
        records += ledger.records.len();
    }
    assert_eq!(records, sent.len());

    server.stop();
    let out = server.run_cli(&["verify", "--config", "{config}"]);
    assert!(
        out.status.success(),
        "credit-sync-server verify failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "crash: {CYCLES} kill -9 cycles, {} changes sent, {} acknowledged before a crash, {} restarts, in {:.1?}",
        sent.len(),
        acked.len(),
        server.starts() - 1,
        started.elapsed()
    );
}

/// After a restart: every acknowledged change is there once, nothing unknown is there,
/// atomic batches are whole or absent, and every ledger is consistent.
async fn check(server: &credit_sync_testkit::Server, book: &Book, cycle: u64) {
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let sent: HashSet<&str> = book.sent.iter().map(|c| c.reference.as_str()).collect();
    let mut present = HashSet::new();
    for user in FIRST_USER..FIRST_USER + USERS {
        let ledger = Ledger::read(&wire, user).await;
        ledger.assert_consistent();
        for r in &ledger.records {
            let reference = r
                .external_reference
                .clone()
                .expect("every change has a reference");
            assert!(
                sent.contains(reference.as_str()),
                "cycle {cycle}: unknown change {reference}"
            );
            present.insert(reference);
        }
    }
    for reference in &book.acked {
        assert!(
            present.contains(reference),
            "cycle {cycle}: acknowledged change {reference} is gone after kill -9"
        );
    }
    for group in &book.batches {
        let n = group.iter().filter(|r| present.contains(*r)).count();
        assert!(
            n == 0 || n == group.len(),
            "cycle {cycle}: atomic batch {} is half applied ({n}/{})",
            group[0],
            group.len()
        );
    }
}
