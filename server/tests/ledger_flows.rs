//! Holds, reversals and transfers driven directly through the `LedgerBackend` trait, on
//! the backend the suite runs on (SQLite, or PostgreSQL with
//! `CREDIT_SYNC_TEST_BACKEND=postgres`), on the concrete backend and again through
//! `AnyBackend`. The checklist is the bugs filed against Blnk's inflight transactions:
//! holds not counted in a balance check, a refused hold committed anyway, a hold resolved
//! twice. `verify` finds nothing after each test.

mod support;

use credit_sync::protocol::{limits, Code, HoldState};
use credit_sync_server::ledger::rows::Findings;
use credit_sync_server::ledger::{
    Actor, Applied, Change, HoldApplied, HoldOutcome, Ledger, LedgerBackend, NewHold, Refusal,
    Resolution, Resolve, Reversal, Reversed, Target, Transfer, Transferred,
};
use futures_util::future::join_all;
use std::time::Duration;
use support::Database;

use support::backend::{fresh, signed, SOURCE};

fn actor() -> Actor {
    as_source(SOURCE, false)
}

fn as_source(source: &str, admin: bool) -> Actor {
    Actor {
        source: source.into(),
        auto_register: true,
        admin,
    }
}

/// An actor that never registers users on the fly.
fn strict() -> Actor {
    Actor {
        auto_register: false,
        ..actor()
    }
}

fn change(telegram_id: i64, amount: i64, reference: Option<&str>) -> Change {
    Change {
        telegram_id,
        amount,
        reason: "test".into(),
        reference: reference.map(str::to_string),
    }
}

fn new_hold(telegram_id: i64, amount: i64, reference: Option<&str>) -> NewHold {
    NewHold {
        telegram_id,
        amount,
        reason: "job".into(),
        reference: reference.map(str::to_string),
        ttl_secs: limits::DEFAULT_HOLD_TTL_SECS,
    }
}

fn capture(hold_id: &str, amount: Option<i64>, reference: Option<&str>) -> Resolve {
    Resolve {
        hold_id: hold_id.into(),
        resolution: Resolution::Capture { amount },
        reference: reference.map(str::to_string),
    }
}

fn void(hold_id: &str, reference: Option<&str>) -> Resolve {
    Resolve {
        hold_id: hold_id.into(),
        resolution: Resolution::Void,
        reference: reference.map(str::to_string),
    }
}

fn reversal(target: Target, amount: Option<i64>, reference: Option<&str>) -> Reversal {
    Reversal {
        target,
        amount,
        reason: "refund".into(),
        reference: reference.map(str::to_string),
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

async fn add(ledger: &impl LedgerBackend, telegram_id: i64, amount: i64) -> Applied {
    ledger
        .apply(actor(), change(telegram_id, amount, None), fresh())
        .await
        .unwrap()
        .expect("the add applies")
}

async fn hold(ledger: &impl LedgerBackend, hold: NewHold) -> HoldOutcome {
    ledger.place_hold(actor(), hold, fresh()).await.unwrap()
}

async fn resolve(ledger: &impl LedgerBackend, actor: Actor, resolve: Resolve) -> HoldOutcome {
    ledger.resolve_hold(actor, resolve, fresh()).await.unwrap()
}

/// A user's (credits, held) as a read sees them.
async fn view(ledger: &impl LedgerBackend, telegram_id: i64) -> (i64, i64) {
    let row = ledger.balance(telegram_id).await.unwrap().expect("a user");
    (row.credits, row.held)
}

async fn record_count(ledger: &impl LedgerBackend) -> i64 {
    ledger.counts().await.unwrap().records
}

fn code<T: std::fmt::Debug>(outcome: &Result<T, Refusal>) -> Code {
    outcome.as_ref().expect_err("a refusal").code
}

/// `verify` finds nothing.
async fn sound(ledger: &impl LedgerBackend) {
    assert_eq!(ledger.verify().await.unwrap(), Findings::default());
}

/// Blnk #181: a held amount counts in every check money leaves by.
async fn held_counts_in_every_balance_check(ledger: &impl LedgerBackend) {
    let added = add(ledger, 1, 100).await;
    let placed = hold(ledger, new_hold(1, 60, None)).await.unwrap();
    assert_eq!(
        (placed.credits, placed.held, placed.available()),
        (100, 60, 40)
    );
    assert_eq!(placed.hold.state, "open");
    assert_eq!(view(ledger, 1).await, (100, 60));

    let deduct = ledger
        .apply(actor(), change(1, -41, None), fresh())
        .await
        .unwrap();
    let refused = deduct.unwrap_err();
    assert_eq!(
        (refused.code, refused.balance),
        (Code::InsufficientCredits, Some(100))
    );
    assert!(refused.message.contains("60 held"), "{}", refused.message);
    let batch = ledger
        .apply_batch(
            actor(),
            vec![change(1, -30, None), change(1, -11, None)],
            false,
            fresh(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(batch[0].is_ok());
    assert_eq!(code(&batch[1]), Code::InsufficientCredits);
    assert_eq!(view(ledger, 1).await, (70, 60));

    let second = hold(ledger, new_hold(1, 11, None)).await;
    assert_eq!(code(&second), Code::InsufficientCredits);
    let moved = ledger
        .transfer(actor(), transfer(1, 2, 11, None), fresh())
        .await
        .unwrap();
    assert_eq!(code(&moved), Code::InsufficientCredits);
    assert_eq!(
        ledger.balance(2).await.unwrap(),
        None,
        "a refused transfer registered its receiver"
    );
    let taken_back = ledger
        .reverse(
            actor(),
            reversal(Target::Record(added.record_id), Some(11), None),
            fresh(),
        )
        .await
        .unwrap();
    assert_eq!(code(&taken_back), Code::InsufficientCredits);
    // Exactly the available balance is allowed everywhere.
    assert_eq!(
        ledger
            .apply(actor(), change(1, -10, None), fresh())
            .await
            .unwrap()
            .unwrap()
            .balance,
        60
    );
    assert_eq!(view(ledger, 1).await, (60, 60));
    assert_eq!(record_count(ledger).await, 3);

    let voided = resolve(ledger, actor(), void(&placed.hold.hold_id, None))
        .await
        .unwrap();
    assert_eq!((voided.credits, voided.held), (60, 0));
    let all = ledger
        .transfer(actor(), transfer(1, 2, 60, None), fresh())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((all.from.balance, all.to.balance), (0, 60));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_counts_in_every_balance_check_on_each_backend() {
    on_each_backend!(held_counts_in_every_balance_check, sound);
}

/// A capture writes one deduction linked to its hold and releases the rest; a void writes
/// nothing; a second call is `hold_resolved` with the final state, unless it is the same
/// call with its reference.
async fn captures_and_voids(ledger: &impl LedgerBackend) {
    add(ledger, 3, 100).await;
    let full = hold(ledger, new_hold(3, 30, None)).await.unwrap();
    let captured = resolve(ledger, actor(), capture(&full.hold.hold_id, None, None))
        .await
        .unwrap();
    assert_eq!(
        (captured.credits, captured.held, captured.duplicate),
        (70, 0, false)
    );
    assert_eq!(
        (captured.hold.state.as_str(), captured.hold.captured),
        ("captured", 30)
    );
    assert!(captured.hold.resolved_at.is_some());
    let record_id = captured.hold.record_id.expect("a capture's record");
    let records = ledger.records(3, i64::MAX, 1).await.unwrap();
    assert_eq!(
        (
            records[0].id,
            records[0].change,
            records[0].balance_after,
            records[0].reason.as_str()
        ),
        (record_id, -30, 70, "job")
    );
    assert_eq!(
        records[0].hold_id.as_deref(),
        Some(full.hold.hold_id.as_str())
    );

    let partial = hold(ledger, new_hold(3, 50, None)).await.unwrap();
    assert_eq!(partial.available(), 20);
    let part = resolve(
        ledger,
        actor(),
        capture(&partial.hold.hold_id, Some(20), Some("cap-1")),
    )
    .await
    .unwrap();
    assert_eq!((part.credits, part.held, part.hold.captured), (50, 0, 20));
    assert_eq!(view(ledger, 3).await, (50, 0));
    // The same call with its reference again: a replay, nothing written.
    let count = record_count(ledger).await;
    let again = resolve(
        ledger,
        actor(),
        capture(&partial.hold.hold_id, Some(20), Some("cap-1")),
    )
    .await
    .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.hold.record_id, part.hold.record_id);
    assert_eq!((again.credits, again.hold.state.as_str()), (50, "captured"));
    assert_eq!(record_count(ledger).await, count);
    // Anything else is `hold_resolved`, carrying the final state.
    for other in [
        capture(&partial.hold.hold_id, Some(20), None),
        capture(&partial.hold.hold_id, Some(21), Some("cap-1")),
        void(&partial.hold.hold_id, Some("cap-1")),
    ] {
        let refused = resolve(ledger, actor(), other).await.unwrap_err();
        assert_eq!(refused.code, Code::HoldResolved);
        let state = refused.hold.expect("the final state");
        assert_eq!(
            (
                state.hold.state.as_str(),
                state.hold.captured,
                state.credits
            ),
            ("captured", 20, 50)
        );
    }

    let voided_hold = hold(ledger, new_hold(3, 10, None)).await.unwrap();
    let voided = resolve(
        ledger,
        actor(),
        void(&voided_hold.hold.hold_id, Some("v-1")),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            voided.hold.state.as_str(),
            voided.hold.record_id,
            voided.credits,
            voided.held
        ),
        ("voided", None, 50, 0)
    );
    assert_eq!(record_count(ledger).await, count);
    let replay = resolve(
        ledger,
        actor(),
        void(&voided_hold.hold.hold_id, Some("v-1")),
    )
    .await
    .unwrap();
    assert!(replay.duplicate);
    for other in [
        void(&voided_hold.hold.hold_id, None),
        capture(&voided_hold.hold.hold_id, None, None),
    ] {
        let refused = resolve(ledger, actor(), other).await.unwrap_err();
        assert_eq!(refused.code, Code::HoldResolved);
        assert_eq!(refused.hold.unwrap().hold.state, "voided");
    }

    let missing = resolve(ledger, actor(), void("hold_000000000000000000000000", None)).await;
    assert_eq!(code(&missing), Code::HoldNotFound);
    let listed = ledger.holds(3).await.unwrap().expect("a user");
    assert_eq!(
        (listed.0.credits, listed.0.held, listed.1.len()),
        (50, 0, 0)
    );
    assert_eq!(ledger.holds(999).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_and_voids_on_each_backend() {
    on_each_backend!(captures_and_voids, sound);
}

/// A hold's reference is its own: the same hold again is its replay, another hold with it
/// a conflict; a spent signature replays only that; a refused hold keeps nothing.
async fn places_a_hold_once(ledger: &impl LedgerBackend) {
    add(ledger, 4, 10).await;
    let signature = "e000000000000001";
    let first = ledger
        .place_hold(actor(), new_hold(4, 5, Some("job-1")), signed(signature))
        .await
        .unwrap()
        .unwrap();
    for spend in [fresh(), signed(signature)] {
        let again = ledger
            .place_hold(actor(), new_hold(4, 5, Some("job-1")), spend)
            .await
            .unwrap()
            .unwrap();
        assert!(again.duplicate);
        assert_eq!(
            (again.hold.hold_id.as_str(), again.held),
            (first.hold.hold_id.as_str(), 5)
        );
    }
    let reused = ledger
        .place_hold(actor(), new_hold(4, 5, Some("job-2")), signed(signature))
        .await
        .unwrap();
    assert_eq!(code(&reused), Code::SignatureReused);
    let conflict = hold(ledger, new_hold(4, 6, Some("job-1")))
        .await
        .unwrap_err();
    assert_eq!(
        (conflict.code, conflict.fields.as_slice()),
        (Code::ReferenceConflict, ["amount".to_string()].as_slice())
    );
    // Another source's reference is its own.
    let other = ledger
        .place_hold(
            as_source("other", false),
            new_hold(4, 5, Some("job-1")),
            fresh(),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(!other.duplicate && other.hold.hold_id != first.hold.hold_id);
    assert_eq!(other.held, 10);
    // Blnk #182: a refused hold is not committed anyway.
    let refused = hold(ledger, new_hold(4, 1, Some("job-3"))).await;
    assert_eq!(code(&refused), Code::InsufficientCredits);
    let unknown = hold(ledger, new_hold(5, 1, None)).await;
    assert_eq!(code(&unknown), Code::UserNotFound);
    let (balance, open) = ledger.holds(4).await.unwrap().unwrap();
    assert_eq!((balance.held, open.len()), (10, 2));
    assert_eq!(open[0].hold_id, first.hold.hold_id, "oldest first");
    // The refused reference was not taken.
    resolve(ledger, actor(), void(&first.hold.hold_id, None))
        .await
        .unwrap();
    assert!(
        !hold(ledger, new_hold(4, 1, Some("job-3")))
            .await
            .unwrap()
            .duplicate
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn places_a_hold_once_on_each_backend() {
    on_each_backend!(places_a_hold_once, sound);
}

/// Past its expiry a hold no longer counts and cannot be captured, before any sweeper.
async fn an_expired_hold_no_longer_counts(ledger: &impl LedgerBackend) {
    add(ledger, 6, 10).await;
    let short = NewHold {
        ttl_secs: 2,
        ..new_hold(6, 5, None)
    };
    let placed = hold(ledger, short.clone()).await.unwrap();
    let other = hold(ledger, short).await.unwrap();
    assert_eq!((placed.available(), other.available()), (5, 0));
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    assert_eq!(view(ledger, 6).await, (10, 0));
    assert!(ledger.holds(6).await.unwrap().unwrap().1.is_empty());
    let refused = resolve(ledger, actor(), capture(&placed.hold.hold_id, None, None))
        .await
        .unwrap_err();
    assert_eq!(refused.code, Code::HoldResolved);
    let state = refused.hold.expect("the final state");
    assert_eq!(
        (state.hold.state.as_str(), state.hold.record_id, state.held),
        ("expired", None, 0)
    );
    let voided = resolve(ledger, actor(), void(&other.hold.hold_id, None)).await;
    assert_eq!(code(&voided), Code::HoldResolved);
    assert_eq!(
        ledger
            .apply(actor(), change(6, -10, None), fresh())
            .await
            .unwrap()
            .unwrap()
            .balance,
        0
    );
    assert_eq!(record_count(ledger).await, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_hold_no_longer_counts_on_each_backend() {
    on_each_backend!(an_expired_hold_no_longer_counts, sound);
}

/// Capturing more than was held is `invalid_amount`; only the hold's source or an admin
/// may resolve it.
async fn captures_only_what_was_held_and_only_by_its_source(ledger: &impl LedgerBackend) {
    add(ledger, 7, 100).await;
    let placed = hold(ledger, new_hold(7, 20, None)).await.unwrap();
    let id = placed.hold.hold_id.as_str();
    let more = resolve(ledger, actor(), capture(id, Some(21), None)).await;
    assert_eq!(code(&more), Code::InvalidAmount);
    for call in [capture(id, None, None), void(id, None)] {
        let forbidden = resolve(ledger, as_source("other", false), call).await;
        assert_eq!(code(&forbidden), Code::Forbidden);
    }
    assert_eq!(view(ledger, 7).await, (100, 20));
    let by_admin = resolve(
        ledger,
        as_source("admin", true),
        capture(id, Some(20), None),
    )
    .await
    .unwrap();
    assert_eq!((by_admin.credits, by_admin.held), (80, 0));
    let records = ledger.records(7, i64::MAX, 1).await.unwrap();
    assert_eq!(
        (records[0].change, records[0].source.as_str()),
        (-20, "admin")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captures_only_what_was_held_and_only_by_its_source_on_each_backend() {
    on_each_backend!(captures_only_what_was_held_and_only_by_its_source, sound);
}

/// At most `MAX_OPEN_HOLDS_PER_USER` open holds per user.
async fn refuses_too_many_holds(ledger: &impl LedgerBackend) {
    add(ledger, 8, 1_000).await;
    let placed =
        join_all((0..limits::MAX_OPEN_HOLDS_PER_USER).map(|_| hold(ledger, new_hold(8, 1, None))))
            .await;
    assert!(placed.iter().all(Result::is_ok));
    let one_more = hold(ledger, new_hold(8, 1, None)).await;
    assert_eq!(code(&one_more), Code::TooManyHolds);
    let limit = limits::MAX_OPEN_HOLDS_PER_USER as i64;
    assert_eq!(view(ledger, 8).await, (1_000, limit));
    let first = placed[0].as_ref().unwrap();
    resolve(ledger, actor(), void(&first.hold.hold_id, None))
        .await
        .unwrap();
    assert!(hold(ledger, new_hold(8, 1, None)).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_too_many_holds_on_each_backend() {
    on_each_backend!(refuses_too_many_holds, sound);
}

/// Holds on 50 users at once, each placed and captured concurrently.
async fn holds_on_many_users_at_once(ledger: &impl LedgerBackend) {
    let users: Vec<i64> = (100..150).collect();
    join_all(users.iter().map(|&id| add(ledger, id, 10))).await;
    let placed = join_all(users.iter().map(|&id| {
        let ledger = ledger.clone();
        tokio::spawn(async move { hold(&ledger, new_hold(id, 7, None)).await })
    }))
    .await;
    let held: Vec<HoldApplied> = placed.into_iter().map(|p| p.unwrap().unwrap()).collect();
    assert!(held.iter().all(|h| (h.credits, h.held) == (10, 7)));
    let captured = join_all(held.iter().map(|h| {
        let ledger = ledger.clone();
        let id = h.hold.hold_id.clone();
        tokio::spawn(async move { resolve(&ledger, actor(), capture(&id, Some(4), None)).await })
    }))
    .await;
    for result in captured {
        let done = result.unwrap().unwrap();
        assert_eq!((done.credits, done.held), (6, 0));
    }
    for &id in &users {
        assert_eq!(view(ledger, id).await, (6, 0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn holds_on_many_users_at_once_on_each_backend() {
    on_each_backend!(holds_on_many_users_at_once, sound);
}

/// Blnk PR #43: 64 concurrent captures and voids of one hold; exactly one resolves it,
/// every other is `hold_resolved` with the winner's state.
async fn a_hold_resolves_exactly_once(ledger: &impl LedgerBackend) {
    add(ledger, 9, 100).await;
    let placed = hold(ledger, new_hold(9, 40, None)).await.unwrap();
    let calls = join_all((0..64).map(|i| {
        let ledger = ledger.clone();
        let id = placed.hold.hold_id.clone();
        tokio::spawn(async move {
            let call = if i % 2 == 0 {
                capture(&id, Some(30), None)
            } else {
                void(&id, None)
            };
            resolve(&ledger, actor(), call).await
        })
    }))
    .await;
    let outcomes: Vec<HoldOutcome> = calls.into_iter().map(Result::unwrap).collect();
    let winners: Vec<&HoldApplied> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = &winners[0].hold;
    for refused in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refused.code, Code::HoldResolved);
        let state = &refused.hold.as_ref().expect("the final state").hold;
        assert_eq!(
            (&state.state, state.captured, state.record_id),
            (&winner.state, winner.captured, winner.record_id)
        );
    }
    let (credits, held) = view(ledger, 9).await;
    assert_eq!(held, 0);
    if winner.state == HoldState::Captured.as_str() {
        assert_eq!((credits, record_count(ledger).await), (70, 2));
    } else {
        assert_eq!((credits, record_count(ledger).await), (100, 1));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_resolves_exactly_once_on_each_backend() {
    on_each_backend!(a_hold_resolves_exactly_once, sound);
}

async fn reverse(
    ledger: &impl LedgerBackend,
    actor: Actor,
    reversal: Reversal,
) -> Result<Reversed, Refusal> {
    ledger.reverse(actor, reversal, fresh()).await.unwrap()
}

/// A reversal is a new record linked to the original, partial or whole, never more than
/// the original, only by its source or an admin; reversals and transfer legs are final.
async fn reverses_records(ledger: &impl LedgerBackend) {
    let order = ledger
        .apply(actor(), change(10, 100, Some("order-1")), fresh())
        .await
        .unwrap()
        .unwrap();
    let part = reverse(
        ledger,
        actor(),
        reversal(Target::Record(order.record_id), Some(30), Some("refund-1")),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            part.reverses,
            part.change,
            part.balance,
            part.reversed,
            part.remaining,
            part.duplicate
        ),
        (order.record_id, -30, 70, 30, 70, false)
    );
    let records = ledger.records(10, i64::MAX, 1).await.unwrap();
    assert_eq!(
        (
            records[0].id,
            records[0].reverses,
            records[0].reason.as_str()
        ),
        (part.record_id, Some(order.record_id), "refund")
    );
    // The same reversal with its reference: a replay (even by the original's reference).
    let again = reverse(
        ledger,
        actor(),
        reversal(
            Target::Reference("order-1".into()),
            Some(30),
            Some("refund-1"),
        ),
    )
    .await
    .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.record_id, again.reversed, again.remaining),
        (part.record_id, 30, 70)
    );
    let conflict = reverse(
        ledger,
        actor(),
        reversal(Target::Record(order.record_id), Some(31), Some("refund-1")),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (conflict.code, conflict.fields.as_slice()),
        (Code::ReferenceConflict, ["amount".to_string()].as_slice())
    );
    let plain = reverse(
        ledger,
        actor(),
        reversal(Target::Record(order.record_id), None, Some("order-1")),
    )
    .await;
    assert_eq!(plain.unwrap_err().fields, ["operation"]);

    let too_much = reverse(
        ledger,
        actor(),
        reversal(Target::Record(order.record_id), Some(71), None),
    )
    .await;
    assert_eq!(code(&too_much), Code::ReversalExceedsRecord);
    let forbidden = reverse(
        ledger,
        as_source("other", false),
        reversal(Target::Record(order.record_id), None, None),
    )
    .await;
    assert_eq!(code(&forbidden), Code::Forbidden);
    // The rest, by the original's reference.
    let rest = reverse(
        ledger,
        actor(),
        reversal(Target::Reference("order-1".into()), None, None),
    )
    .await
    .unwrap();
    assert_eq!(
        (rest.change, rest.balance, rest.reversed, rest.remaining),
        (-70, 0, 100, 0)
    );
    let nothing_left = reverse(
        ledger,
        actor(),
        reversal(Target::Record(order.record_id), Some(1), None),
    )
    .await;
    assert_eq!(code(&nothing_left), Code::ReversalExceedsRecord);
    let of_a_reversal = reverse(
        ledger,
        actor(),
        reversal(Target::Record(rest.record_id), None, None),
    )
    .await;
    assert_eq!(code(&of_a_reversal), Code::RecordNotReversible);
    for missing in [Target::Record(9_999), Target::Reference("nope".into())] {
        let refused = reverse(ledger, actor(), reversal(missing, None, None)).await;
        assert_eq!(code(&refused), Code::RecordNotFound);
    }

    // A reversal of a deduct, and of a capture, gives the credits back; an admin may.
    add(ledger, 11, 50).await;
    let spent = ledger
        .apply(actor(), change(11, -20, None), fresh())
        .await
        .unwrap()
        .unwrap();
    let back = reverse(
        ledger,
        as_source("admin", true),
        reversal(Target::Record(spent.record_id), Some(5), None),
    )
    .await
    .unwrap();
    assert_eq!((back.change, back.balance, back.remaining), (5, 35, 15));
    let placed = hold(ledger, new_hold(11, 10, None)).await.unwrap();
    let captured = resolve(ledger, actor(), capture(&placed.hold.hold_id, None, None))
        .await
        .unwrap();
    let undone = reverse(
        ledger,
        actor(),
        reversal(Target::Record(captured.hold.record_id.unwrap()), None, None),
    )
    .await
    .unwrap();
    assert_eq!((undone.change, undone.balance), (10, 35));

    // A transfer's leg is not reversed.
    let moved = ledger
        .transfer(actor(), transfer(11, 10, 5, None), fresh())
        .await
        .unwrap()
        .unwrap();
    for leg in [moved.from.record_id, moved.to.record_id] {
        let refused = reverse(ledger, actor(), reversal(Target::Record(leg), None, None)).await;
        assert_eq!(code(&refused), Code::RecordNotReversible);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reverses_records_on_each_backend() {
    on_each_backend!(reverses_records, sound);
}

async fn send(
    ledger: &impl LedgerBackend,
    actor: Actor,
    transfer: Transfer,
) -> Result<Transferred, Refusal> {
    ledger.transfer(actor, transfer, fresh()).await.unwrap()
}

/// A transfer writes both legs or neither, from the sender's available balance, once per
/// reference.
async fn transfers_credits(ledger: &impl LedgerBackend) {
    add(ledger, 20, 50).await;
    add(ledger, 21, 5).await;
    let moved = send(ledger, actor(), transfer(20, 21, 30, Some("gift-1")))
        .await
        .unwrap();
    assert_eq!(
        (
            moved.amount,
            moved.from.change,
            moved.from.balance,
            moved.to.change,
            moved.to.balance
        ),
        (30, -30, 20, 30, 35)
    );
    assert!(moved.transfer_id.starts_with(limits::TRANSFER_ID_PREFIX));
    let debit = &ledger.records(20, i64::MAX, 1).await.unwrap()[0];
    let credit = &ledger.records(21, i64::MAX, 1).await.unwrap()[0];
    assert_eq!(
        (
            debit.id,
            debit.external_reference.as_deref(),
            debit.transfer_id.as_deref()
        ),
        (
            moved.from.record_id,
            Some("gift-1"),
            Some(moved.transfer_id.as_str())
        )
    );
    assert_eq!(
        (
            credit.id,
            credit.external_reference.as_deref(),
            credit.transfer_id.as_deref()
        ),
        (moved.to.record_id, None, Some(moved.transfer_id.as_str()))
    );

    let count = record_count(ledger).await;
    let again = send(ledger, actor(), transfer(20, 21, 30, Some("gift-1")))
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.transfer_id.as_str(), again.from, again.to),
        (moved.transfer_id.as_str(), moved.from, moved.to)
    );
    let conflict = send(ledger, actor(), transfer(20, 21, 31, Some("gift-1")))
        .await
        .unwrap_err();
    assert_eq!(
        (conflict.code, conflict.fields.as_slice()),
        (Code::ReferenceConflict, ["amount".to_string()].as_slice())
    );
    assert_eq!(record_count(ledger).await, count);

    let too_much = send(ledger, actor(), transfer(20, 21, 21, Some("gift-2"))).await;
    assert_eq!(code(&too_much), Code::InsufficientCredits);
    let no_sender = send(ledger, actor(), transfer(22, 21, 1, None)).await;
    assert_eq!(code(&no_sender), Code::UserNotFound);
    let no_receiver = send(ledger, strict(), transfer(20, 23, 1, None)).await;
    assert_eq!(code(&no_receiver), Code::UserNotFound);
    assert_eq!(ledger.balance(23).await.unwrap(), None);
    assert_eq!(record_count(ledger).await, count);
    // The refused reference was not taken; an auto-registering source registers the receiver.
    let registered = send(ledger, actor(), transfer(20, 23, 20, Some("gift-2")))
        .await
        .unwrap();
    assert_eq!((registered.from.balance, registered.to.balance), (0, 20));
    assert_eq!(view(ledger, 23).await, (20, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_credits_on_each_backend() {
    on_each_backend!(transfers_credits, sound);
}

/// `verify` sees every broken link: a `held` that is not its open holds' sum, a void that
/// charged, a second record of one capture, reversals beyond their original, a third leg.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_every_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::for_suite(dir.path());
    let ledger = Ledger::open(database.url()).await.unwrap();
    let backend = ledger.backend();
    add(backend, 30, 100).await;
    let spent = backend
        .apply(actor(), change(30, -20, None), fresh())
        .await
        .unwrap()
        .unwrap();
    let voided = hold(backend, new_hold(30, 10, None))
        .await
        .unwrap()
        .hold
        .hold_id;
    resolve(backend, actor(), void(&voided, None))
        .await
        .unwrap();
    let captured = hold(backend, new_hold(30, 10, None))
        .await
        .unwrap()
        .hold
        .hold_id;
    resolve(backend, actor(), capture(&captured, None, None))
        .await
        .unwrap();
    let moved = send(backend, actor(), transfer(30, 31, 5, None))
        .await
        .unwrap()
        .transfer_id;
    sound(backend).await;

    let insert = "INSERT INTO records
         (telegram_id, source, change, balance_after, reason, request_hash, created_at,
          reverses, hold_id, transfer_id)
         VALUES";
    let at = "'2026-01-01T00:00:00.000Z'";
    let tampered = support::raw_execute(
        database.url(),
        &[
            "UPDATE users SET held = held + 1 WHERE telegram_id = 30",
            &format!("UPDATE holds SET captured = 1 WHERE hold_id = '{voided}'"),
            &format!(
                "{insert} (30, 'bot', 25, 90, 'x', 'x', {at}, {}, NULL, NULL)",
                spent.record_id
            ),
            &format!("{insert} (30, 'bot', -1, 89, 'x', 'x', {at}, NULL, '{captured}', NULL)"),
            &format!("{insert} (31, 'bot', 1, 6, 'x', 'x', {at}, NULL, NULL, '{moved}')"),
        ],
    );
    assert!(tampered.iter().all(Result::is_ok), "{tampered:?}");
    let findings = backend.verify().await.unwrap();
    assert_eq!(findings.held.len(), 1, "{findings:?}");
    assert_eq!((findings.held[0].held, findings.held[0].sum), (1, 0));
    let mut holds: Vec<&str> = findings
        .captures
        .iter()
        .map(|c| c.hold_id.as_str())
        .collect();
    holds.sort_unstable();
    let mut expected = [voided.as_str(), captured.as_str()];
    expected.sort_unstable();
    assert_eq!(holds, expected, "{findings:?}");
    assert_eq!(findings.reversals.len(), 1, "{findings:?}");
    assert_eq!(
        (findings.reversals[0].id, findings.reversals[0].reversed),
        (spent.record_id, 25)
    );
    assert_eq!(findings.transfers.len(), 1, "{findings:?}");
    assert_eq!(
        (findings.transfers[0].legs, findings.transfers[0].sum),
        (3, 1)
    );
    let lines = ledger.verify().await.unwrap();
    assert!(lines.iter().any(|l| l.contains("held 1")), "{lines:?}");
    ledger.close().await;
}

/// Two ledgers on one database (two server processes): a hold still resolves once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_resolves_exactly_once_across_two_ledgers() {
    let dir = tempfile::tempdir().unwrap();
    let database = Database::for_suite(dir.path());
    let first = Ledger::open(database.url()).await.unwrap();
    let second = Ledger::open(database.url()).await.unwrap();
    add(first.backend(), 40, 100).await;
    let placed = hold(second.backend(), new_hold(40, 40, None))
        .await
        .unwrap();
    let calls = join_all((0..64).map(|i| {
        let ledger = if i % 2 == 0 { &first } else { &second }.backend().clone();
        let id = placed.hold.hold_id.clone();
        tokio::spawn(async move {
            let call = if i % 4 < 2 {
                capture(&id, None, None)
            } else {
                void(&id, None)
            };
            ledger.resolve_hold(actor(), call, fresh()).await
        })
    }))
    .await;
    let mut won = 0;
    for call in calls {
        // A busy database is an honest answer between two processes; a second win is not.
        match call.unwrap() {
            Ok(Ok(_)) => won += 1,
            Ok(Err(refusal)) => assert_eq!(refusal.code, Code::HoldResolved),
            Err(busy) => eprintln!("not applied: {busy}"),
        }
    }
    assert_eq!(won, 1);
    let (credits, held) = view(first.backend(), 40).await;
    assert!(
        held == 0 && (credits == 60 || credits == 100),
        "{credits} {held}"
    );
    assert_eq!(first.verify().await.unwrap(), Vec::<String>::new());
    first.close().await;
    second.close().await;
}
