//! Faults between SDK and server: the testkit's proxy drops answers after the
//! server committed, resets connections mid-request, stalls past the client's
//! timeout, and answers 502/503 itself. Every intended change must be applied
//! exactly once: the SDK retries with the same reference (the caller's or its own
//! `auto-<uuid>`), and the server's idempotency turns a retry of an applied change
//! into a harmless replay.

use credit_sync::{BatchEntry, Code};
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::Wire;
use credit_sync_testkit::{Fault, Proxy, Schedule};
use rand::Rng;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Client timeout through the proxy in the load test; a stall lasts longer. (The
/// single-fault test doubles both, so a slow honest attempt on a busy box is never
/// mistaken for a stall.)
const TIMEOUT: Duration = Duration::from_millis(1_000);
const STALL: Duration = Duration::from_millis(1_300);

fn proxied_client(proxy: &Proxy) -> credit_sync::Client {
    proxied_client_with(proxy, TIMEOUT)
}

/// An SDK client whose attempts give up after `timeout` (the whole call has 30 times
/// that), and whose retries are not rationed: these tests inject faults on purpose, at a
/// rate a retry budget exists to cut short.
fn proxied_client_with(proxy: &Proxy, timeout: Duration) -> credit_sync::Client {
    let config = setup::sdk_builder(&proxy.url(), &setup::media_bot())
        .attempt_timeout(timeout)
        .timeout(timeout * 30)
        .disable_retry_budget()
        .max_retries(12)
        .build()
        .unwrap();
    credit_sync::Client::new(config).unwrap()
}

fn proxied_blocking_client(proxy: &Proxy) -> credit_sync::blocking::Client {
    let config = setup::sdk_builder(&proxy.url(), &setup::media_bot())
        .attempt_timeout(TIMEOUT)
        .timeout(TIMEOUT * 30)
        .disable_retry_budget()
        .max_retries(12)
        .build()
        .unwrap();
    credit_sync::blocking::Client::new(config).unwrap()
}

/// Each fault alone, on the first attempt of a call: whether the retry is a replay
/// (`duplicate`) tells whether the server had committed the first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_fault_once_then_the_retry() {
    let server = setup::start();
    let proxy = Proxy::start(server.addr());
    let client = proxied_client_with(&proxy, 2 * TIMEOUT);
    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let cases = [
        (Fault::DropResponse, true),
        (Fault::Stall(2 * STALL), true),
        (Fault::ResetMidRequest, false),
        (Fault::BadGateway, false),
        (Fault::Unavailable, false),
    ];
    for (n, (fault, committed_first)) in cases.into_iter().enumerate() {
        let user = 3_000 + n as i64;
        for (deduct, reference) in [(false, Some(format!("f-{n}-add"))), (true, None)] {
            let before = proxy.exchange_count();
            proxy.push_next(fault.clone());
            let result = if deduct {
                client
                    .deduct_credits(user, 40, "fault", reference.as_deref())
                    .await
            } else {
                client
                    .add_credits(user, 100, "fault", reference.as_deref())
                    .await
            };
            let result = result.unwrap_or_else(|e| panic!("{fault:?}: {e:?}"));
            assert!(result.success, "{fault:?}");
            assert_eq!(
                result.duplicate, committed_first,
                "{fault:?} (deduct: {deduct}): the retry's duplicate flag says whether the first attempt was applied"
            );
            let attempts = proxy.exchange_count() - before;
            assert_eq!(attempts, 2, "{fault:?}: one faulty attempt, one retry");
        }
        let ledger = Ledger::read(&wire, user).await;
        ledger.assert_consistent();
        assert_eq!(ledger.balance, Some(60), "{fault:?}");
        assert_eq!(
            ledger.records.len(),
            2,
            "{fault:?}: each change exactly once"
        );
    }
    // A batch whose answer is dropped: the retry replays every item.
    proxy.push_next(Fault::DropResponse);
    let items: Vec<BatchEntry> = (0..20)
        .map(|i| BatchEntry::new(3_100 + i, 10 + i, "batch").reference(format!("fb-{i}")))
        .collect();
    let batch = client.batch_sync(items, false).await.unwrap();
    assert!(batch.success && batch.succeeded == 20);
    assert!(batch.results.iter().all(|r| r.duplicate), "{batch:?}");
    for i in 0..20 {
        assert_eq!(wire.balance(3_100 + i).await, Some(10 + i));
    }
    // A server that never answers in time: the SDK gives up with `timeout`, bounded.
    proxy.set_fault(Fault::Stall(STALL));
    let quick = credit_sync::Client::new(
        setup::sdk_builder(&proxy.url(), &setup::media_bot())
            .timeout(Duration::from_millis(300))
            .max_retries(1)
            .build()
            .unwrap(),
    )
    .unwrap();
    let started = Instant::now();
    let err = quick
        .add_credits(3_200, 5, "never", Some("f-never"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Timeout, "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // ...and the change it could not confirm was applied once; a later retry replays it.
    proxy.set_fault(Fault::Pass);
    let again = client
        .add_credits(3_200, 5, "never", Some("f-never"))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(wire.balance(3_200).await, Some(5));
}

/// A mixed fault schedule over thousands of calls: adds, deducts, batches, caller and
/// SDK-made references, async and blocking clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thousands_of_calls_through_faults() {
    const TASKS: i64 = 24;
    const BLOCKING_TASKS: i64 = 4;
    const CALLS: usize = 150;
    let server = setup::start();
    let proxy = Arc::new(Proxy::start(server.addr()));
    // About one request in five meets a fault; one in 250 stalls past the timeout.
    proxy.set_schedule(Schedule::from_fn(|i| {
        let h = splitmix(i);
        if h.is_multiple_of(250) {
            return Fault::Stall(STALL);
        }
        match h % 100 {
            0..=5 => Fault::DropResponse,
            6..=11 => Fault::ResetMidRequest,
            12..=15 => Fault::BadGateway,
            16..=19 => Fault::Unavailable,
            _ => Fault::Pass,
        }
    }));
    let started = Instant::now();
    let mut handles = Vec::new();
    let mut threads = Vec::new();
    for t in 0..TASKS {
        let user = 10_000 + t;
        if t < BLOCKING_TASKS {
            let client = proxied_blocking_client(&proxy);
            // A plain thread: the blocking client refuses to run inside a tokio runtime.
            threads.push(std::thread::spawn(move || {
                let mut plan = Plan::new(user, t as u64);
                for _ in 0..CALLS {
                    match plan.next_op() {
                        Op::Sync(amount, reference) => {
                            let r = client
                                .sync(user, amount, "fault-load", reference.as_deref())
                                .unwrap_or_else(|e| panic!("user {user}: {e:?}"));
                            plan.applied(r.balance);
                        }
                        Op::Batch(items) => {
                            let r = client.batch_sync(items, true).unwrap();
                            assert!(r.success, "{r:?}");
                            plan.applied(None);
                        }
                        Op::Read => {
                            let b = client.get_balance(user).unwrap().map(|b| b.credits);
                            plan.applied(Some(b.unwrap_or(0)));
                        }
                    }
                }
                plan
            }));
        } else {
            let client = proxied_client(&proxy);
            handles.push(tokio::spawn(async move {
                let mut plan = Plan::new(user, t as u64);
                for _ in 0..CALLS {
                    match plan.next_op() {
                        Op::Sync(amount, reference) => {
                            let r = client
                                .sync(user, amount, "fault-load", reference.as_deref())
                                .await
                                .unwrap_or_else(|e| panic!("user {user}: {e:?}"));
                            plan.applied(r.balance);
                        }
                        Op::Batch(items) => {
                            let r = client.batch_sync(items, true).await.unwrap();
                            assert!(r.success, "{r:?}");
                            plan.applied(None);
                        }
                        Op::Read => {
                            let b = client.get_balance(user).await.unwrap().map(|b| b.credits);
                            plan.applied(Some(b.unwrap_or(0)));
                        }
                    }
                }
                plan
            }));
        }
    }
    let mut plans = Vec::new();
    for h in handles {
        plans.push(h.await.expect("load task"));
    }
    for t in threads {
        plans.push(t.join().expect("blocking load thread"));
    }
    let elapsed = started.elapsed();

    let wire = Wire::new(&server.base_url(), &setup::media_bot());
    let mut expected_total = 0i64;
    let mut ledger_total = 0i64;
    let mut changes = 0usize;
    let mut reads = 0usize;
    for plan in &plans {
        let ledger = Ledger::read(&wire, plan.user).await;
        ledger.assert_consistent();
        assert_eq!(ledger.balance, Some(plan.balance), "user {}", plan.user);
        assert_eq!(
            ledger.records.len(),
            plan.changes,
            "user {}: every intended change exactly once",
            plan.user
        );
        expected_total += plan.balance;
        ledger_total += ledger.sum();
        changes += plan.changes;
        reads += plan.reads;
    }
    assert_eq!(
        ledger_total, expected_total,
        "the ledger's sum equals the expected total"
    );
    let calls = TASKS as usize * CALLS;
    proxy.settle(Duration::from_secs(5));
    let exchanges = proxy.exchanges();
    let faulted = exchanges.iter().filter(|e| e.fault != Fault::Pass).count();
    for fault in [
        Fault::DropResponse,
        Fault::ResetMidRequest,
        Fault::BadGateway,
        Fault::Unavailable,
        Fault::Stall(STALL),
    ] {
        assert!(
            proxy.count(&fault) >= 2,
            "{fault:?} happened only {} times",
            proxy.count(&fault)
        );
    }
    eprintln!(
        "faults: {calls} SDK calls ({changes} changes, {reads} reads) = {} requests, {faulted} faulted \
         (drop {}, reset {}, 502 {}, 503 {}, stall {}) in {elapsed:.1?}",
        exchanges.len(),
        proxy.count(&Fault::DropResponse),
        proxy.count(&Fault::ResetMidRequest),
        proxy.count(&Fault::BadGateway),
        proxy.count(&Fault::Unavailable),
        proxy.count(&Fault::Stall(STALL)),
    );
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

enum Op {
    /// A signed change, with the caller's reference or none (the SDK makes one).
    Sync(i64, Option<String>),
    /// An atomic batch of adds to this user.
    Batch(Vec<BatchEntry>),
    /// A balance read (retried through the faults like a write).
    Read,
}

/// One task's user and what it intended: the expected balance and change count.
struct Plan {
    user: i64,
    rng: rand::rngs::StdRng,
    balance: i64,
    changes: usize,
    pending: i64,
    pending_changes: usize,
    reads: usize,
    n: usize,
}

impl Plan {
    fn new(user: i64, seed: u64) -> Plan {
        Plan {
            user,
            rng: setup::rng(seed),
            balance: 0,
            changes: 0,
            pending: 0,
            pending_changes: 0,
            reads: 0,
            n: 0,
        }
    }

    fn next_op(&mut self) -> Op {
        self.n += 1;
        if self.n.is_multiple_of(7) {
            self.pending = 0;
            self.pending_changes = 0;
            self.reads += 1;
            return Op::Read;
        }
        let reference = self
            .n
            .is_multiple_of(2)
            .then(|| format!("u{}-{}", self.user, self.n));
        if self.n.is_multiple_of(10) {
            let items: Vec<BatchEntry> = (0..5)
                .map(|i| {
                    BatchEntry::new(self.user, 1 + i, "fault-batch")
                        .reference(format!("u{}-{}-{i}", self.user, self.n))
                })
                .collect();
            self.pending = 15;
            self.pending_changes = 5;
            return Op::Batch(items);
        }
        let amount = if self.balance > 0 && self.rng.random_bool(0.35) {
            -self.rng.random_range(1..=self.balance)
        } else {
            self.rng.random_range(1..=1_000)
        };
        self.pending = amount;
        self.pending_changes = 1;
        Op::Sync(amount, reference)
    }

    fn applied(&mut self, balance: Option<i64>) {
        self.balance += self.pending;
        self.changes += self.pending_changes;
        if let Some(b) = balance {
            assert_eq!(b, self.balance, "user {}: the answer's balance", self.user);
        }
    }
}
