//! Exactly once: 64 concurrent identical requests with one reference make one
//! record; every answer is a success and 63 of them say `duplicate: true`. Reusing
//! the reference with another payload is `reference_conflict` and changes nothing.

use credit_sync::protocol::headers;
use credit_sync::{BatchEntry, Error};
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::Wire;
use std::collections::HashSet;
use std::time::Instant;

const CONCURRENT: usize = 64;
const ROUNDS: i64 = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_reference_one_record() {
    let server = setup::start();
    let media = setup::media_bot();
    let wire = Wire::new(&server.base_url(), &media);
    let clients: Vec<credit_sync::Client> = (0..4)
        .map(|_| setup::client(&server.base_url(), &media))
        .collect();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let user = 2_000 + round;
        // Round 0/1: adds to a new user (auto-register races too); 2/3: deducts.
        let deduct = round >= 2;
        if deduct {
            clients[0]
                .add_credits(user, 1_000, "fund", None)
                .await
                .unwrap();
        }
        let reference = format!("once-{round}");
        let tasks: Vec<_> = (0..CONCURRENT)
            .map(|i| {
                let client = clients[i % clients.len()].clone();
                let reference = reference.clone();
                tokio::spawn(async move {
                    if deduct {
                        client
                            .deduct_credits(user, 300, "once", Some(&reference))
                            .await
                    } else {
                        client
                            .add_credits(user, 300, "once", Some(&reference))
                            .await
                    }
                })
            })
            .collect();
        let mut originals = 0;
        let mut record_ids = HashSet::new();
        for task in tasks {
            let r = task
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
            assert!(r.success);
            assert_eq!(r.reference.as_deref(), Some(reference.as_str()));
            if !r.duplicate {
                originals += 1;
            }
            record_ids.insert(r.record_id.expect("record id"));
        }
        assert_eq!(
            originals, 1,
            "round {round}: exactly one original, 63 duplicates"
        );
        assert_eq!(
            record_ids.len(),
            1,
            "round {round}: every answer names the same record"
        );

        let expected = if deduct { 700 } else { 300 };
        let before = Ledger::read(&wire, user).await;
        before.assert_consistent();
        assert_eq!(before.balance, Some(expected));
        assert_eq!(before.references().get(reference.as_str()), Some(&1));

        // A raw replay is marked on the wire too.
        let amount = if deduct { -300 } else { 300 };
        let replay = wire.sync_v2(user, amount, "once", Some(&reference)).await;
        assert_eq!(replay.outcome(), (200, "ok"), "{}", replay.text);
        assert_eq!(replay.body["data"]["duplicate"], true);
        assert_eq!(replay.header(headers::IDEMPOTENT_REPLAYED), Some("true"));

        // Same reference, other amount (and other reason, other user): conflict, nothing written.
        let err = clients[1]
            .sync(user, amount * 2, "once", Some(&reference))
            .await
            .unwrap_err();
        match &err.error {
            Error::ReferenceConflict { fields, .. } => {
                assert!(fields.iter().any(|f| f == "amount"), "{fields:?}")
            }
            other => panic!("round {round}: expected reference_conflict, got {other:?}"),
        }
        let other_reason = wire
            .sync_v2(user, amount, "changed", Some(&reference))
            .await;
        assert_eq!(
            other_reason.outcome(),
            (409, "reference_conflict"),
            "{}",
            other_reason.text
        );
        let other_user = wire
            .sync_v2(user + 100, 300, "once", Some(&reference))
            .await;
        assert_eq!(
            other_user.outcome(),
            (409, "reference_conflict"),
            "{}",
            other_user.text
        );
        let after = Ledger::read(&wire, user).await;
        assert_eq!(
            after.balance, before.balance,
            "round {round}: a conflict changed the balance"
        );
        assert_eq!(
            after.records, before.records,
            "round {round}: a conflict wrote a record"
        );
        assert_eq!(
            wire.balance(user + 100).await,
            None,
            "a conflict registered a user"
        );
    }
    // References are per source: another source may use the same string.
    let game = setup::game_bot();
    let game_wire = Wire::new(&server.base_url(), &game);
    let r = game_wire.sync_v2(2_000, 5, "once", Some("once-0")).await;
    assert_eq!(r.outcome(), (200, "ok"), "{}", r.text);
    assert_eq!(r.body["data"]["duplicate"], false);
    eprintln!(
        "exactly_once: {ROUNDS} rounds x {CONCURRENT} concurrent identical requests in {:.1?}",
        started.elapsed()
    );
}

/// The same for batches: 64 concurrent copies of one 10-item batch (some atomic)
/// apply each item once; every copy reports every item as a success.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_batch_reference_one_record() {
    let server = setup::start();
    let media = setup::media_bot();
    let wire = Wire::new(&server.base_url(), &media);
    let client = setup::client(&server.base_url(), &media);
    let items: Vec<BatchEntry> = (0..10)
        .map(|i| BatchEntry::new(2_200 + i % 3, 10 + i, "batch-once").reference(format!("bo-{i}")))
        .collect();
    let tasks: Vec<_> = (0..CONCURRENT)
        .map(|n| {
            let (client, items) = (client.clone(), items.clone());
            tokio::spawn(async move { client.batch_sync(items, n % 13 == 0).await })
        })
        .collect();
    let mut originals = vec![0; 10];
    for task in tasks {
        let batch = task.await.unwrap().expect("batch");
        assert!(batch.success && batch.succeeded == 10, "{batch:?}");
        for (i, r) in batch.results.iter().enumerate() {
            if !r.duplicate {
                originals[i] += 1;
            }
        }
    }
    assert_eq!(
        originals,
        vec![1; 10],
        "each item applied by exactly one batch"
    );
    let mut total = 0;
    for user in 2_200..2_203 {
        let ledger = Ledger::read(&wire, user).await;
        ledger.assert_consistent();
        total += ledger.sum();
    }
    assert_eq!(total, (10..20).sum::<i64>());
}
