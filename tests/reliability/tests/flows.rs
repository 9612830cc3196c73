//! The money flows (holds, captures, voids, reversals, transfers) under crashes, faults
//! and contention, over HTTP: across `kill -9` a hold is placed and resolved exactly once,
//! a transfer has both legs or neither, reversals never exceed their record; a retry after
//! a fault (or a kill) with the same reference is a replay exactly when the first attempt
//! had committed; concurrent copies of one call apply once; concurrent captures and voids
//! resolve a hold once; deducts, holds and transfers racing on one user (in one process or
//! two) never take `available` below zero; an expired hold stops counting; and the SDK's
//! own retries of every flow (async and blocking) apply each exactly once through faults.
//! Every test ends with `credit-sync-server verify` clean, on either backend.

use credit_sync::protocol::{paths, HoldData, HoldState, Record};
use credit_sync_reliability::flows::{self, Call, View};
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::{Fault, Proxy, Reply, Server, Wire};
use futures_util::future::join_all;
use futures_util::StreamExt;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn wire(server: &Server) -> Wire {
    Wire::new(&server.base_url(), &setup::media_bot())
}

/// Stops the server, then `verify` must pass on its database.
fn stop_and_verify(server: &mut Server) {
    server.stop();
    flows::assert_verified(server);
}

/// What a killed server's answer can be: none, or one that says nothing was applied.
fn outcome_unknown(reply: &Reply) -> bool {
    matches!(reply.status, 500 | 503)
}

/// Waits until `count` reaches `target` (the work is then mid-stream: kill now), all
/// the workers are done, or `limit` passes.
async fn until_count(count: &AtomicUsize, target: usize, done: &AtomicUsize, workers: usize) {
    let limit = Instant::now() + Duration::from_secs(5);
    while count.load(Ordering::SeqCst) < target
        && done.load(Ordering::SeqCst) < workers
        && Instant::now() < limit
    {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Every record of these users, oldest first per user, each ledger checked.
async fn ledgers(wire: &Wire, users: impl Iterator<Item = i64>) -> Vec<Ledger> {
    let ledgers = join_all(users.map(|user| Ledger::read(wire, user))).await;
    for ledger in &ledgers {
        ledger.assert_consistent();
    }
    ledgers
}

// ---------------------------------------------------------------------------------------
// 1. kill -9 mid-capture
// ---------------------------------------------------------------------------------------

const HOLD_CYCLES: u64 = 3;
const HOLD_USERS: i64 = 10;
const HOLDS_PER_CYCLE: usize = 200;
const HOLD_WORKERS: usize = 8;
const FIRST_HOLDER: i64 = 50_000;
const HOLDER_FUNDING: i64 = 100_000;

/// How a hold is to be resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    CaptureAll,
    CapturePart(i64),
    Void,
}

/// What is known of a resolution's first application.
#[derive(Debug, Clone)]
enum Outcome {
    /// Never sent (the kill came first).
    Unsent,
    /// Sent, no answer: the kill may have come before or after its commit.
    Unknown,
    /// Answered: this is the hold's final state.
    Acked(Box<HoldData>),
}

#[derive(Debug, Clone)]
struct Slot {
    hold_id: String,
    user: i64,
    amount: i64,
    plan: Plan,
    call: Call,
    outcome: Outcome,
}

impl Slot {
    fn captured(&self) -> i64 {
        match self.plan {
            Plan::CaptureAll => self.amount,
            Plan::CapturePart(a) => a,
            Plan::Void => 0,
        }
    }

    /// The answer is this plan's application to this hold.
    fn assert_applied(&self, data: &HoldData) {
        let hold = &data.hold;
        assert_eq!(hold.hold_id, self.hold_id);
        let state = match self.plan {
            Plan::Void => HoldState::Voided,
            _ => HoldState::Captured,
        };
        assert_eq!(hold.state, state, "{}: {data:?}", self.hold_id);
        assert_eq!(hold.captured, self.captured(), "{}: {data:?}", self.hold_id);
        assert_eq!(
            hold.record_id.is_some(),
            state == HoldState::Captured,
            "{data:?}"
        );
    }
}

/// Places one cycle's holds (all acknowledged: the kill comes later) and plans each one's
/// resolution: a third captured whole, a third in part, a third voided.
async fn place_holds(wire: &Wire, cycle: u64, rng: &mut rand::rngs::StdRng) -> Vec<Slot> {
    let plans: Vec<(usize, i64, i64, Plan)> = (0..HOLDS_PER_CYCLE)
        .map(|i| {
            let user = FIRST_HOLDER + (i as i64) % HOLD_USERS;
            let amount = rng.random_range(2..=100);
            let plan = match rng.random_range(0..3) {
                0 => Plan::CaptureAll,
                1 => Plan::CapturePart(rng.random_range(1..amount)),
                _ => Plan::Void,
            };
            (i, user, amount, plan)
        })
        .collect();
    let mut slots: Vec<Slot> = futures_util::stream::iter(plans)
        .map(|(i, user, amount, plan)| {
            let wire = wire.clone();
            async move {
                let mut place = Call::hold(user, amount, &format!("h{cycle}-{i}"), None);
                let reply = place.send(&wire).await;
                reply.expect_ok();
                let data = flows::hold_data(&reply);
                assert_eq!(data.hold.state, HoldState::Open);
                let hold_id = data.hold.hold_id;
                let reference = format!("r{cycle}-{i}");
                let call = match plan {
                    Plan::CaptureAll => Call::capture(&hold_id, None, &reference),
                    Plan::CapturePart(a) => Call::capture(&hold_id, Some(a), &reference),
                    Plan::Void => Call::void(&hold_id, &reference),
                };
                (
                    i,
                    Slot {
                        hold_id,
                        user,
                        amount,
                        plan,
                        call,
                        outcome: Outcome::Unsent,
                    },
                )
            }
        })
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .map(|(_, slot)| slot)
        .collect();
    // Workers take them in a random order, so one user's holds are resolved concurrently.
    slots.shuffle(rng);
    slots
}

/// After a restart, before any retry: every acknowledged resolution is there, nothing
/// unsent is, no hold has two capture records; returns the holds whose resolution
/// committed (their capture record, or no longer open).
async fn check_holds(wire: &Wire, slots: &[Slot], cycle: u64) -> HashSet<String> {
    let by_id: HashMap<&str, &Slot> = slots.iter().map(|s| (s.hold_id.as_str(), s)).collect();
    let mut capture_records: HashMap<String, Record> = HashMap::new();
    for ledger in ledgers(wire, FIRST_HOLDER..FIRST_HOLDER + HOLD_USERS).await {
        for r in ledger.records {
            let Some(hold_id) = r.hold_id.clone() else {
                continue;
            };
            let Some(slot) = by_id.get(hold_id.as_str()) else {
                continue; // an earlier cycle's
            };
            assert_ne!(
                slot.plan,
                Plan::Void,
                "cycle {cycle}: a voided hold has a record"
            );
            assert_eq!(r.change, -slot.captured(), "cycle {cycle}: {hold_id}");
            let previous = capture_records.insert(hold_id.clone(), r);
            assert!(
                previous.is_none(),
                "cycle {cycle}: hold {hold_id} has two capture records"
            );
        }
    }
    let mut open = HashSet::new();
    for user in FIRST_HOLDER..FIRST_HOLDER + HOLD_USERS {
        let list = flows::holds(wire, user).await.expect("a funded user");
        for h in list.holds {
            open.insert(h.hold_id);
        }
    }
    let mut committed = HashSet::new();
    for slot in slots {
        let is_open = open.contains(&slot.hold_id);
        let record = capture_records.get(&slot.hold_id);
        match (&slot.outcome, slot.plan) {
            (Outcome::Unsent, _) => {
                assert!(
                    is_open,
                    "cycle {cycle}: unsent {} is not open",
                    slot.hold_id
                )
            }
            (Outcome::Acked(data), plan) => {
                assert!(
                    !is_open,
                    "cycle {cycle}: acknowledged {} is open again after kill -9",
                    slot.hold_id
                );
                if plan != Plan::Void {
                    let record = record.unwrap_or_else(|| {
                        panic!(
                            "cycle {cycle}: acknowledged capture of {} lost",
                            slot.hold_id
                        )
                    });
                    assert_eq!(Some(record.id), data.hold.record_id);
                }
            }
            (Outcome::Unknown, Plan::Void) => {}
            (Outcome::Unknown, _) => assert_eq!(
                record.is_some(),
                !is_open,
                "cycle {cycle}: {} is resolved without its capture record, or open with it",
                slot.hold_id
            ),
        }
        if !is_open {
            committed.insert(slot.hold_id.clone());
        }
    }
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_capture_resolves_each_hold_exactly_once() {
    let mut server = setup::start();
    let started = Instant::now();
    let mut rng = setup::rng(0xC0FFEE);
    {
        let wire = wire(&server);
        for user in FIRST_HOLDER..FIRST_HOLDER + HOLD_USERS {
            wire.fund(user, HOLDER_FUNDING).await;
        }
    }
    let mut all: Vec<Slot> = Vec::new();
    let (mut acked_total, mut unknown_total, mut replayed_total, mut first_total) = (0, 0, 0, 0);
    for cycle in 0..HOLD_CYCLES {
        let wire = wire(&server);
        let slots = place_holds(&wire, cycle, &mut rng).await;
        let slots: Arc<Vec<Mutex<Slot>>> = Arc::new(slots.into_iter().map(Mutex::new).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let acked = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..HOLD_WORKERS)
            .map(|_| {
                let (wire, slots, next, acked, done, stop) = (
                    wire.clone(),
                    slots.clone(),
                    next.clone(),
                    acked.clone(),
                    done.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= slots.len() {
                            break;
                        }
                        let mut call = slots[i].lock().unwrap().call.clone();
                        let answer = call.try_send(&wire).await;
                        let mut slot = slots[i].lock().unwrap();
                        slot.call = call;
                        match answer {
                            Ok(reply) if reply.outcome() == (200, "ok") => {
                                let data = flows::hold_data(&reply);
                                slot.assert_applied(&data);
                                assert!(!data.duplicate, "a first call is no replay: {data:?}");
                                slot.outcome = Outcome::Acked(Box::new(data));
                                acked.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(reply) if outcome_unknown(&reply) => {
                                slot.outcome = Outcome::Unknown;
                            }
                            Ok(reply) => panic!("{}: {}", slot.hold_id, reply.text),
                            Err(_) => {
                                slot.outcome = Outcome::Unknown;
                                break;
                            }
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Pull the plug once a random share of the resolutions is acknowledged.
        let target = rng.random_range(HOLDS_PER_CYCLE / 5..HOLDS_PER_CYCLE * 3 / 4);
        until_count(&acked, target, &done, HOLD_WORKERS).await;
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.expect("worker");
        }
        let mut slots: Vec<Slot> = Arc::try_unwrap(slots)
            .expect("the workers are done")
            .into_iter()
            .map(|m| m.into_inner().unwrap())
            .collect();
        server.restart();
        let wire = self::wire(&server);
        let committed = check_holds(&wire, &slots, cycle).await;

        // Every unacknowledged resolution again, with its reference and a fresh
        // signature: a replay when it had committed, its first application otherwise.
        for slot in &slots {
            match slot.outcome {
                Outcome::Acked(_) => acked_total += 1,
                Outcome::Unknown => unknown_total += 1,
                Outcome::Unsent => {}
            }
        }
        let unacked = slots
            .iter_mut()
            .filter(|s| !matches!(s.outcome, Outcome::Acked(_)));
        let retried: Vec<bool> = futures_util::stream::iter(unacked)
            .map(|slot| {
                let (wire, committed) = (&wire, &committed);
                async move {
                    let reply = slot.call.send(wire).await;
                    reply.expect_ok();
                    let data = flows::hold_data(&reply);
                    slot.assert_applied(&data);
                    assert_eq!(
                        data.duplicate,
                        committed.contains(&slot.hold_id),
                        "cycle {cycle}: {} retried: duplicate exactly when it had committed",
                        slot.hold_id
                    );
                    let duplicate = data.duplicate;
                    slot.outcome = Outcome::Acked(Box::new(data));
                    duplicate
                }
            })
            .buffer_unordered(8)
            .collect()
            .await;
        replayed_total += retried.iter().filter(|d| **d).count();
        first_total += retried.iter().filter(|d| !**d).count();
        // Each hold resolved exactly once: the same call again replays its final state
        // (every one the kill cut, and every fourth of the others).
        let resent = slots
            .iter_mut()
            .enumerate()
            .filter(|(i, s)| s.call.attempts() > 1 || i % 4 == 0)
            .map(|(_, s)| s);
        futures_util::stream::iter(resent)
            .for_each_concurrent(8, |slot| {
                let wire = &wire;
                async move {
                    let reply = slot.call.send(wire).await;
                    reply.expect_ok();
                    let data = flows::hold_data(&reply);
                    assert!(data.duplicate, "{}: {}", slot.hold_id, reply.text);
                    let Outcome::Acked(first) = &slot.outcome else {
                        unreachable!("every resolution is acknowledged by now")
                    };
                    assert_eq!(data.hold, first.hold, "the replay answers the final state");
                }
            })
            .await;
        all.extend(slots);
        assert_books(&wire, &all, cycle).await;
    }
    let resolutions = all.len();
    stop_and_verify(&mut server);
    eprintln!(
        "flows::kill_9_mid_capture: {HOLD_CYCLES} kill -9 cycles, {resolutions} holds on \
         {HOLD_USERS} users: {acked_total} resolutions acknowledged before a kill, \
         {unknown_total} cut by it (of which replayed on retry {replayed_total}), \
         {first_total} applied on retry, in {:.1?}",
        started.elapsed()
    );
}

/// Every hold resolved so far: one capture record per captured hold, none per voided
/// one, and each user's `credits`, `held` and `available` what the plans say.
async fn assert_books(wire: &Wire, slots: &[Slot], cycle: u64) {
    let mut captured: HashMap<i64, i64> = HashMap::new();
    let mut records_of: HashMap<&str, usize> = HashMap::new();
    for slot in slots {
        *captured.entry(slot.user).or_default() += slot.captured();
        records_of.insert(&slot.hold_id, 0);
    }
    for ledger in ledgers(wire, FIRST_HOLDER..FIRST_HOLDER + HOLD_USERS).await {
        for r in &ledger.records {
            if let Some(h) = &r.hold_id {
                *records_of
                    .get_mut(h.as_str())
                    .expect("a hold this test placed") += 1;
            }
        }
        let user = ledger.telegram_id;
        let credits = HOLDER_FUNDING - captured.get(&user).copied().unwrap_or(0);
        assert_eq!(
            flows::view(wire, user).await,
            Some(View {
                credits,
                held: 0,
                available: credits
            }),
            "cycle {cycle}: user {user}"
        );
        assert!(flows::holds(wire, user).await.unwrap().holds.is_empty());
    }
    for slot in slots {
        let expected = usize::from(slot.plan != Plan::Void);
        assert_eq!(
            records_of[slot.hold_id.as_str()],
            expected,
            "cycle {cycle}: hold {} ({:?}) has the wrong number of capture records",
            slot.hold_id,
            slot.plan
        );
    }
}

/// One hold a worker placed, and what is known of it.
#[derive(Debug, Clone)]
struct Placement {
    reference: String,
    user: i64,
    amount: i64,
    call: Call,
    /// The hold's id once an answer named it.
    hold_id: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_hold_keeps_held_in_step_with_the_holds() {
    const CYCLES: u64 = 3;
    const USERS: i64 = 10;
    const FIRST: i64 = 55_000;
    const FUNDING: i64 = 1_000_000;
    let mut server = setup::start();
    let started = Instant::now();
    let mut rng = setup::rng(0x4011D);
    {
        let wire = wire(&server);
        for user in FIRST..FIRST + USERS {
            wire.fund(user, FUNDING).await;
        }
    }
    let (mut sent, mut acked_total, mut retried, mut replayed) = (0, 0, 0, 0);
    for cycle in 0..CYCLES {
        let wire = wire(&server);
        let book: Arc<Mutex<Vec<Placement>>> = Arc::default();
        let acked = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..8u64)
            .map(|w| {
                let (wire, book, acked, done, stop) = (
                    wire.clone(),
                    book.clone(),
                    acked.clone(),
                    done.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let mut rng = setup::rng(cycle * 100 + w);
                    // Up to 5 holds per user and worker: never near the open-holds limit.
                    for n in 0..5 * USERS {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let reference = format!("p{cycle}-w{w}-{n}");
                        let user = FIRST + n % USERS;
                        let amount = rng.random_range(1..=1_000);
                        let mut call = Call::hold(user, amount, &reference, None);
                        let answer = call.try_send(&wire).await;
                        let mut placement = Placement {
                            reference,
                            user,
                            amount,
                            call,
                            hold_id: None,
                        };
                        let cut = match answer {
                            Ok(reply) if reply.outcome() == (200, "ok") => {
                                let data = flows::hold_data(&reply);
                                assert!(!data.duplicate);
                                assert_eq!(data.hold.amount, amount);
                                placement.hold_id = Some(data.hold.hold_id);
                                acked.fetch_add(1, Ordering::SeqCst);
                                false
                            }
                            Ok(reply) if outcome_unknown(&reply) => false,
                            Ok(reply) => panic!("{}: {}", placement.reference, reply.text),
                            Err(_) => true,
                        };
                        book.lock().unwrap().push(placement);
                        if cut {
                            break;
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let target = rng.random_range(40..160);
        until_count(&acked, target, &done, 8).await;
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.expect("worker");
        }
        server.restart();
        let wire = self::wire(&server);
        let mut placements = std::mem::take(&mut *book.lock().unwrap());
        sent += placements.len();

        // After the restart: the open holds are exactly acknowledged ones plus some of the
        // unknown ones, each once, and `held` is their sum (the holds list checks it, and
        // the balance read must agree).
        let by_ref: HashMap<&str, &Placement> = placements
            .iter()
            .map(|p| (p.reference.as_str(), p))
            .collect();
        let mut open: HashMap<String, String> = HashMap::new();
        for user in FIRST..FIRST + USERS {
            let list = flows::holds(&wire, user).await.expect("a funded user");
            let v = flows::view(&wire, user).await.unwrap();
            assert_eq!(
                (v.credits, v.held),
                (list.credits, list.held),
                "user {user}"
            );
            for h in list.holds {
                let reference = h.external_reference.clone().expect("a referenced hold");
                let p = by_ref
                    .get(reference.as_str())
                    .unwrap_or_else(|| panic!("cycle {cycle}: unknown hold {reference}"));
                assert_eq!((h.telegram_id, h.amount), (p.user, p.amount));
                let previous = open.insert(reference, h.hold_id);
                assert!(previous.is_none(), "cycle {cycle}: a hold placed twice");
            }
        }
        for p in &placements {
            if let Some(id) = &p.hold_id {
                acked_total += 1;
                assert_eq!(
                    open.get(&p.reference),
                    Some(id),
                    "cycle {cycle}: acknowledged hold {} is gone after kill -9",
                    p.reference
                );
            }
        }
        // Every unacknowledged placement again: a replay exactly when it had committed.
        for p in placements.iter_mut().filter(|p| p.hold_id.is_none()) {
            let reply = p.call.send(&wire).await;
            reply.expect_ok();
            let data = flows::hold_data(&reply);
            let committed = open.get(&p.reference);
            assert_eq!(
                data.duplicate,
                committed.is_some(),
                "cycle {cycle}: {} retried: duplicate exactly when it had committed",
                p.reference
            );
            if let Some(id) = committed {
                assert_eq!(&data.hold.hold_id, id);
            }
            retried += 1;
            replayed += usize::from(data.duplicate);
            p.hold_id = Some(data.hold.hold_id);
        }
        // Each placement is one open hold; `held` is what they add up to, then voiding
        // them all brings it back to 0.
        let mut expected: HashMap<i64, i64> = HashMap::new();
        for p in &placements {
            *expected.entry(p.user).or_default() += p.amount;
        }
        for user in FIRST..FIRST + USERS {
            let list = flows::holds(&wire, user).await.unwrap();
            let wanted = placements.iter().filter(|p| p.user == user).count();
            assert_eq!(list.holds.len(), wanted, "cycle {cycle}: user {user}");
            assert_eq!(
                list.held,
                expected.get(&user).copied().unwrap_or(0),
                "user {user}"
            );
        }
        futures_util::stream::iter(placements.iter())
            .for_each_concurrent(8, |p| {
                let wire = &wire;
                async move {
                    let id = p.hold_id.as_deref().unwrap();
                    Call::void(id, &format!("{}-void", p.reference))
                        .send(wire)
                        .await
                        .expect_ok();
                }
            })
            .await;
        for user in FIRST..FIRST + USERS {
            assert_eq!(
                flows::view(&wire, user).await,
                Some(View {
                    credits: FUNDING,
                    held: 0,
                    available: FUNDING
                })
            );
        }
    }
    stop_and_verify(&mut server);
    eprintln!(
        "flows::kill_9_mid_hold: {CYCLES} kill -9 cycles, {sent} holds placed on {USERS} users: \
         {acked_total} acknowledged before a kill, {retried} retried ({replayed} of them \
         replays), in {:.1?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// 2. kill -9 mid-transfer
// ---------------------------------------------------------------------------------------

const TRANSFER_CYCLES: u64 = 4;
const RING: i64 = 8;
const TRANSFER_WORKERS: u64 = 8;
const FIRST_RINGER: i64 = 60_000;
const RING_FUNDING: i64 = 1_000_000;

/// One intended transfer, and its call (kept for the retry).
#[derive(Debug, Clone)]
struct Gift {
    reference: String,
    from: i64,
    to: i64,
    amount: i64,
    call: Call,
}

#[derive(Default)]
struct GiftBook {
    sent: Vec<Gift>,
    /// Reference → the acknowledged transfer id.
    acked: HashMap<String, String>,
}

/// After a restart: every transfer has both legs or neither, the ring's total is
/// conserved, every acknowledged transfer is there, nothing unknown is; returns the
/// references present (committed).
async fn check_ring(wire: &Wire, book: &GiftBook, cycle: u64) -> HashSet<String> {
    let by_ref: HashMap<&str, &Gift> = book
        .sent
        .iter()
        .map(|g| (g.reference.as_str(), g))
        .collect();
    let mut legs: HashMap<String, Vec<Record>> = HashMap::new();
    let mut total = 0;
    for ledger in ledgers(wire, FIRST_RINGER..FIRST_RINGER + RING).await {
        total += ledger.balance.unwrap_or(0);
        for r in ledger.records {
            if let Some(id) = r.transfer_id.clone() {
                legs.entry(id).or_default().push(r);
            }
        }
    }
    assert_eq!(
        total,
        RING * RING_FUNDING,
        "cycle {cycle}: the ring's total is conserved"
    );
    let mut present: HashMap<String, String> = HashMap::new();
    for (id, legs) in &legs {
        assert_eq!(legs.len(), 2, "cycle {cycle}: transfer {id} has {legs:?}");
        let (from, to) = if legs[0].change < 0 {
            (&legs[0], &legs[1])
        } else {
            (&legs[1], &legs[0])
        };
        assert_eq!(from.change, -to.change, "cycle {cycle}: transfer {id}");
        let reference = from
            .external_reference
            .clone()
            .expect("the sender's leg carries the reference");
        let gift = by_ref
            .get(reference.as_str())
            .unwrap_or_else(|| panic!("cycle {cycle}: unknown transfer {reference}"));
        assert_eq!(from.change, -gift.amount, "{reference}");
        let previous = present.insert(reference.clone(), id.clone());
        assert!(previous.is_none(), "{reference} applied twice");
    }
    for (reference, id) in &book.acked {
        assert_eq!(
            present.get(reference),
            Some(id),
            "cycle {cycle}: acknowledged transfer {reference} is gone after kill -9"
        );
    }
    present.into_keys().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_transfer_moves_each_gift_exactly_once() {
    let mut server = setup::start();
    let started = Instant::now();
    let mut rng = setup::rng(0xBEEF);
    {
        let wire = wire(&server);
        for user in FIRST_RINGER..FIRST_RINGER + RING {
            wire.fund(user, RING_FUNDING).await;
        }
    }
    let book = Arc::new(Mutex::new(GiftBook::default()));
    let (mut retried, mut replayed) = (0, 0);
    for cycle in 0..TRANSFER_CYCLES {
        let wire = wire(&server);
        let acked = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..TRANSFER_WORKERS)
            .map(|w| {
                let (wire, book, acked, done, stop) = (
                    wire.clone(),
                    book.clone(),
                    acked.clone(),
                    done.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    let mut rng = setup::rng(cycle * 100 + w);
                    let mut n = 0;
                    while !stop.load(Ordering::SeqCst) {
                        n += 1;
                        let reference = format!("t{cycle}-w{w}-{n}");
                        let from = FIRST_RINGER + rng.random_range(0..RING);
                        let to = FIRST_RINGER + (from - FIRST_RINGER + 1) % RING;
                        let amount = rng.random_range(1..=100);
                        let mut call = Call::transfer(from, to, amount, &reference);
                        let answer = call.try_send(&wire).await;
                        let mut book = book.lock().unwrap();
                        book.sent.push(Gift {
                            reference: reference.clone(),
                            from,
                            to,
                            amount,
                            call,
                        });
                        match answer {
                            Ok(reply) if reply.outcome() == (200, "ok") => {
                                let data = flows::transfer_data(&reply);
                                assert!(!data.duplicate);
                                assert_eq!(
                                    (data.from.telegram_id, data.to.telegram_id),
                                    (from, to)
                                );
                                assert_eq!((data.from.change, data.to.change), (-amount, amount));
                                book.acked.insert(reference, data.transfer_id);
                                acked.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(reply) if outcome_unknown(&reply) => {}
                            Ok(reply) => panic!("{reference}: {}", reply.text),
                            Err(_) => break,
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let target = rng.random_range(50..300);
        until_count(&acked, target, &done, TRANSFER_WORKERS as usize).await;
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.expect("worker");
        }
        server.restart();
        let wire = self::wire(&server);
        // The workers are done: the book leaves its mutex while it is checked.
        let mut taken = std::mem::take(&mut *book.lock().unwrap());
        let present = check_ring(&wire, &taken, cycle).await;

        // Retry each unacknowledged transfer with its reference and a fresh signature.
        let GiftBook { sent, acked } = &mut taken;
        for gift in sent.iter_mut() {
            if acked.contains_key(&gift.reference) {
                continue;
            }
            let reply = gift.call.send(&wire).await;
            reply.expect_ok();
            let data = flows::transfer_data(&reply);
            assert_eq!(
                data.duplicate,
                present.contains(&gift.reference),
                "cycle {cycle}: {} retried: duplicate exactly when it had committed",
                gift.reference
            );
            assert_eq!(data.amount, gift.amount);
            retried += 1;
            replayed += usize::from(data.duplicate);
            acked.insert(gift.reference.clone(), data.transfer_id);
        }
        *book.lock().unwrap() = taken;
    }

    // Every intended transfer applied exactly once: each user's balance is what the
    // transfers say, and each reference has one pair of legs.
    let wire = wire(&server);
    let book = std::mem::take(&mut *book.lock().unwrap());
    let present = check_ring(&wire, &book, TRANSFER_CYCLES).await;
    assert_eq!(present.len(), book.sent.len());
    let mut expected: HashMap<i64, i64> = (FIRST_RINGER..FIRST_RINGER + RING)
        .map(|u| (u, RING_FUNDING))
        .collect();
    for gift in &book.sent {
        *expected.get_mut(&gift.from).unwrap() -= gift.amount;
        *expected.get_mut(&gift.to).unwrap() += gift.amount;
    }
    for (user, balance) in &expected {
        let v = flows::view(&wire, *user).await.unwrap();
        assert_eq!((v.credits, v.held), (*balance, 0), "user {user}");
    }
    let sent = book.sent.len();
    stop_and_verify(&mut server);
    eprintln!(
        "flows::kill_9_mid_transfer: {TRANSFER_CYCLES} kill -9 cycles over a ring of {RING}: \
         {sent} transfers sent, {} acknowledged before a kill, {retried} retried \
         ({replayed} of them replays), in {:.1?}",
        sent - retried,
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// 3. kill -9 mid-reversal
// ---------------------------------------------------------------------------------------

const REVERSAL_CYCLES: u64 = 2;
const REVERSAL_USERS: i64 = 6;
const FIRST_REVERSER: i64 = 70_000;
/// Per user and cycle: adds of 1,000 and deducts of 200 to reverse.
const ADDS: i64 = 8;
const DEDUCTS: i64 = 4;
/// Each original gets this many reversals of 30 % of it: only three fit.
const REVERSALS_PER_RECORD: usize = 4;

#[derive(Debug, Clone)]
struct Refund {
    original: i64,
    original_change: i64,
    user: i64,
    reference: String,
    call: Call,
    /// `Some(true)`: applied, `Some(false)`: `reversal_exceeds_record`, `None`: unknown.
    answered: Option<bool>,
}

/// Sends one reversal; `None` when the outcome is unknown.
fn judge_reversal(refund: &Refund, reply: &Reply) -> Option<bool> {
    match reply.outcome() {
        (200, "ok") => {
            let data = flows::reverse_data(reply);
            assert_eq!(data.reverses, refund.original, "{}", reply.text);
            assert_eq!(data.change, -refund.original_change * 3 / 10);
            Some(true)
        }
        (409, "reversal_exceeds_record") => Some(false),
        _ if outcome_unknown(reply) => None,
        _ => panic!("{}: {}", refund.reference, reply.text),
    }
}

/// The reversals of each original never sum to more than it (nor to more than three of
/// these); returns the references present.
async fn check_reversals(wire: &Wire, refunds: &[Refund], cycle: u64) -> HashSet<String> {
    let mut reversed: HashMap<i64, (i64, usize)> = HashMap::new();
    let mut present = HashSet::new();
    let mut originals: HashMap<i64, i64> = HashMap::new();
    for ledger in ledgers(wire, FIRST_REVERSER..FIRST_REVERSER + REVERSAL_USERS).await {
        for r in &ledger.records {
            originals.insert(r.id, r.change);
            if let Some(original) = r.reverses {
                let e = reversed.entry(original).or_default();
                e.0 += r.change;
                e.1 += 1;
                present.insert(r.external_reference.clone().expect("a referenced reversal"));
            }
        }
    }
    for (original, (sum, n)) in &reversed {
        let change = originals[original];
        assert!(
            sum.signum() == -change.signum() && sum.abs() <= change.abs() && *n <= 3,
            "cycle {cycle}: record {original} ({change}) has {n} reversals summing to {sum}"
        );
    }
    for refund in refunds {
        if refund.answered == Some(true) {
            assert!(
                present.contains(&refund.reference),
                "cycle {cycle}: acknowledged reversal {} is gone after kill -9",
                refund.reference
            );
        }
    }
    present
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_mid_reversal_never_reverses_more_than_the_record() {
    let mut server = setup::start();
    let started = Instant::now();
    let mut rng = setup::rng(0xFACE);
    {
        let wire = wire(&server);
        for user in FIRST_REVERSER..FIRST_REVERSER + REVERSAL_USERS {
            // Enough that reversing the adds never meets insufficient_credits.
            wire.fund(user, 100_000).await;
        }
    }
    let mut all: Vec<Refund> = Vec::new();
    let (mut cut, mut unsent) = (0, 0);
    for cycle in 0..REVERSAL_CYCLES {
        let wire = wire(&server);
        let mut refunds = Vec::new();
        for user in FIRST_REVERSER..FIRST_REVERSER + REVERSAL_USERS {
            for k in 0..ADDS + DEDUCTS {
                let change = if k < ADDS { 1_000 } else { -200 };
                let reference = format!("o{cycle}-{user}-{k}");
                let reply = wire.sync_v2(user, change, "order", Some(&reference)).await;
                reply.expect_ok();
                let original = reply.body["data"]["record_id"].as_i64().expect("record_id");
                for j in 0..REVERSALS_PER_RECORD {
                    let reversal = format!("{reference}-rv{j}");
                    // Half name the original by id, half by the caller's reference.
                    let target = if j % 2 == 0 {
                        Ok(original)
                    } else {
                        Err(reference.as_str())
                    };
                    refunds.push(Refund {
                        original,
                        original_change: change,
                        user,
                        call: Call::reverse(target, change.abs() * 3 / 10, &reversal),
                        reference: reversal,
                        answered: None,
                    });
                }
            }
        }
        refunds.shuffle(&mut rng);
        let total = refunds.len();
        let refunds: Arc<Vec<Mutex<Refund>>> =
            Arc::new(refunds.into_iter().map(Mutex::new).collect());
        let next = Arc::new(AtomicUsize::new(0));
        let answered = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..8)
            .map(|_| {
                let (wire, refunds, next, answered, done, stop) = (
                    wire.clone(),
                    refunds.clone(),
                    next.clone(),
                    answered.clone(),
                    done.clone(),
                    stop.clone(),
                );
                tokio::spawn(async move {
                    while !stop.load(Ordering::SeqCst) {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= refunds.len() {
                            break;
                        }
                        let mut call = refunds[i].lock().unwrap().call.clone();
                        let reply = call.try_send(&wire).await;
                        let mut refund = refunds[i].lock().unwrap();
                        refund.call = call;
                        let Ok(reply) = reply else { break };
                        refund.answered = judge_reversal(&refund, &reply);
                        if refund.answered.is_some() {
                            answered.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        until_count(
            &answered,
            rng.random_range(total / 5..total * 3 / 4),
            &done,
            8,
        )
        .await;
        server.kill9();
        stop.store(true, Ordering::SeqCst);
        for w in workers {
            w.await.expect("worker");
        }
        let mut refunds: Vec<Refund> = Arc::try_unwrap(refunds)
            .expect("the workers are done")
            .into_iter()
            .map(|m| m.into_inner().unwrap())
            .collect();
        server.restart();
        let wire = self::wire(&server);
        let present = check_reversals(&wire, &refunds, cycle).await;
        for refund in refunds.iter().filter(|r| r.answered.is_none()) {
            if refund.call.attempts() == 0 {
                unsent += 1;
            } else {
                cut += 1;
            }
        }
        let unanswered = refunds.iter_mut().filter(|r| r.answered.is_none());
        futures_util::stream::iter(unanswered)
            .for_each_concurrent(8, |refund| {
                let (wire, present) = (&wire, &present);
                async move {
                    let reply = refund.call.send(wire).await;
                    refund.answered = judge_reversal(refund, &reply);
                    let committed = present.contains(&refund.reference);
                    match refund.answered {
                        Some(true) => assert_eq!(
                            reply.body["data"]["duplicate"], committed,
                            "cycle {cycle}: {} retried: duplicate exactly when it had committed",
                            refund.reference
                        ),
                        Some(false) => assert!(!committed, "{}: {}", refund.reference, reply.text),
                        None => panic!("{}: {}", refund.reference, reply.text),
                    }
                }
            })
            .await;
        let present = check_reversals(&wire, &refunds, cycle).await;
        // Exactly three reversals of each original stand, whatever the kill cut.
        let mut applied: HashMap<i64, usize> = HashMap::new();
        for refund in &refunds {
            if refund.answered == Some(true) {
                *applied.entry(refund.original).or_default() += 1;
            }
            assert_eq!(
                present.contains(&refund.reference),
                refund.answered == Some(true),
                "{}",
                refund.reference
            );
        }
        assert!(applied.values().all(|n| *n == 3), "{applied:?}");
        all.extend(refunds);
    }
    let wire = wire(&server);
    for user in FIRST_REVERSER..FIRST_REVERSER + REVERSAL_USERS {
        let per_cycle = ADDS * (1_000 - 900) + DEDUCTS * (-200 + 180);
        let credits = 100_000 + REVERSAL_CYCLES as i64 * per_cycle;
        let v = flows::view(&wire, user).await.unwrap();
        assert_eq!((v.credits, v.held), (credits, 0), "user {user}");
    }
    let users_checked: HashSet<i64> = all.iter().map(|r| r.user).collect();
    assert_eq!(users_checked.len(), REVERSAL_USERS as usize);
    stop_and_verify(&mut server);
    eprintln!(
        "flows::kill_9_mid_reversal: {REVERSAL_CYCLES} kill -9 cycles, {} reversals of {} records \
         ({} applied, {} refused reversal_exceeds_record); after the kills {cut} cut and {unsent} unsent \
         were sent again, in {:.1?}",
        all.len(),
        all.len() / REVERSALS_PER_RECORD,
        all.iter().filter(|r| r.answered == Some(true)).count(),
        all.iter().filter(|r| r.answered == Some(false)).count(),
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// 4. faults on the retries
// ---------------------------------------------------------------------------------------

/// A client timeout shorter than the proxy's stall (only the stall's client has it, so
/// a slow honest answer on a busy box is never mistaken for one).
const FAULT_TIMEOUT: Duration = Duration::from_millis(1_000);
const FAULT_STALL: Duration = Duration::from_millis(1_500);

/// `wire` with a client that gives up after [`FAULT_TIMEOUT`].
fn impatient(wire: Wire) -> Wire {
    Wire {
        http: reqwest::Client::builder()
            .no_proxy()
            .timeout(FAULT_TIMEOUT)
            .build()
            .expect("reqwest client"),
        ..wire
    }
}

/// Sends `call` through the proxy with `fault` on its first attempt, then again with the
/// same reference and a fresh signature: the retry succeeds and is a replay exactly when
/// the fault let the first attempt commit.
async fn through_fault(
    proxy: &Proxy,
    via: &Wire,
    call: &mut Call,
    fault: &Fault,
    committed: bool,
    what: &str,
) -> Reply {
    let before = proxy.exchange_count();
    proxy.push_next(fault.clone());
    match call.try_send(via).await {
        Err(_) => {}
        Ok(reply) => assert!(
            matches!(reply.status, 502 | 503),
            "{what} {fault:?}: the first attempt got {}",
            reply.text
        ),
    }
    let retry = call.send(via).await;
    assert_eq!(
        retry.outcome(),
        (200, "ok"),
        "{what} {fault:?}: {}",
        retry.text
    );
    assert_eq!(
        retry.body["data"]["duplicate"], committed,
        "{what} {fault:?}: the retry's duplicate says whether the first attempt committed"
    );
    assert_eq!(
        retry.header(credit_sync::protocol::headers::IDEMPOTENT_REPLAYED),
        committed.then_some("true"),
        "{what} {fault:?}"
    );
    assert_eq!(proxy.exchange_count() - before, 2, "{what} {fault:?}");
    retry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_flow_retried_after_each_fault_applies_once() {
    let mut server = setup::start();
    let proxy = Proxy::start(server.addr());
    let direct = wire(&server);
    let patient = Wire::new(&proxy.url(), &setup::media_bot());
    let stalled = impatient(patient.clone());
    let cases = [
        (Fault::DropResponse, true),
        (Fault::Stall(FAULT_STALL), true),
        (Fault::ResetMidRequest, false),
        (Fault::BadGateway, false),
        (Fault::Unavailable, false),
    ];
    for (n, (fault, committed)) in cases.iter().enumerate() {
        let via = if matches!(fault, Fault::Stall(_)) {
            &stalled
        } else {
            &patient
        };
        let (user, peer) = (80_000 + 10 * n as i64, 80_001 + 10 * n as i64);
        direct.fund(user, 1_000).await;
        let order = format!("fo-{n}");
        direct
            .sync_v2(user, 200, "order", Some(&order))
            .await
            .expect_ok();

        let mut hold = Call::hold(user, 100, &format!("fh-{n}"), None);
        let placed = through_fault(&proxy, via, &mut hold, fault, *committed, "hold").await;
        let hold_id = flows::hold_data(&placed).hold.hold_id;
        let list = flows::holds(&direct, user).await.unwrap();
        assert_eq!(list.holds.len(), 1, "{fault:?}: the hold once");
        assert_eq!((list.credits, list.held), (1_200, 100));

        let mut capture = Call::capture(&hold_id, Some(60), &format!("fc-{n}"));
        let captured = through_fault(&proxy, via, &mut capture, fault, *committed, "capture").await;
        assert_eq!(flows::hold_data(&captured).hold.captured, 60);

        let mut second = Call::hold(user, 50, &format!("fh2-{n}"), None);
        let second = flows::hold_data(&second.send(&direct).await).hold.hold_id;
        let mut void = Call::void(&second, &format!("fv-{n}"));
        let voided = through_fault(&proxy, via, &mut void, fault, *committed, "void").await;
        assert_eq!(flows::hold_data(&voided).hold.state, HoldState::Voided);

        let mut reverse = Call::reverse(Err(&order), 50, &format!("fr-{n}"));
        let reversed =
            through_fault(&proxy, via, &mut reverse, fault, *committed, "reversal").await;
        assert_eq!(flows::reverse_data(&reversed).remaining, 150);

        let mut transfer = Call::transfer(user, peer, 30, &format!("ft-{n}"));
        through_fault(&proxy, via, &mut transfer, fault, *committed, "transfer").await;

        // Each flow exactly once: funding, order, capture, reversal, transfer's leg.
        let ledger = Ledger::read(&direct, user).await;
        ledger.assert_consistent();
        assert_eq!(ledger.records.len(), 5, "{fault:?}: {:?}", ledger.records);
        let credits = 1_000 + 200 - 60 - 50 - 30;
        assert_eq!(
            flows::view(&direct, user).await,
            Some(View {
                credits,
                held: 0,
                available: credits
            }),
            "{fault:?}"
        );
        assert_eq!(flows::view(&direct, peer).await.unwrap().credits, 30);
        assert_eq!(direct.record_count(peer).await, 1);
    }
    proxy.settle(Duration::from_secs(5));
    stop_and_verify(&mut server);
}

// ---------------------------------------------------------------------------------------
// 5. the hold checks under concurrency
// ---------------------------------------------------------------------------------------

/// 64 concurrent captures and voids of one new hold of 500, sent round-robin to
/// `wires` (one server, or two processes on one database): exactly one resolves it, the
/// others are `hold_resolved` with its final state. Round 0 sends only captures, round 1
/// only voids, later rounds both; capture amounts vary.
async fn race_resolutions(wires: &[Wire], user: i64, round: i64) {
    const CALLS: usize = 64;
    let wire = &wires[0];
    wire.fund(user, 1_000).await;
    let mut place = Call::hold(user, 500, &format!("race-{round}"), None);
    let hold_id = flows::hold_data(&place.send(wire).await).hold.hold_id;
    let calls: Vec<Call> = (0..CALLS)
        .map(|i| {
            let reference = format!("race-{round}-{i}");
            let capture = match round {
                0 => true,
                1 => false,
                _ => i % 2 == 0,
            };
            if capture {
                let amount = (i % 4 != 0).then_some(1 + (i as i64 * 37) % 500);
                Call::capture(&hold_id, amount, &reference)
            } else {
                Call::void(&hold_id, &reference)
            }
        })
        .collect();
    let replies = join_all(calls.into_iter().enumerate().map(|(i, mut call)| {
        let wire = wires[i % wires.len()].clone();
        async move {
            let reply = call.send(&wire).await;
            (call, reply)
        }
    }))
    .await;
    let winners: Vec<&(Call, Reply)> = replies
        .iter()
        .filter(|(_, r)| r.outcome() == (200, "ok"))
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "round {round}: exactly one call resolves the hold"
    );
    let final_state = flows::hold_data(&winners[0].1);
    assert!(!final_state.duplicate);
    for (_, reply) in &replies {
        if reply.outcome() == (200, "ok") {
            continue;
        }
        assert_eq!(
            reply.outcome(),
            (409, "hold_resolved"),
            "round {round}: {}",
            reply.text
        );
        let data = flows::hold_data(reply);
        assert_eq!(
            data.hold, final_state.hold,
            "round {round}: hold_resolved carries the final state"
        );
    }
    // The winner again with its reference is its replay.
    let mut winner = winners[0].0.clone();
    let again = winner.send(wire).await;
    again.expect_ok();
    assert!(flows::hold_data(&again).duplicate);

    let captured = final_state.hold.captured;
    let ledger = Ledger::read(wire, user).await;
    ledger.assert_consistent();
    let captures: Vec<&Record> = ledger
        .records
        .iter()
        .filter(|r| r.hold_id.as_deref() == Some(hold_id.as_str()))
        .collect();
    match final_state.hold.state {
        HoldState::Captured => {
            assert_eq!(captures.len(), 1, "round {round}");
            assert_eq!(captures[0].change, -captured);
        }
        HoldState::Voided => assert!(captures.is_empty(), "round {round}"),
        other => panic!("round {round}: {other:?}"),
    }
    assert_eq!(
        flows::view(wire, user).await,
        Some(View {
            credits: 1_000 - captured,
            held: 0,
            available: 1_000 - captured
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_resolves_once_under_64_concurrent_captures_and_voids() {
    let mut server = setup::start();
    let wires = [wire(&server)];
    for round in 0..4 {
        race_resolutions(&wires, 90_000 + round, round).await;
    }
    stop_and_verify(&mut server);
}

/// One of the calls that take from `available`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Take {
    Deduct,
    Hold,
    Transfer,
}

/// A user funded with K × amount (K in 1..=40), then 96 concurrent takes of `amount`
/// from it, round-robin over `wires`, a third each deducts, holds and transfers to
/// `peer`: exactly K succeed and `available` ends at 0; voiding the holds frees them.
async fn race_takes(wires: &[Wire], user: i64, peer: i64, rng: &mut rand::rngs::StdRng) {
    const CALLS: usize = 96;
    let wire = &wires[0];
    let amount: i64 = rng.random_range(1..=1_000);
    let k: usize = rng.random_range(1..=40);
    wire.fund(user, k as i64 * amount).await;
    let calls: Vec<(Take, Call)> = (0..CALLS)
        .map(|i| {
            let reference = format!("take-{user}-{i}");
            match i % 3 {
                0 => (
                    Take::Deduct,
                    Call::new(
                        paths::SYNC,
                        &wire.change_body(user, -amount, "spend", Some(&reference)),
                    ),
                ),
                1 => (Take::Hold, Call::hold(user, amount, &reference, None)),
                _ => (
                    Take::Transfer,
                    Call::transfer(user, peer, amount, &reference),
                ),
            }
        })
        .collect();
    let replies = join_all(calls.into_iter().enumerate().map(|(i, (take, mut call))| {
        let wire = wires[i % wires.len()].clone();
        async move { (take, call.send(&wire).await) }
    }))
    .await;
    let mut won: HashMap<Take, i64> = HashMap::new();
    for (take, reply) in &replies {
        match reply.outcome() {
            (200, "ok") => *won.entry(*take).or_default() += 1,
            (409, "insufficient_credits") => {}
            _ => panic!("user {user} {take:?}: {}", reply.text),
        }
    }
    let n = |t: Take| won.get(&t).copied().unwrap_or(0);
    assert_eq!(
        (n(Take::Deduct) + n(Take::Hold) + n(Take::Transfer)) as usize,
        k,
        "user {user}: exactly {k} of {CALLS} fit in the available {}",
        k as i64 * amount
    );
    let spent = (n(Take::Deduct) + n(Take::Transfer)) * amount;
    let held = n(Take::Hold) * amount;
    let credits = k as i64 * amount - spent;
    assert_eq!(
        flows::view(wire, user).await,
        Some(View {
            credits,
            held,
            available: 0
        }),
        "user {user}"
    );
    let ledger = Ledger::read(wire, user).await;
    ledger.assert_consistent();
    assert_eq!(
        ledger.records.len() as i64,
        1 + n(Take::Deduct) + n(Take::Transfer)
    );
    assert_eq!(
        flows::view(wire, peer)
            .await
            .map(|v| v.credits)
            .unwrap_or(0),
        n(Take::Transfer) * amount
    );
    // Releasing the holds makes them available again.
    let list = flows::holds(wire, user).await.unwrap();
    assert_eq!(list.holds.len() as i64, n(Take::Hold));
    for (i, h) in list.holds.iter().enumerate() {
        Call::void(&h.hold_id, &format!("release-{user}-{i}"))
            .send(wire)
            .await
            .expect_ok();
    }
    assert_eq!(
        flows::view(wire, user).await,
        Some(View {
            credits,
            held: 0,
            available: credits
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deducts_holds_and_transfers_racing_never_overdraw_available() {
    let mut server = setup::start();
    let wires = [wire(&server)];
    let mut rng = setup::rng(0xACE);
    for round in 0..6 {
        race_takes(&wires, 91_000 + round, 92_000 + round, &mut rng).await;
    }
    stop_and_verify(&mut server);
}

/// The same races across two server processes on one PostgreSQL database, each call
/// sent to one or the other: the checks hold across processes (issue 13: "under any
/// concurrency and across processes").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_database_keep_the_hold_checks() {
    let mut first = setup::start();
    if !first.is_postgres() {
        eprintln!("skipped: two processes share a database only on PostgreSQL");
        return;
    }
    let mut second = Server::start(setup::config().database(first.database_url()));
    let wires = [wire(&first), wire(&second)];
    for round in 0..4 {
        race_resolutions(&wires, 94_000 + round, round).await;
    }
    let mut rng = setup::rng(0xD0E);
    for round in 0..4 {
        race_takes(&wires, 95_000 + round, 96_000 + round, &mut rng).await;
    }
    second.stop();
    stop_and_verify(&mut first);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_cannot_be_captured_and_no_longer_counts() {
    let mut server = setup::start();
    let wire = wire(&server);
    // A user at the limit of open holds: all but the last long-lived, the last expiring
    // 2 s after it was placed (placing a hundred holds may take longer than that on a
    // loaded machine, so only the last one's time matters).
    let crowded = 93_002;
    wire.fund(crowded, 1_000).await;
    let limit = credit_sync::protocol::limits::MAX_OPEN_HOLDS_PER_USER;
    futures_util::stream::iter(0..limit - 1)
        .for_each_concurrent(8, |i| {
            let wire = &wire;
            async move {
                Call::hold(crowded, 1, &format!("crowd-{i}"), None)
                    .send(wire)
                    .await
                    .expect_ok();
            }
        })
        .await;
    Call::hold(crowded, 1, "crowd-last", Some(2))
        .send(&wire)
        .await
        .expect_ok();
    // Taken after the answer, so the server placed it no later than this.
    let crowd_placed = Instant::now();
    let refused = Call::hold(crowded, 1, "one-too-many", None)
        .send(&wire)
        .await;
    assert_eq!(
        refused.outcome(),
        (409, "too_many_holds"),
        "{}",
        refused.text
    );

    let user = 93_000;
    wire.fund(user, 100).await;
    // Short holds live 3 s: long enough for the checks below on a loaded machine.
    let mut short = Call::hold(user, 40, "short", Some(3));
    let hold_id = flows::hold_data(&short.send(&wire).await).hold.hold_id;
    let mut long = Call::hold(user, 50, "long", None);
    long.send(&wire).await.expect_ok();
    assert_eq!(
        flows::view(&wire, user).await,
        Some(View {
            credits: 100,
            held: 90,
            available: 10
        })
    );
    wire.sync_v2(user, -11, "spend", Some("too-much"))
        .await
        .expect_error(409, "insufficient_credits");
    // A short hold captured in time: its capture stays a capture after the expiry.
    let in_time = 93_001;
    wire.fund(in_time, 100).await;
    let mut quick = Call::hold(in_time, 30, "quick", Some(3));
    let quick_id = flows::hold_data(&quick.send(&wire).await).hold.hold_id;
    let mut quick_capture = Call::capture(&quick_id, Some(20), "quick-capture");
    quick_capture.send(&wire).await.expect_ok();
    // Both short holds were placed before this answer came.
    let shorts_placed = Instant::now();
    // Past the short holds' expiry, and the crowd's.
    tokio::time::sleep_until((shorts_placed + Duration::from_millis(3_100)).into()).await;
    tokio::time::sleep_until((crowd_placed + Duration::from_millis(2_100)).into()).await;
    // Expired before any sweeper ran: it no longer counts...
    assert_eq!(
        flows::view(&wire, user).await,
        Some(View {
            credits: 100,
            held: 50,
            available: 50
        })
    );
    let list = flows::holds(&wire, user).await.unwrap();
    assert_eq!(list.holds.len(), 1);
    assert_ne!(list.holds[0].hold_id, hold_id);
    // ...and cannot be captured or voided: hold_resolved, state expired.
    for mut call in [
        Call::capture(&hold_id, None, "late-capture"),
        Call::capture(&hold_id, Some(1), "late-part"),
        Call::void(&hold_id, "late-void"),
    ] {
        let reply = call.send(&wire).await;
        assert_eq!(reply.outcome(), (409, "hold_resolved"), "{}", reply.text);
        let data = flows::hold_data(&reply);
        assert_eq!(data.hold.state, HoldState::Expired, "{}", reply.text);
        assert_eq!((data.hold.captured, data.hold.record_id), (0, None));
    }
    // The expired hold's own reference replays it, as it is now.
    let replay = short.send(&wire).await;
    replay.expect_ok();
    let data = flows::hold_data(&replay);
    assert!(data.duplicate, "{}", replay.text);
    assert_eq!(data.hold.state, HoldState::Expired, "{}", replay.text);
    // A capture made in time is still a capture (and its replay) after the expiry.
    let replay = quick_capture.send(&wire).await;
    replay.expect_ok();
    let data = flows::hold_data(&replay);
    assert!(data.duplicate, "{}", replay.text);
    assert_eq!(
        (data.hold.state, data.hold.captured),
        (HoldState::Captured, 20),
        "{}",
        replay.text
    );
    assert_eq!(flows::view(&wire, in_time).await.unwrap().credits, 80);
    // An expired hold is not open: the crowded user may hold again.
    assert_eq!(
        flows::holds(&wire, crowded).await.unwrap().holds.len(),
        limit - 1
    );
    let again = Call::hold(crowded, 1, "after-the-crowd", None)
        .send(&wire)
        .await;
    assert_eq!(again.outcome(), (200, "ok"), "{}", again.text);
    // Its credits are available again: a deduct of them succeeds.
    wire.sync_v2(user, -50, "spend", Some("freed"))
        .await
        .expect_ok();
    let ledger = Ledger::read(&wire, user).await;
    ledger.assert_consistent();
    assert_eq!(ledger.records.len(), 2, "no capture record");
    assert_eq!(
        flows::view(&wire, user).await,
        Some(View {
            credits: 50,
            held: 50,
            available: 0
        })
    );
    stop_and_verify(&mut server);
}

/// 64 copies of one call with one reference sent at once, each signed at its own second
/// (as 64 honest retries would be): all succeed, exactly one is the original and 63
/// replay it, all naming the same hold, record or transfer.
async fn copies_at_once(wire: &Wire, call: &Call) -> Vec<Reply> {
    const COPIES: i64 = 64;
    let now = credit_sync_testkit::now();
    let replies = join_all((0..COPIES).map(|i| {
        let (wire, mut call) = (wire.clone(), call.clone());
        async move {
            call.try_send_at(&wire, now - i)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", call.path))
        }
    }))
    .await;
    for reply in &replies {
        assert_eq!(
            reply.outcome(),
            (200, "ok"),
            "{}: {}",
            call.path,
            reply.text
        );
    }
    let originals = replies
        .iter()
        .filter(|r| r.body["data"]["duplicate"] == false)
        .count();
    assert_eq!(
        originals, 1,
        "{}: exactly one copy is the original",
        call.path
    );
    replies
}

/// The same value in every reply.
fn one_value(replies: &[Reply], pointer: &str) -> serde_json::Value {
    let first = replies[0]
        .body
        .pointer(pointer)
        .cloned()
        .unwrap_or_default();
    assert!(!first.is_null(), "{pointer}: {}", replies[0].text);
    for r in replies {
        assert_eq!(
            r.body.pointer(pointer),
            Some(&first),
            "{pointer}: {}",
            r.text
        );
    }
    first
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_reference_one_flow_under_64_concurrent_copies() {
    let mut server = setup::start();
    let wire = wire(&server);
    let (user, peer) = (97_000, 97_001);
    wire.fund(user, 10_000).await;
    wire.sync_v2(user, 1_000, "order", Some("copied-order"))
        .await
        .expect_ok();

    let placed = copies_at_once(&wire, &Call::hold(user, 300, "copied-hold", None)).await;
    let hold_id = one_value(&placed, "/data/hold/hold_id");
    let hold_id = hold_id.as_str().unwrap();
    let open = flows::holds(&wire, user).await.unwrap();
    assert_eq!((open.holds.len(), open.held), (1, 300), "one hold");

    let captured =
        copies_at_once(&wire, &Call::capture(hold_id, Some(120), "copied-capture")).await;
    one_value(&captured, "/data/hold/record_id");

    let second = copies_at_once(&wire, &Call::hold(user, 200, "copied-hold-2", None)).await;
    let second = one_value(&second, "/data/hold/hold_id");
    let voided = copies_at_once(&wire, &Call::void(second.as_str().unwrap(), "copied-void")).await;
    assert_eq!(one_value(&voided, "/data/hold/state"), "voided");

    let reversed = copies_at_once(
        &wire,
        &Call::reverse(Err("copied-order"), 400, "copied-reversal"),
    )
    .await;
    one_value(&reversed, "/data/record_id");
    assert_eq!(one_value(&reversed, "/data/remaining"), 600);

    let moved = copies_at_once(&wire, &Call::transfer(user, peer, 250, "copied-gift")).await;
    one_value(&moved, "/data/transfer_id");

    // Each once: funding, order, capture, reversal, transfer's leg.
    let ledger = Ledger::read(&wire, user).await;
    ledger.assert_consistent();
    assert_eq!(ledger.records.len(), 5, "{:?}", ledger.records);
    let credits = 10_000 + 1_000 - 120 - 400 - 250;
    assert_eq!(
        flows::view(&wire, user).await,
        Some(View {
            credits,
            held: 0,
            available: credits
        })
    );
    assert_eq!(flows::view(&wire, peer).await.unwrap().credits, 250);
    assert_eq!(wire.record_count(peer).await, 1);
    stop_and_verify(&mut server);
}

// ---------------------------------------------------------------------------------------
// 4b. faults on the SDK's own retries
// ---------------------------------------------------------------------------------------

/// One money-flow call of the SDK; `None` references let the SDK make its own.
#[derive(Debug, Clone)]
enum SdkFlow {
    Hold(i64, i64, Option<String>),
    Capture(String, Option<i64>, Option<String>),
    Void(String, Option<String>),
    /// Reverse `amount` of the record with this caller's reference.
    Reverse(String, i64, Option<String>),
    Transfer(i64, i64, i64, Option<String>),
}

/// What the test needs of a flow's result: it succeeded, was it a replay, how many
/// attempts it took, and the hold it names.
#[derive(Debug)]
struct SdkDone {
    duplicate: bool,
    attempts: u32,
    hold_id: Option<String>,
    reference: Option<String>,
    /// The user's (the sender's) `credits` in the answer.
    credits: i64,
}

/// The [`SdkDone`] of a flow's result, which must have succeeded.
macro_rules! sdk_done {
    ($flow:expr, $result:expr, $hold_id:expr, $credits:expr) => {{
        let r = $result.unwrap_or_else(|e| panic!("{:?}: {e:?}", $flow));
        assert!(r.success, "{:?}: {r:?}", $flow);
        SdkDone {
            duplicate: r.duplicate(),
            attempts: r.attempts,
            hold_id: r.data.as_ref().and_then($hold_id),
            reference: r.reference.clone(),
            credits: r.data.as_ref().map($credits).expect("data"),
        }
    }};
}

fn no_hold<T>(_: &T) -> Option<String> {
    None
}

fn hold_of(data: &HoldData) -> Option<String> {
    Some(data.hold.hold_id.clone())
}

async fn run_async(client: &credit_sync::Client, flow: &SdkFlow) -> SdkDone {
    match flow {
        SdkFlow::Hold(user, amount, r) => sdk_done!(
            flow,
            client
                .hold_credits(*user, *amount, "job", r.as_deref(), None)
                .await,
            hold_of,
            |d: &HoldData| d.credits
        ),
        SdkFlow::Capture(id, amount, r) => sdk_done!(
            flow,
            client.capture_hold(id, *amount, r.as_deref()).await,
            hold_of,
            |d: &HoldData| d.credits
        ),
        SdkFlow::Void(id, r) => sdk_done!(
            flow,
            client.void_hold(id, r.as_deref()).await,
            hold_of,
            |d: &HoldData| d.credits
        ),
        SdkFlow::Reverse(original, amount, r) => sdk_done!(
            flow,
            client
                .reverse_record(
                    credit_sync::Original::Reference(original.clone()),
                    Some(*amount),
                    "refund",
                    r.as_deref()
                )
                .await,
            no_hold,
            |d: &credit_sync::protocol::ReverseData| d.balance
        ),
        SdkFlow::Transfer(from, to, amount, r) => sdk_done!(
            flow,
            client
                .transfer_credits(*from, *to, *amount, "gift", r.as_deref())
                .await,
            no_hold,
            |d: &credit_sync::protocol::TransferData| d.from.balance
        ),
    }
}

fn run_blocking(client: &credit_sync::blocking::Client, flow: &SdkFlow) -> SdkDone {
    match flow {
        SdkFlow::Hold(user, amount, r) => sdk_done!(
            flow,
            client.hold_credits(*user, *amount, "job", r.as_deref(), None),
            hold_of,
            |d: &HoldData| d.credits
        ),
        SdkFlow::Capture(id, amount, r) => sdk_done!(
            flow,
            client.capture_hold(id, *amount, r.as_deref()),
            hold_of,
            |d: &HoldData| d.credits
        ),
        SdkFlow::Void(id, r) => sdk_done!(
            flow,
            client.void_hold(id, r.as_deref()),
            hold_of,
            |d: &HoldData| d.credits
        ),
        SdkFlow::Reverse(original, amount, r) => sdk_done!(
            flow,
            client.reverse_record(
                credit_sync::Original::Reference(original.clone()),
                Some(*amount),
                "refund",
                r.as_deref()
            ),
            no_hold,
            |d: &credit_sync::protocol::ReverseData| d.balance
        ),
        SdkFlow::Transfer(from, to, amount, r) => sdk_done!(
            flow,
            client.transfer_credits(*from, *to, *amount, "gift", r.as_deref()),
            no_hold,
            |d: &credit_sync::protocol::TransferData| d.from.balance
        ),
    }
}

/// The SDK's clients through the proxy: async, or blocking (run on a thread of its own:
/// it refuses to run inside a tokio runtime).
enum Sdk {
    Async(credit_sync::Client),
    Blocking(credit_sync::blocking::Client),
}

impl Sdk {
    fn new(blocking: bool, proxy: &Proxy, timeout: Duration) -> Sdk {
        // Attempts give up after `timeout`; retries are not rationed (faults on purpose).
        let config = setup::sdk_builder(&proxy.url(), &setup::media_bot())
            .attempt_timeout(timeout)
            .timeout(timeout * 30)
            .disable_retry_budget()
            .max_retries(12)
            .build()
            .unwrap();
        if blocking {
            Sdk::Blocking(credit_sync::blocking::Client::new(config).unwrap())
        } else {
            Sdk::Async(credit_sync::Client::new(config).unwrap())
        }
    }

    async fn run(&self, flow: &SdkFlow) -> SdkDone {
        match self {
            Sdk::Async(client) => run_async(client, flow).await,
            Sdk::Blocking(client) => {
                let (client, flow) = (client.clone(), flow.clone());
                tokio::task::spawn_blocking(move || {
                    std::thread::spawn(move || run_blocking(&client, &flow))
                        .join()
                        .expect("the blocking call's thread")
                })
                .await
                .expect("spawn_blocking")
            }
        }
    }
}

/// Each fault once, on the first attempt of each money flow the SDK sends, with the
/// caller's reference and with the SDK's own: the SDK's retry (the same reference, signed
/// afresh) succeeds on the second attempt and is a replay exactly when the first attempt
/// had committed.
async fn sdk_each_fault_once_then_the_retry(blocking: bool) {
    let mut server = setup::start();
    let proxy = Proxy::start(server.addr());
    let direct = wire(&server);
    let patient = Sdk::new(blocking, &proxy, Duration::from_secs(5));
    let impatient = Sdk::new(blocking, &proxy, FAULT_TIMEOUT);
    let cases = [
        (Fault::DropResponse, true),
        (Fault::Stall(FAULT_STALL), true),
        (Fault::ResetMidRequest, false),
        (Fault::BadGateway, false),
        (Fault::Unavailable, false),
    ];
    let base = if blocking { 86_000 } else { 85_000 };
    let mut calls = 0;
    for (n, (fault, committed)) in cases.iter().enumerate() {
        let sdk = if matches!(fault, Fault::Stall(_)) {
            &impatient
        } else {
            &patient
        };
        {
            let tag = format!("{}-{n}", u8::from(blocking));
            // The caller's reference on every other flow, the SDK's own on the others,
            // alternating from one fault to the next.
            let mut k = n;
            let mut reference = |what: &str| {
                k += 1;
                k.is_multiple_of(2).then(|| format!("s{what}-{tag}"))
            };
            let user = base + 10 * n as i64;
            let peer = user + 1;
            direct.fund(user, 1_000).await;
            let order = format!("so-{tag}");
            direct
                .sync_v2(user, 200, "order", Some(&order))
                .await
                .expect_ok();
            let mut through = async |flow: SdkFlow| {
                let caller_reference = match &flow {
                    SdkFlow::Hold(_, _, r)
                    | SdkFlow::Capture(_, _, r)
                    | SdkFlow::Void(_, r)
                    | SdkFlow::Reverse(_, _, r)
                    | SdkFlow::Transfer(_, _, _, r) => r.is_some(),
                };
                let before = proxy.exchange_count();
                proxy.push_next(fault.clone());
                let done = sdk.run(&flow).await;
                calls += 1;
                assert_eq!(
                    done.duplicate, *committed,
                    "{fault:?} {flow:?}: the retry's duplicate says whether the first attempt committed"
                );
                assert_eq!(
                    done.attempts, 2,
                    "{fault:?} {flow:?}: one faulty attempt, one retry"
                );
                assert_eq!(proxy.exchange_count() - before, 2, "{fault:?} {flow:?}");
                if !caller_reference {
                    let auto = done.reference.as_deref().unwrap_or("");
                    assert!(auto.starts_with("auto-"), "{flow:?}: {auto}");
                }
                done
            };
            let hold = through(SdkFlow::Hold(user, 100, reference("h"))).await;
            let hold_id = hold.hold_id.expect("the hold's id");
            through(SdkFlow::Capture(hold_id, Some(60), reference("c"))).await;
            let second = patient.run(&SdkFlow::Hold(user, 50, reference("h2"))).await;
            through(SdkFlow::Void(second.hold_id.unwrap(), reference("v"))).await;
            through(SdkFlow::Reverse(order.clone(), 50, reference("r"))).await;
            through(SdkFlow::Transfer(user, peer, 30, reference("t"))).await;

            let ledger = Ledger::read(&direct, user).await;
            ledger.assert_consistent();
            assert_eq!(ledger.records.len(), 5, "{fault:?}: {:?}", ledger.records);
            let credits = 1_000 + 200 - 60 - 50 - 30;
            assert_eq!(
                flows::view(&direct, user).await,
                Some(View {
                    credits,
                    held: 0,
                    available: credits
                }),
                "{fault:?}"
            );
            assert!(flows::holds(&direct, user).await.unwrap().holds.is_empty());
            assert_eq!(flows::view(&direct, peer).await.unwrap().credits, 30);
        }
    }
    proxy.settle(Duration::from_secs(5));
    stop_and_verify(&mut server);
    eprintln!("flows::sdk_each_fault (blocking: {blocking}): {calls} SDK flows, each faulted once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_each_flow_after_each_fault_retries_once_async() {
    sdk_each_fault_once_then_the_retry(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_each_flow_after_each_fault_retries_once_blocking() {
    sdk_each_fault_once_then_the_retry(true).await;
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// One task's user, and what its flows must have left.
#[derive(Debug, Default)]
struct FlowBook {
    user: i64,
    peer: i64,
    credits: i64,
    captured: i64,
    captures: usize,
    transferred: i64,
    transfers: usize,
    reversed: i64,
    reversals: usize,
    replays: usize,
}

impl FlowBook {
    /// The next round's flows: a hold, then its capture (in part) or void, a transfer to
    /// the peer, a reversal of 10 of the order; the SDK makes every other reference.
    fn round(&mut self, round: usize, rng: &mut rand::rngs::StdRng) -> [SdkFlow; 3] {
        let reference = |what: &str| {
            round
                .is_multiple_of(2)
                .then(|| format!("l{what}-{}-{round}", self.user))
        };
        [
            SdkFlow::Hold(self.user, rng.random_range(2..=100), reference("h")),
            SdkFlow::Transfer(
                self.user,
                self.peer,
                rng.random_range(1..=50),
                reference("t"),
            ),
            SdkFlow::Reverse(format!("lo-{}", self.user), 10, reference("r")),
        ]
    }
}

/// A flow's answer carries the balance the book expects (each user's flows run one at a
/// time, so it is known), and the book counts what it applied.
fn book_flow(book: &mut FlowBook, flow: &SdkFlow, done: &SdkDone, credits: i64) {
    assert_eq!(
        done.credits, credits,
        "user {}: {flow:?} answered another balance",
        book.user
    );
    book.replays += usize::from(done.duplicate);
    match flow {
        SdkFlow::Capture(_, Some(a), _) => {
            book.captured += a;
            book.captures += 1;
        }
        SdkFlow::Transfer(_, _, a, _) => {
            book.transferred += a;
            book.transfers += 1;
        }
        SdkFlow::Reverse(_, a, _) => {
            book.reversed += a;
            book.reversals += 1;
        }
        _ => {}
    }
    book.credits = credits;
}

/// Money flows through a fault schedule on the SDK's retries: every flow is applied
/// exactly once and every answer's balance is the expected one.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sdk_flows_through_faults_apply_exactly_once() {
    const TASKS: i64 = 12;
    const BLOCKING_TASKS: i64 = 3;
    const ROUNDS: usize = 20;
    const FUNDING: i64 = 100_000;
    const ORDER: i64 = 10_000;
    let mut server = setup::start();
    let proxy = Arc::new(Proxy::start(server.addr()));
    let direct = wire(&server);
    for t in 0..TASKS {
        let user = 87_000 + t;
        direct.fund(user, FUNDING).await;
        direct
            .sync_v2(user, ORDER, "order", Some(&format!("lo-{user}")))
            .await
            .expect_ok();
    }
    // About one request in five meets a fault; one in 250 stalls past the timeout.
    proxy.set_schedule(credit_sync_testkit::Schedule::from_fn(|i| {
        let h = splitmix(i);
        if h.is_multiple_of(250) {
            return Fault::Stall(FAULT_STALL);
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
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let sdk = Arc::new(Sdk::new(t < BLOCKING_TASKS, &proxy, FAULT_TIMEOUT));
            let (sdk, _proxy) = (sdk.clone(), proxy.clone());
            tokio::spawn(async move {
                let user = 87_000 + t;
                let mut book = FlowBook {
                    user,
                    peer: 88_000 + t,
                    credits: FUNDING + ORDER,
                    ..FlowBook::default()
                };
                let mut rng = setup::rng(t as u64);
                for round in 0..ROUNDS {
                    let [hold, transfer, reverse] = book.round(round, &mut rng);
                    let placed = sdk.run(&hold).await;
                    let credits = book.credits;
                    book_flow(&mut book, &hold, &placed, credits);
                    let SdkFlow::Hold(_, amount, _) = hold else {
                        unreachable!()
                    };
                    let hold_id = placed.hold_id.expect("the hold's id");
                    let r = |w: &str| {
                        round
                            .is_multiple_of(3)
                            .then(|| format!("l{w}-{user}-{round}"))
                    };
                    let resolve = if round % 4 == 3 {
                        SdkFlow::Void(hold_id, r("v"))
                    } else {
                        SdkFlow::Capture(hold_id, Some(rng.random_range(1..=amount)), r("c"))
                    };
                    let done = sdk.run(&resolve).await;
                    let after = match resolve {
                        SdkFlow::Capture(_, Some(a), _) => book.credits - a,
                        _ => book.credits,
                    };
                    book_flow(&mut book, &resolve, &done, after);
                    let done = sdk.run(&transfer).await;
                    let SdkFlow::Transfer(_, _, a, _) = transfer else {
                        unreachable!()
                    };
                    let credits = book.credits - a;
                    book_flow(&mut book, &transfer, &done, credits);
                    let done = sdk.run(&reverse).await;
                    let credits = book.credits - 10;
                    book_flow(&mut book, &reverse, &done, credits);
                }
                book
            })
        })
        .collect();
    let mut books = Vec::new();
    for t in tasks {
        books.push(t.await.expect("flow task"));
    }
    let elapsed = started.elapsed();
    let mut flows_sent = 0;
    let mut replays = 0;
    for book in &books {
        let ledger = Ledger::read(&direct, book.user).await;
        ledger.assert_consistent();
        assert_eq!(
            ledger.records.len(),
            2 + book.captures + book.transfers + book.reversals,
            "user {}: every flow exactly once",
            book.user
        );
        let credits = FUNDING + ORDER - book.captured - book.transferred - book.reversed;
        assert_eq!(book.credits, credits);
        assert_eq!(
            flows::view(&direct, book.user).await,
            Some(View {
                credits,
                held: 0,
                available: credits
            }),
            "user {}",
            book.user
        );
        assert!(flows::holds(&direct, book.user)
            .await
            .unwrap()
            .holds
            .is_empty());
        assert_eq!(
            flows::view(&direct, book.peer).await.unwrap().credits,
            book.transferred
        );
        flows_sent += 4 * ROUNDS;
        replays += book.replays;
    }
    proxy.settle(Duration::from_secs(5));
    let exchanges = proxy.exchanges();
    let faulted = exchanges.iter().filter(|e| e.fault != Fault::Pass).count();
    for fault in [
        Fault::DropResponse,
        Fault::ResetMidRequest,
        Fault::BadGateway,
        Fault::Unavailable,
    ] {
        assert!(
            proxy.count(&fault) >= 2,
            "{fault:?}: {}",
            proxy.count(&fault)
        );
    }
    stop_and_verify(&mut server);
    eprintln!(
        "flows::sdk_through_faults: {flows_sent} SDK flows ({TASKS} users, {BLOCKING_TASKS} on \
         blocking clients) = {} requests, {faulted} faulted (drop {}, reset {}, 502 {}, 503 {}, \
         stall {}); {replays} answers were replays; in {elapsed:.1?}",
        exchanges.len(),
        proxy.count(&Fault::DropResponse),
        proxy.count(&Fault::ResetMidRequest),
        proxy.count(&Fault::BadGateway),
        proxy.count(&Fault::Unavailable),
        proxy.count(&Fault::Stall(FAULT_STALL)),
    );
}
