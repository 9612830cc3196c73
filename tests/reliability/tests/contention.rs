//! No overdraft under contention: a user funded with exactly K × amount meets 256
//! parallel deducts of `amount` from several SDK clients at once. Exactly K succeed,
//! the rest are `insufficient_credits` (a quarter go through the batch path), the balance ends at 0 and no record ever
//! shows a negative `balance_after`. Repeated over seeded rounds.

use credit_sync::{BatchEntry, Code, Error};
use credit_sync_reliability::ledger::Ledger;
use credit_sync_reliability::setup;
use credit_sync_testkit::Wire;
use rand::Rng;
use std::time::Instant;

const ROUNDS: u64 = 10;
const DEDUCTS: usize = 256;
const CLIENTS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_deducts_never_overdraw() {
    let server = setup::start();
    let media = setup::media_bot();
    let game = setup::game_bot();
    let wire = Wire::new(&server.base_url(), &media);
    // Several independent clients (own connection pools), from two sources.
    let clients: Vec<credit_sync::Client> = (0..CLIENTS)
        .map(|i| {
            let source = if i % 2 == 0 { &media } else { &game };
            setup::client(&server.base_url(), source)
        })
        .collect();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let seed = 0xC0FFEE + round;
        let mut rng = setup::rng(seed);
        let user = 1_000 + round as i64;
        let amount: i64 = rng.random_range(1..=1_000);
        let k: i64 = rng.random_range(1..=200);
        let funded = clients[0]
            .add_credits(user, k * amount, "fund", Some(&format!("fund-{seed}")))
            .await
            .expect("funding succeeds");
        assert_eq!(funded.balance, Some(k * amount));

        // Every 4th deduct goes through the batch path (a one-item batch, every 8th
        // atomic), so both write paths race for the same balance.
        let tasks: Vec<_> = (0..DEDUCTS)
            .map(|i| {
                let client = clients[i % CLIENTS].clone();
                tokio::spawn(async move {
                    let reference = format!("d-{seed}-{i}");
                    if i % 4 == 3 {
                        let item =
                            BatchEntry::new(user, -amount, "contention").reference(reference);
                        let batch = client.batch_sync(vec![item], i % 8 == 7).await?;
                        batch
                            .results
                            .into_iter()
                            .next()
                            .expect("one result")
                            .into_result()
                    } else {
                        client
                            .deduct_credits(user, amount, "contention", Some(&reference))
                            .await
                            .map_err(Error::from)
                    }
                })
            })
            .collect();
        let mut ok = 0i64;
        for task in tasks {
            match task.await.expect("task") {
                Ok(r) => {
                    // Each task has its own reference, so a duplicate can only be this
                    // call's own earlier attempt (applied, its answer lost to a timeout
                    // on a loaded machine), which the retry settles exactly once.
                    assert!(
                        r.success && (!r.duplicate || r.attempts > 1),
                        "seed {seed}: {r:?}"
                    );
                    assert!(
                        r.balance.unwrap() >= 0,
                        "seed {seed}: negative balance {r:?}"
                    );
                    ok += 1;
                }
                Err(Error::InsufficientCredits { balance, .. }) => {
                    assert!(
                        balance.unwrap_or(0) < amount,
                        "seed {seed}: refused with {balance:?} left"
                    );
                }
                Err(e) => panic!("seed {seed}: unexpected error {:?}: {e}", e.code()),
            }
        }
        assert_eq!(
            ok, k,
            "seed {seed}: {ok} deducts succeeded, expected exactly {k}"
        );

        let ledger = Ledger::read(&wire, user).await;
        ledger.assert_consistent();
        assert_eq!(ledger.balance, Some(0), "seed {seed}");
        assert_eq!(
            ledger.records.len() as i64,
            1 + k,
            "seed {seed}: one record per success"
        );
        assert!(ledger.records.iter().all(|r| r.balance_after >= 0));
    }
    // A deduct on the empty balance still fails cleanly.
    let err = clients[1]
        .deduct_credits(1_000, 1, "empty", None)
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InsufficientCredits);
    eprintln!(
        "contention: {ROUNDS} rounds x {DEDUCTS} parallel deducts from {CLIENTS} clients in {:.1?}",
        started.elapsed()
    );
}
