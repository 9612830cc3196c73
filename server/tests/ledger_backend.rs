//! The ledger driven directly through its `LedgerBackend` trait, without HTTP in between,
//! on the backend the suite runs on: a SQLite file in a temp dir, or a fresh PostgreSQL
//! database with `CREDIT_SYNC_TEST_BACKEND=postgres`. Each promise is checked on the
//! concrete backend and again through `AnyBackend`, the one the server holds.

mod support;

use credit_sync::protocol::Code;
use credit_sync_server::ledger::{Actor, Change, LedgerBackend, Outcome, Refusal};

use support::backend::{fresh, signed, SOURCE};

fn actor(auto_register: bool) -> Actor {
    Actor {
        source: SOURCE.into(),
        auto_register,
        admin: false,
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

fn refusal(outcome: Outcome) -> Refusal {
    outcome.expect_err("a refusal")
}

async fn balance(ledger: &impl LedgerBackend, telegram_id: i64) -> Option<i64> {
    let row = ledger.balance(telegram_id).await.unwrap();
    row.map(|row| row.credits)
}

async fn adds_and_deducts(ledger: &impl LedgerBackend) {
    let added = ledger
        .apply(actor(true), change(1, 100, None), fresh())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (added.balance, added.change, added.duplicate),
        (100, 100, false)
    );
    let deducted = ledger
        .apply(actor(true), change(1, -30, None), fresh())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((deducted.balance, deducted.change), (70, -30));
    assert!(deducted.record_id > added.record_id);
    assert_eq!(balance(ledger, 1).await, Some(70));

    let records = ledger.records(1, i64::MAX, 10).await.unwrap();
    let shown: Vec<(i64, i64, i64)> = records
        .iter()
        .map(|r| (r.id, r.change, r.balance_after))
        .collect();
    assert_eq!(
        shown,
        [(deducted.record_id, -30, 70), (added.record_id, 100, 100)]
    );
    assert!(records[0].created_at.ends_with('Z'), "{records:?}");
    assert_eq!(records[0].source, SOURCE);

    let findings = ledger.verify().await.unwrap();
    assert!(findings.sums.is_empty() && findings.chain.is_empty() && findings.orphans.is_empty());
    let counts = ledger.counts().await.unwrap();
    assert_eq!((counts.users, counts.records), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adds_and_deducts_on_each_backend() {
    on_each_backend!(adds_and_deducts);
}

async fn refuses_an_overdraft_and_unknown_users(ledger: &impl LedgerBackend) {
    ledger
        .apply(actor(true), change(2, 10, None), fresh())
        .await
        .unwrap()
        .unwrap();
    let refused = refusal(
        ledger
            .apply(actor(true), change(2, -11, Some("big")), fresh())
            .await
            .unwrap(),
    );
    assert_eq!(refused.code, Code::InsufficientCredits);
    assert_eq!(refused.balance, Some(10));
    assert_eq!(balance(ledger, 2).await, Some(10));
    // The refused reference was not taken: the same reference applies once allowed.
    let applied = ledger
        .apply(actor(true), change(2, -10, Some("big")), fresh())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(applied.balance, 0);

    let unknown = refusal(
        ledger
            .apply(actor(true), change(3, -1, None), fresh())
            .await
            .unwrap(),
    );
    assert_eq!(unknown.code, Code::UserNotFound);
    let strict = refusal(
        ledger
            .apply(actor(false), change(3, 5, None), fresh())
            .await
            .unwrap(),
    );
    assert_eq!(strict.code, Code::UserNotFound);
    assert_eq!(balance(ledger, 3).await, None);
    assert_eq!(ledger.counts().await.unwrap().records, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refuses_an_overdraft_and_unknown_users_on_each_backend() {
    on_each_backend!(refuses_an_overdraft_and_unknown_users);
}

async fn applies_a_reference_once(ledger: &impl LedgerBackend) {
    let first = ledger
        .apply(actor(true), change(4, 25, Some("order-1")), fresh())
        .await
        .unwrap()
        .unwrap();
    let again = ledger
        .apply(actor(true), change(4, 25, Some("order-1")), fresh())
        .await
        .unwrap()
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(
        (again.record_id, again.balance),
        (first.record_id, first.balance)
    );
    let conflict = refusal(
        ledger
            .apply(actor(true), change(4, 26, Some("order-1")), fresh())
            .await
            .unwrap(),
    );
    assert_eq!(conflict.code, Code::ReferenceConflict);
    assert_eq!(conflict.fields, ["amount"]);
    assert_eq!(balance(ledger, 4).await, Some(25));
    assert_eq!(ledger.counts().await.unwrap().records, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applies_a_reference_once_on_each_backend() {
    on_each_backend!(applies_a_reference_once);
}

async fn spends_each_signature_once(ledger: &impl LedgerBackend) {
    let signature = "f000000000000001";
    let first = ledger
        .apply(actor(true), change(5, 7, Some("gift")), signed(signature))
        .await
        .unwrap()
        .unwrap();
    // The same referenced change with the same signature: an honest retry, answered as
    // before.
    let retry = ledger
        .apply(actor(true), change(5, 7, Some("gift")), signed(signature))
        .await
        .unwrap()
        .unwrap();
    assert!(retry.duplicate && retry.record_id == first.record_id);
    // Anything else with that signature is a captured request sent again.
    for other in [change(5, 7, None), change(5, 8, Some("other"))] {
        let reused = refusal(
            ledger
                .apply(actor(true), other, signed(signature))
                .await
                .unwrap(),
        );
        assert_eq!(reused.code, Code::SignatureReused);
    }
    let batch = ledger
        .apply_batch(
            actor(true),
            vec![change(5, 1, None)],
            false,
            signed(signature),
        )
        .await
        .unwrap();
    assert_eq!(batch.unwrap_err().code, Code::SignatureReused);
    let registered = ledger
        .register(6, Some("ann"), Some(signed(signature)))
        .await
        .unwrap();
    assert_eq!(registered.unwrap_err().code, Code::SignatureReused);
    // A refused change spends its signature too: its answer stays final.
    let overdraft = "f000000000000002";
    let refused = refusal(
        ledger
            .apply(actor(true), change(5, -100, None), signed(overdraft))
            .await
            .unwrap(),
    );
    assert_eq!(refused.code, Code::InsufficientCredits);
    let reused = refusal(
        ledger
            .apply(actor(true), change(5, 1, None), signed(overdraft))
            .await
            .unwrap(),
    );
    assert_eq!(reused.code, Code::SignatureReused);
    assert_eq!(balance(ledger, 5).await, Some(7));
    assert_eq!(balance(ledger, 6).await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spends_each_signature_once_on_each_backend() {
    on_each_backend!(spends_each_signature_once);
}

async fn batches_per_item_and_atomically(ledger: &impl LedgerBackend) {
    let user = ledger
        .register(7, Some("bea"), Some(fresh()))
        .await
        .unwrap()
        .unwrap();
    assert!(user.created && user.credits == 0);
    let items = || {
        vec![
            change(7, 10, Some("b-1")),
            change(7, -100, None),
            change(7, 5, None),
        ]
    };
    let aborted = ledger
        .apply_batch(actor(true), items(), true, fresh())
        .await
        .unwrap()
        .unwrap();
    let codes: Vec<Option<Code>> = aborted
        .iter()
        .map(|o| o.as_ref().err().map(|r| r.code))
        .collect();
    assert_eq!(
        codes,
        [
            Some(Code::BatchAborted),
            Some(Code::InsufficientCredits),
            Some(Code::BatchAborted)
        ]
    );
    assert_eq!(balance(ledger, 7).await, Some(0));
    let each = ledger
        .apply_batch(actor(true), items(), false, fresh())
        .await
        .unwrap()
        .unwrap();
    let balances: Vec<Option<i64>> = each
        .iter()
        .map(|o| o.as_ref().ok().map(|a| a.balance))
        .collect();
    assert_eq!(balances, [Some(10), None, Some(15)]);
    assert_eq!(balance(ledger, 7).await, Some(15));
    let renamed = ledger
        .register(7, Some("cy"), Some(fresh()))
        .await
        .unwrap()
        .unwrap();
    assert!(!renamed.created);
    assert_eq!(
        (renamed.credits, renamed.nickname.as_deref()),
        (15, Some("cy"))
    );
    let row = ledger.balance(7).await.unwrap().unwrap();
    assert_eq!(row.nickname.as_deref(), Some("cy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_per_item_and_atomically_on_each_backend() {
    on_each_backend!(batches_per_item_and_atomically);
}

/// Many tasks at once on one user: the same signature applies once, the same reference
/// once, and deducts never overdraw (PostgreSQL takes its one-statement path here, and
/// races within it).
async fn races_keep_every_promise(ledger: &impl LedgerBackend) {
    use futures_util::future::join_all;
    ledger
        .apply(actor(true), change(8, 10, None), fresh())
        .await
        .unwrap()
        .unwrap();
    let twin = "f000000000000003";
    let twins = join_all((0..16).map(|_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .apply(actor(true), change(8, 1, None), signed(twin))
                .await
        }
    }))
    .await;
    let applied = twins.iter().filter(|o| o.as_ref().unwrap().is_ok()).count();
    assert_eq!(applied, 1, "{twins:?}");
    for outcome in twins
        .iter()
        .filter_map(|o| o.as_ref().unwrap().as_ref().err())
    {
        assert_eq!(outcome.code, Code::SignatureReused);
    }
    assert_eq!(balance(ledger, 8).await, Some(11));

    let same_reference = join_all((0..16).map(|_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .apply(actor(true), change(8, 5, Some("once")), fresh())
                .await
                .unwrap()
                .unwrap()
        }
    }))
    .await;
    assert_eq!(same_reference.iter().filter(|a| !a.duplicate).count(), 1);
    assert!(same_reference.iter().all(|a| a.balance == 16));

    let deducts = join_all((0..24).map(|_| {
        let ledger = ledger.clone();
        async move {
            ledger
                .apply(actor(true), change(8, -1, None), fresh())
                .await
                .unwrap()
        }
    }))
    .await;
    let mut balances: Vec<i64> = deducts
        .iter()
        .filter_map(|o| o.as_ref().ok().map(|a| a.balance))
        .collect();
    balances.sort_unstable();
    assert_eq!(balances, (0..16).collect::<Vec<_>>());
    for refused in deducts.iter().filter_map(|o| o.as_ref().err()) {
        assert_eq!(refused.code, Code::InsufficientCredits);
    }
    assert_eq!(balance(ledger, 8).await, Some(0));
    let findings = ledger.verify().await.unwrap();
    assert!(findings.sums.is_empty() && findings.chain.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn races_keep_every_promise_on_each_backend() {
    on_each_backend!(races_keep_every_promise);
}
