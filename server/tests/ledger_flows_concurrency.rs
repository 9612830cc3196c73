//! The money flows under concurrency, driven through the `LedgerBackend` trait on the
//! suite's backend (a SQLite file, or a fresh PostgreSQL database with
//! `CREDIT_SYNC_TEST_BACKEND=postgres`): a hold resolves once, `available` never goes
//! below zero, opposite transfers do not deadlock, reversals never exceed their record,
//! twins with one reference apply once, and `verify` finds nothing after each.

mod support;

use credit_sync::protocol::Code;
use credit_sync_server::ledger::rows::Findings;
use credit_sync_server::ledger::{
    Actor, Change, HoldApplied, LedgerBackend, NewHold, Resolution, Resolve, Reversal, Target,
    Transfer,
};
use futures_util::future::join_all;
use std::future::Future;
use std::time::Duration;

use support::backend::{fresh, SOURCE};
/// Longer than any honest run; a deadlock or a lost wake-up fails the test instead of
/// hanging the suite.
const BOUND: Duration = Duration::from_secs(120);

fn actor() -> Actor {
    Actor {
        source: SOURCE.into(),
        auto_register: true,
        admin: false,
    }
}

fn change(telegram_id: i64, amount: i64) -> Change {
    Change {
        telegram_id,
        amount,
        reason: "test".into(),
        reference: None,
    }
}

fn new_hold(telegram_id: i64, amount: i64, reference: Option<&str>) -> NewHold {
    NewHold {
        telegram_id,
        amount,
        reason: "job".into(),
        reference: reference.map(str::to_string),
        ttl_secs: 600,
    }
}

fn resolve(hold_id: &str, resolution: Resolution) -> Resolve {
    Resolve {
        hold_id: hold_id.to_string(),
        resolution,
        reference: None,
    }
}

fn transfer(from: i64, to: i64, amount: i64, reference: Option<&str>) -> Transfer {
    Transfer {
        from,
        to,
        amount,
        reason: "gift".into(),
        reference: reference.map(str::to_string),
    }
}

fn reversal(record_id: i64, amount: i64, reference: Option<&str>) -> Reversal {
    Reversal {
        target: Target::Record(record_id),
        amount: Some(amount),
        reason: "refund".into(),
        reference: reference.map(str::to_string),
    }
}

/// `n` copies of `call`, all at once, each bounded by [`BOUND`].
async fn all_at_once<T, F, Fut>(n: usize, call: F) -> Vec<T>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T>,
{
    let calls = (0..n).map(|i| {
        let call = call(i);
        async move {
            tokio::time::timeout(BOUND, call)
                .await
                .expect("a call hung (deadlock?)")
        }
    });
    join_all(calls).await
}

async fn add(ledger: &impl LedgerBackend, telegram_id: i64, amount: i64) -> i64 {
    ledger
        .apply(actor(), change(telegram_id, amount), fresh())
        .await
        .unwrap()
        .unwrap()
        .record_id
}

async fn place(ledger: &impl LedgerBackend, hold: NewHold) -> HoldApplied {
    ledger
        .place_hold(actor(), hold, fresh())
        .await
        .unwrap()
        .unwrap()
}

async fn credits(ledger: &impl LedgerBackend, telegram_id: i64) -> i64 {
    ledger.balance(telegram_id).await.unwrap().unwrap().credits
}

async fn assert_sound(ledger: &impl LedgerBackend) {
    assert_eq!(ledger.verify().await.unwrap(), Findings::default());
}

/// Blnk PR #43 (a hold voided twice): 64 captures and voids of one hold at once; exactly
/// one resolves it, the others see it resolved, and at most one record is written.
async fn a_hold_resolves_once(ledger: &impl LedgerBackend) {
    add(ledger, 1, 100).await;
    let hold = place(ledger, new_hold(1, 40, None)).await;
    let hold_id = hold.hold.hold_id.clone();
    let outcomes = all_at_once(64, |i| {
        let (ledger, hold_id) = (ledger.clone(), hold_id.clone());
        async move {
            let resolution = match i % 3 {
                0 => Resolution::Void,
                1 => Resolution::Capture { amount: None },
                _ => Resolution::Capture { amount: Some(25) },
            };
            ledger
                .resolve_hold(actor(), resolve(&hold_id, resolution), fresh())
                .await
                .unwrap()
        }
    })
    .await;
    let won: Vec<&HoldApplied> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{outcomes:?}");
    let won = won[0];
    assert!(!won.duplicate);
    for refusal in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refusal.code, Code::HoldResolved, "{refusal:?}");
        let resolved = refusal.hold.as_ref().expect("the hold's final state");
        assert_eq!(resolved.hold.state, won.hold.state);
        assert_eq!(resolved.hold.captured, won.hold.captured);
    }
    let records = ledger.records(1, i64::MAX, 10).await.unwrap();
    let captures: Vec<_> = records.iter().filter(|r| r.hold_id.is_some()).collect();
    let charged = won.hold.captured;
    match won.hold.state.as_str() {
        "voided" => assert!(captures.is_empty() && charged == 0),
        "captured" => {
            assert_eq!(captures.len(), 1);
            assert_eq!(captures[0].change, -charged);
            assert_eq!(won.hold.record_id, Some(captures[0].id));
        }
        other => panic!("resolved as {other}"),
    }
    assert_eq!((won.credits, won.held), (100 - charged, 0));
    let (balance, open) = ledger.holds(1).await.unwrap().unwrap();
    assert_eq!((balance.credits, balance.held), (100 - charged, 0));
    assert!(open.is_empty());
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_resolves_once_under_64_concurrent_captures_and_voids() {
    on_each_backend!(a_hold_resolves_once);
}

/// Blnk #181 (holds not counted in the balance check): 64 deducts and holds at once on
/// one user never take more than the credits between them.
async fn deducts_and_holds_never_overdraw(ledger: &impl LedgerBackend) {
    add(ledger, 2, 100).await;
    let outcomes = all_at_once(64, |i| {
        let ledger = ledger.clone();
        async move {
            if i % 2 == 0 {
                let outcome = ledger.apply(actor(), change(2, -7), fresh()).await.unwrap();
                ("deduct", outcome.map(|_| 7).map_err(|r| r.code))
            } else {
                let outcome = ledger
                    .place_hold(actor(), new_hold(2, 5, None), fresh())
                    .await
                    .unwrap();
                ("hold", outcome.map(|_| 5).map_err(|r| r.code))
            }
        }
    })
    .await;
    let taken = |kind: &str| -> i64 {
        outcomes
            .iter()
            .filter(|(k, _)| *k == kind)
            .filter_map(|(_, o)| o.as_ref().ok())
            .sum()
    };
    let (deducted, held) = (taken("deduct"), taken("hold"));
    assert!(deducted + held <= 100, "{outcomes:?}");
    // Each refusal was for want of credits, and the last one standing could not fit.
    for (_, outcome) in &outcomes {
        if let Err(code) = outcome {
            assert_eq!(*code, Code::InsufficientCredits, "{outcomes:?}");
        }
    }
    if outcomes.iter().any(|(_, o)| o.is_err()) {
        assert!(
            100 - deducted - held < 7,
            "refused with credits left: {outcomes:?}"
        );
    }
    let (balance, open) = ledger.holds(2).await.unwrap().unwrap();
    assert_eq!(balance.credits, 100 - deducted);
    assert_eq!(balance.held, held);
    assert_eq!(open.iter().map(|h| h.amount).sum::<i64>(), held);
    assert!(balance.credits - balance.held >= 0);
    // The holds still count: what is left available is all a deduct can take.
    let left = balance.credits - balance.held;
    let over = ledger
        .apply(actor(), change(2, -(left + 1)), fresh())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(over.code, Code::InsufficientCredits);
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_deducts_and_holds_never_take_available_below_zero() {
    on_each_backend!(deducts_and_holds_never_overdraw);
}

/// A hold past its expiry stops counting under concurrency too: deducts that race for
/// the credits it held settle it once, and `held` stays the sum of the open holds.
async fn expired_holds_stop_counting(ledger: &impl LedgerBackend) {
    add(ledger, 3, 100).await;
    let short = NewHold {
        ttl_secs: 2,
        ..new_hold(3, 100, None)
    };
    place(ledger, short).await;
    let refused = ledger
        .apply(actor(), change(3, -1), fresh())
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.code, Code::InsufficientCredits);
    tokio::time::sleep(Duration::from_millis(2_200)).await;
    let outcomes = all_at_once(16, |_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .apply(actor(), change(3, -10), fresh())
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        10,
        "{outcomes:?}"
    );
    assert_eq!(credits(ledger, 3).await, 0);
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_expired_hold_stops_counting_under_concurrent_deducts() {
    on_each_backend!(expired_holds_stop_counting);
}

/// Transfers both ways between two users at once: none deadlocks, every one applies, and
/// the two balances always sum to what they started with.
async fn opposite_transfers(ledger: &impl LedgerBackend) {
    add(ledger, 4, 1_000).await;
    add(ledger, 5, 1_000).await;
    let outcomes = all_at_once(64, |i| {
        let ledger = ledger.clone();
        let (from, to) = if i % 2 == 0 { (4, 5) } else { (5, 4) };
        async move {
            ledger
                .transfer(actor(), transfer(from, to, 10 + i as i64, None), fresh())
                .await
                .unwrap()
        }
    })
    .await;
    let mut net = 0;
    for (i, outcome) in outcomes.iter().enumerate() {
        let moved = outcome.as_ref().expect("a covered transfer");
        assert_eq!(moved.from.change, -moved.amount);
        assert_eq!(moved.to.change, moved.amount);
        net += if i % 2 == 0 {
            moved.amount
        } else {
            -moved.amount
        };
    }
    let (a, b) = (credits(ledger, 4).await, credits(ledger, 5).await);
    assert_eq!(a + b, 2_000);
    assert_eq!((a, b), (1_000 - net, 1_000 + net));
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opposite_transfers_at_once_neither_deadlock_nor_lose_credits() {
    on_each_backend!(opposite_transfers);
}

/// A transfer that more senders race for than it can cover: the sender's available
/// credits bound them all, and a hold on the sender counts.
async fn transfers_never_overdraw(ledger: &impl LedgerBackend) {
    add(ledger, 6, 100).await;
    place(ledger, new_hold(6, 30, None)).await;
    let outcomes = all_at_once(32, |i| {
        let ledger = ledger.clone();
        async move {
            ledger
                .transfer(actor(), transfer(6, 100 + i as i64, 10, None), fresh())
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        7,
        "{outcomes:?}"
    );
    for refusal in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refusal.code, Code::InsufficientCredits);
    }
    assert_eq!(credits(ledger, 6).await, 30);
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_transfers_from_one_user_never_take_its_held_credits() {
    on_each_backend!(transfers_never_overdraw);
}

/// Partial reversals of one record at once: their sum never exceeds the record, of an
/// add (they deduct) or of a deduct (they give back).
async fn reversals_never_exceed(ledger: &impl LedgerBackend) {
    let added = add(ledger, 7, 100).await;
    let outcomes = all_at_once(32, |_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .reverse(actor(), reversal(added, 30, None), fresh())
                .await
                .unwrap()
        }
    })
    .await;
    let done: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(done.len(), 3, "{outcomes:?}");
    for refusal in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refusal.code, Code::ReversalExceedsRecord);
    }
    let mut reversed: Vec<i64> = done.iter().map(|r| r.reversed).collect();
    reversed.sort_unstable();
    assert_eq!(reversed, [30, 60, 90]);
    assert_eq!(credits(ledger, 7).await, 10);

    add(ledger, 8, 100).await;
    let deducted = ledger
        .apply(actor(), change(8, -50), fresh())
        .await
        .unwrap()
        .unwrap()
        .record_id;
    let outcomes = all_at_once(32, |_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .reverse(actor(), reversal(deducted, 20, None), fresh())
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(outcomes.iter().filter(|o| o.is_ok()).count(), 2);
    assert_eq!(credits(ledger, 8).await, 90);
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_partial_reversals_never_exceed_their_record() {
    on_each_backend!(reversals_never_exceed);
}

/// The same referenced call many times at once (an SDK's retries, two processes): each
/// flow applies once and every other answer is its replay.
async fn twins_apply_once(ledger: &impl LedgerBackend) {
    add(ledger, 9, 1_000).await;
    let holds = all_at_once(16, |_| {
        let ledger = ledger.clone();
        async move { place(&ledger, new_hold(9, 10, Some("job-1"))).await }
    })
    .await;
    assert_eq!(holds.iter().filter(|h| !h.duplicate).count(), 1);
    assert!(holds
        .iter()
        .all(|h| h.hold.hold_id == holds[0].hold.hold_id));

    let moves = all_at_once(16, |_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .transfer(actor(), transfer(9, 10, 100, Some("gift-1")), fresh())
                .await
                .unwrap()
                .unwrap()
        }
    })
    .await;
    assert_eq!(moves.iter().filter(|m| !m.duplicate).count(), 1);
    assert!(moves.iter().all(|m| m.transfer_id == moves[0].transfer_id));
    assert_eq!(credits(ledger, 10).await, 100);

    let original = add(ledger, 9, 50).await;
    let reversals = all_at_once(16, |_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .reverse(actor(), reversal(original, 20, Some("refund-1")), fresh())
                .await
                .unwrap()
                .unwrap()
        }
    })
    .await;
    assert_eq!(reversals.iter().filter(|r| !r.duplicate).count(), 1);
    assert!(reversals
        .iter()
        .all(|r| r.record_id == reversals[0].record_id && r.reversed == 20));
    // 1000 + 50, less the transfer and the reversal; the hold is still open.
    let (balance, open) = ledger.holds(9).await.unwrap().unwrap();
    assert_eq!((balance.credits, balance.held, open.len()), (930, 10, 1));
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twins_with_one_reference_apply_each_flow_once() {
    on_each_backend!(twins_apply_once);
}

/// Holds on 100 users at once, then their captures at once: all apply, each on its own
/// user.
async fn holds_on_many_users(ledger: &impl LedgerBackend) {
    let users: Vec<i64> = (1_000..1_100).collect();
    all_at_once(users.len(), |i| {
        let ledger = ledger.clone();
        let user = users[i];
        async move { add(&ledger, user, 10).await }
    })
    .await;
    let holds = all_at_once(users.len(), |i| {
        let ledger = ledger.clone();
        let user = users[i];
        async move { place(&ledger, new_hold(user, 10, None)).await }
    })
    .await;
    for (hold, user) in holds.iter().zip(&users) {
        assert_eq!(
            (hold.hold.telegram_id, hold.credits, hold.held),
            (*user, 10, 10)
        );
    }
    let captures = all_at_once(holds.len(), |i| {
        let ledger = ledger.clone();
        let hold_id = holds[i].hold.hold_id.clone();
        async move {
            let capture = Resolution::Capture { amount: Some(4) };
            ledger
                .resolve_hold(actor(), resolve(&hold_id, capture), fresh())
                .await
                .unwrap()
                .unwrap()
        }
    })
    .await;
    for captured in &captures {
        assert_eq!((captured.credits, captured.held), (6, 0));
        assert_eq!(captured.hold.state, "captured");
    }
    for user in &users {
        let (balance, open) = ledger.holds(*user).await.unwrap().unwrap();
        assert_eq!((balance.credits, balance.held, open.len()), (6, 0, 0));
    }
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_on_100_users_at_once() {
    on_each_backend!(holds_on_many_users);
}

/// Every flow at once on two users: captures and voids of open holds, new holds, deducts,
/// transfers both ways and reversals. Nothing deadlocks or fails but for the refusals the
/// rules give, `available` stays at or above zero, and the ledger verifies.
async fn every_flow_at_once(ledger: &impl LedgerBackend) {
    let funded = add(ledger, 11, 500).await;
    add(ledger, 12, 500).await;
    let mut open = Vec::new();
    for _ in 0..16 {
        open.push(place(ledger, new_hold(11, 10, None)).await.hold.hold_id);
    }
    let outcomes = all_at_once(80, |i| {
        let ledger = ledger.clone();
        let hold_id = open[i % 16].clone();
        async move {
            let refused = match i / 16 {
                0 => {
                    let resolution = if i % 2 == 0 {
                        Resolution::Capture { amount: Some(5) }
                    } else {
                        Resolution::Void
                    };
                    let resolve = resolve(&hold_id, resolution);
                    ledger
                        .resolve_hold(actor(), resolve, fresh())
                        .await
                        .unwrap()
                        .err()
                }
                1 => ledger
                    .place_hold(actor(), new_hold(11 + (i % 2) as i64, 20, None), fresh())
                    .await
                    .unwrap()
                    .err(),
                2 => ledger
                    .apply(actor(), change(11 + (i % 2) as i64, -15), fresh())
                    .await
                    .unwrap()
                    .err(),
                3 => {
                    let (from, to) = if i % 2 == 0 { (11, 12) } else { (12, 11) };
                    let moved = transfer(from, to, 25, None);
                    ledger
                        .transfer(actor(), moved, fresh())
                        .await
                        .unwrap()
                        .err()
                }
                _ => ledger
                    .reverse(actor(), reversal(funded, 20, None), fresh())
                    .await
                    .unwrap()
                    .err(),
            };
            refused.map(|refusal| refusal.code)
        }
    })
    .await;
    for (i, refused) in outcomes.iter().enumerate() {
        if let Some(code) = refused {
            assert_eq!(*code, Code::InsufficientCredits, "call {i}: {outcomes:?}");
        }
    }
    for user in [11, 12] {
        let (balance, holds) = ledger.holds(user).await.unwrap().unwrap();
        assert!(balance.credits >= balance.held, "{balance:?}");
        assert_eq!(holds.iter().map(|h| h.amount).sum::<i64>(), balance.held);
    }
    assert_sound(ledger).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_flow_at_once_on_two_users_keeps_the_books() {
    on_each_backend!(every_flow_at_once);
}
