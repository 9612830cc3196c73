//! The guide's quick start with the Rust SDK: earn with a reference, spend, batch
//! rewards and a balance check, against a running Credit Sync server
//! (`credit-sync-server demo`).
//!
//! Reads `CREDIT_SYNC_BASE_URL`, `CREDIT_SYNC_API_KEY`, `CREDIT_SYNC_SECRET_KEY` and
//! `CREDIT_SYNC_SOURCE`; unset ones default to the demo server's `media_bot`
//! credentials on http://127.0.0.1:8080. Exits 0 when every scenario behaved as
//! expected.
//!
//! ```text
//! cargo run -p credit-sync-examples --bin quickstart
//! ```

use credit_sync::{reference, BatchEntry, Client, Error};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// `Config::from_env()`, with the demo server's credentials for the variables that are unset.
fn config() -> Result<credit_sync::Config, Error> {
    use credit_sync::config::env as vars;
    for (var, default) in [
        (vars::BASE_URL, "http://127.0.0.1:8080"),
        (vars::API_KEY, "media-bot-api-key-2024"),
        (vars::SECRET_KEY, "your-secret-key-here"),
        (vars::SOURCE, "media_bot"),
    ] {
        if std::env::var(var).map_or(true, |v| v.is_empty()) {
            std::env::set_var(var, default);
        }
    }
    credit_sync::Config::from_env()
}

fn check(ok: bool, what: &str, failures: &mut u32) {
    if ok {
        println!("  ok: {what}");
    } else {
        println!("  FAILED: {what}");
        *failures += 1;
    }
}

fn main() -> ExitCode {
    // The environment is read before any other thread exists.
    let outcome = config().and_then(|config| {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| Error::Transport {
            message: format!("cannot start tokio: {e}"),
        })?;
        runtime.block_on(run(config))
    });
    match outcome {
        Ok(0) => {
            println!("\nquick start: every scenario behaved as expected");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("\nquick start: {n} check(s) failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("quick start failed: [{}] {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

async fn run(config: credit_sync::Config) -> Result<u32, Error> {
    let client = Client::new(config)?;
    println!("client: {client:?}");
    let mut failures = 0;
    // Fresh ids per run, so the demo server's ledger never makes a rerun look like a replay.
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let user = 100_000_000 + (run_id % 100_000_000) * 10;
    let video_id = format!("v{run_id}");

    println!("\n1. earn credits for watching a video (reference makes it idempotent)");
    let reward_ref = reference::video_watched(user, &video_id);
    let earned = client
        .add_credits(user, 50, "观看视频《修仙之路》", Some(&reward_ref))
        .await?;
    println!(
        "  balance {:?}, record {:?}, reference {:?}",
        earned.balance, earned.record_id, earned.reference
    );
    check(
        earned.success && earned.balance == Some(50),
        "reward applied",
        &mut failures,
    );
    let again = client
        .add_credits(user, 50, "观看视频《修仙之路》", Some(&reward_ref))
        .await?;
    check(
        again.duplicate && again.balance == Some(50) && again.record_id == earned.record_id,
        "the same reward again is a harmless replay",
        &mut failures,
    );

    println!("\n2. spend credits in the shop");
    let order = reference::order_paid(&format!("{run_id}-vip"));
    match client
        .deduct_credits(user, 500, "购买VIP会员", Some(&order))
        .await
        .map_err(Error::from)
    {
        Err(Error::InsufficientCredits { balance, message }) => {
            println!("  not enough credits ({message}); balance {balance:?}");
            check(
                balance == Some(50),
                "VIP refused, balance unchanged",
                &mut failures,
            );
        }
        other => check(
            false,
            &format!("expected insufficient credits, got {other:?}"),
            &mut failures,
        ),
    }
    let snack = reference::order_paid(&format!("{run_id}-snack"));
    let spent = client
        .deduct_credits(user, 30, "兑换小礼品", Some(&snack))
        .await?;
    println!("  spent 30, balance {:?}", spent.balance);
    check(spent.balance == Some(20), "deduct applied", &mut failures);

    println!("\n3. batch rewards at the end of a campaign");
    let campaign = format!("camp{run_id}");
    let winners = [
        (user + 1, 1000, "活动第1名"),
        (user + 2, 500, "活动第2名"),
        (user + 3, 200, "活动第3名"),
    ];
    let items = winners
        .iter()
        .enumerate()
        .map(|(rank, (id, amount, reason))| {
            BatchEntry::new(*id, *amount, *reason).reference(reference::reference(&[
                campaign.as_str(),
                &(rank + 1).to_string(),
            ]))
        })
        .collect();
    let batch = client.batch_sync(items, false).await?;
    println!("  succeeded: {}, failed: {}", batch.succeeded, batch.failed);
    for r in &batch.results {
        println!(
            "    {} {:+} -> {:?} ({})",
            r.telegram_id, r.change, r.balance, r.code
        );
    }
    check(
        batch.success && batch.succeeded == 3,
        "every winner rewarded",
        &mut failures,
    );

    println!("\n4. check the balance before opening the shop");
    match client.get_balance(user).await? {
        Some(b) => {
            println!("  user {:?} has {} credits", b.nickname, b.credits);
            check(b.credits == 20, "balance is 50 - 30", &mut failures);
        }
        None => check(false, "user should be registered", &mut failures),
    }
    let stranger = client.get_balance(user + 999_999).await?;
    check(
        stranger.is_none(),
        "an unregistered user has no balance",
        &mut failures,
    );
    let page = client.get_records(user, Some(5), None).await?;
    for r in &page.records {
        println!("  {:+} - {}", r.change, r.reason);
    }
    check(
        page.records.len() == 2,
        "two records (reward, spend)",
        &mut failures,
    );
    Ok(failures)
}
