//! Many writes at once (on SQLite they share group-commit transactions): a refused, conflicting
//! or invalid request fails alone, its neighbours still commit, and two requests with one
//! reference behave exactly as if they had come one after the other.

mod support;

use credit_sync::protocol::paths;
use futures_util::future::join_all;
use serde_json::{json, Value};
use std::collections::HashMap;
use support::*;

fn batch(bot: &Wire, items: &[(i64, i64, &str)], atomic: bool) -> Value {
    let items: Vec<Value> = items
        .iter()
        .map(|(id, amount, reference)| {
            json!({"telegram_id": id, "amount": amount, "reason": "burst",
                   "external_reference": reference})
        })
        .collect();
    json!({"source": bot.source, "atomic": atomic, "items": items})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failures_in_a_burst_never_undo_their_neighbours() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 50).await;
    for i in 0..40 {
        bot.sync(2, 5, "earn", Some(&format!("conflict_{i}")))
            .await
            .expect_ok();
    }
    let kinds = [
        "deduct", "add", "conflict", "invalid", "unknown", "batch", "atomic",
    ];
    let answers = join_all((0..280).map(|i| {
        let bot = &bot;
        async move {
            let kind = kinds[i % kinds.len()];
            let n = (i / kinds.len()) as i64;
            let answer = match kind {
                // 40 deducts of 2 on a balance of 50: 25 succeed.
                "deduct" => bot.sync(1, -2, "spend", Some(&format!("d{n}"))).await,
                "add" => bot.sync(100 + n, 3, "earn", Some(&format!("a{n}"))).await,
                // Same reference as before, different amount.
                "conflict" => bot.sync(2, 6, "earn", Some(&format!("conflict_{n}"))).await,
                "invalid" => bot.sync(3, 0, "nothing", None).await,
                "unknown" => bot.sync(900 + n, -1, "spend", None).await,
                // Non-atomic: the new user's add commits, the overdraft fails alone.
                "batch" => {
                    let body = batch(
                        bot,
                        &[
                            (200 + n, 4, &format!("b{n}")),
                            (300 + n, -1, &format!("bx{n}")),
                        ],
                        false,
                    );
                    bot.post(paths::BATCH, &body, Sign::V2).await
                }
                // Atomic: one refusal, so nothing of it stays.
                _ => {
                    let body = batch(
                        bot,
                        &[
                            (400 + n, 4, &format!("t{n}")),
                            (500 + n, -1, &format!("tx{n}")),
                        ],
                        true,
                    );
                    bot.post(paths::BATCH, &body, Sign::V2).await
                }
            };
            (kind, answer)
        }
    }))
    .await;

    let mut seen: HashMap<(&str, String), usize> = HashMap::new();
    for (kind, answer) in &answers {
        let code = answer.code().to_string();
        let expected = match *kind {
            "deduct" => &["ok", "insufficient_credits"][..],
            "add" => &["ok"],
            "conflict" => &["reference_conflict"],
            "invalid" => &["invalid_amount"],
            "unknown" => &["user_not_found"],
            _ => &["partial_failure"],
        };
        assert!(
            expected.contains(&code.as_str()),
            "{kind}: {} {:?}",
            answer.status,
            answer.body
        );
        *seen.entry((kind, code)).or_default() += 1;
    }
    assert_eq!(seen[&("deduct", "ok".to_string())], 25);
    assert_eq!(seen[&("deduct", "insufficient_credits".to_string())], 15);
    assert_eq!(bot.balance(1).await, Some(0));
    assert_eq!(bot.balance(2).await, Some(200));
    for n in 0..40 {
        assert_eq!(bot.balance(100 + n).await, Some(3));
        assert_eq!(bot.balance(200 + n).await, Some(4), "batch item {n}");
        assert_eq!(bot.balance(400 + n).await, None, "atomic batch {n}");
        assert_eq!(bot.balance(900 + n).await, None);
    }
    for (kind, answer) in &answers {
        let results = &answer.body["data"]["results"];
        match *kind {
            "batch" => {
                assert_eq!(results[0]["code"], "ok");
                assert_eq!(results[1]["code"], "user_not_found");
            }
            "atomic" => {
                assert_eq!(results[0]["code"], "batch_aborted");
                assert_eq!(results[1]["code"], "user_not_found");
            }
            _ => {}
        }
    }
    assert_verified(&server);
    if !server.is_postgres() {
        assert_requests_shared_commits(&server).await;
    }
}

/// SQLite's `/metrics` shows the group commits, and at least one carried several requests.
async fn assert_requests_shared_commits(server: &Server) {
    let text = server.admin().metrics().await;
    let value = |name: &str| -> u64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {text}"))
    };
    let commits = value("credit_sync_group_commit_size_count ");
    let requests = value("credit_sync_group_commit_size_sum ");
    assert!(
        commits > 0 && requests > commits,
        "{requests} requests in {commits} commits"
    );
    assert_eq!(value("credit_sync_group_commit_failures_total "), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_reference_twice_at_once_behaves_as_if_sequential() {
    let server = Server::start();
    let bot = server.admin();
    bot.fund(1, 30).await;
    let answers = join_all((0..192).map(|i| {
        let bot = &bot;
        async move {
            let n = (i / 2) as i64;
            match n % 3 {
                // The same add twice: one record, one duplicate replay of it.
                0 => {
                    bot.sync(10 + n, 5, "earn", Some(&format!("same_{n}")))
                        .await
                }
                // One reference, two amounts: whichever comes second is a conflict.
                1 => {
                    bot.sync(
                        10 + n,
                        5 + (i % 2) as i64,
                        "earn",
                        Some(&format!("diff_{n}")),
                    )
                    .await
                }
                // The same deduct twice (30 credits, 32 pairs of 1): applies once per pair.
                _ => bot.sync(1, -1, "spend", Some(&format!("deduct_{n}"))).await,
            }
        }
    }))
    .await;
    for (n, pair) in answers.chunks(2).enumerate() {
        let n = n as i64;
        let fresh: Vec<&Reply> = pair
            .iter()
            .filter(|a| a.status == 200 && a.body["data"]["duplicate"] == false)
            .collect();
        match n % 3 {
            0 => {
                assert_eq!(fresh.len(), 1, "{:?}", pair[0].body);
                let dup: Vec<&Reply> = pair
                    .iter()
                    .filter(|a| a.body["data"]["duplicate"] == true)
                    .collect();
                assert_eq!(dup.len(), 1, "{:?} {:?}", pair[0].body, pair[1].body);
                assert_eq!(
                    dup[0].body["data"]["record_id"],
                    fresh[0].body["data"]["record_id"]
                );
                assert_eq!(bot.balance(10 + n).await, Some(5));
            }
            1 => {
                assert_eq!(fresh.len(), 1);
                let conflicts = pair
                    .iter()
                    .filter(|a| a.code() == "reference_conflict")
                    .count();
                assert_eq!(conflicts, 1, "{:?} {:?}", pair[0].body, pair[1].body);
                let applied = fresh[0].body["data"]["change"].as_i64();
                assert_eq!(bot.balance(10 + n).await, applied);
            }
            _ => {
                // Either both ok (fresh + its replay) or both refused (no credits left).
                let codes: Vec<&str> = pair.iter().map(|a| a.code()).collect();
                assert!(
                    codes == ["ok", "ok"] || codes == ["insufficient_credits"; 2],
                    "{codes:?}"
                );
                if codes == ["ok", "ok"] {
                    assert_eq!(fresh.len(), 1);
                }
            }
        }
    }
    assert_eq!(bot.balance(1).await, Some(0));
    // 32 deduct pairs on 30 credits: exactly 30 records of a deduct.
    assert_eq!(bot.record_count(1).await, 31);
    assert_verified(&server);
}
