//! The money flows with the Rust SDK, the way a bot uses them: an AI bot holds credits
//! while a job runs and charges only what it used, a shop refunds an order, a user gifts
//! credits to a friend, and a Telegram Stars purchase is credited (and refunded) exactly
//! once however often Telegram tells us. Against a running Credit Sync server
//! (`credit-sync-server demo`).
//!
//! Reads the same `CREDIT_SYNC_*` variables as the quick start, with the demo server's
//! `media_bot` credentials as defaults. Exits 0 when every scenario behaved as expected.
//!
//! ```text
//! cargo run -p credit-sync-examples --bin money_flows
//! ```

use credit_sync::{
    reference, Client, Error, FlowResult, HoldResult, HoldState, Original, StarsPayment, SyncResult,
};
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
    let outcome = config().and_then(|config| {
        let runtime = tokio::runtime::Runtime::new().map_err(|e| Error::Transport {
            message: format!("cannot start tokio: {e}"),
        })?;
        runtime.block_on(run(config))
    });
    match outcome {
        Ok(0) => {
            println!("\nmoney flows: every scenario behaved as expected");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("\nmoney flows: {n} check(s) failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("money flows failed: [{}] {e}", e.code());
            ExitCode::FAILURE
        }
    }
}

/// Stands in for the bot's real work: an image generation that costs `cost` credits, or
/// fails.
fn generate_image(succeeds: bool) -> Option<i64> {
    succeeds.then_some(12)
}

async fn run(config: credit_sync::Config) -> Result<u32, Error> {
    let client = Client::new(config)?;
    let mut failures = 0;
    let run_id = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let user = 200_000_000 + (run_id % 100_000_000) * 10;
    let friend = user + 1;

    client.add_credits(user, 100, "welcome bonus", None).await?;

    println!("\n1. an AI job: hold the most it may cost, charge what it used");
    let hold = client
        .hold_credits(user, 20, "image generation", None, Some(300))
        .await?;
    let view = hold.data.as_ref().expect("a placed hold has its answer");
    println!(
        "  held {} of {}, available {}",
        view.held, view.credits, view.available
    );
    check(
        view.available == 80,
        "the hold is out of reach",
        &mut failures,
    );
    let hold_id = hold.hold().expect("the hold").hold_id.clone();
    match generate_image(true) {
        Some(cost) => {
            let captured = client.capture_hold(&hold_id, Some(cost), None).await?;
            let view = captured.data.as_ref().expect("the capture's answer");
            println!("  charged {cost}, balance {}", view.credits);
            check(
                view.credits == 88 && view.held == 0,
                "charged 12, the other 8 released",
                &mut failures,
            );
        }
        None => {
            client.void_hold(&hold_id, None).await?;
        }
    }
    // A failed job releases its whole hold.
    let failed_job = client
        .hold_credits(user, 20, "image generation", None, None)
        .await?;
    let failed_id = failed_job.hold().expect("the hold").hold_id.clone();
    if generate_image(false).is_none() {
        let voided = client.void_hold(&failed_id, None).await?;
        check(
            voided.hold().map(|h| h.state) == Some(HoldState::Voided),
            "a failed job costs nothing",
            &mut failures,
        );
    }
    // Resolving it again is refused with its final state (the guide's result style).
    let late = HoldResult::settle(client.capture_hold(&failed_id, None, None).await)
        .map_err(Error::from)?;
    println!("  a late capture: {} ({})", late.code, late.message);
    check(
        !late.success && late.hold().map(|h| h.state) == Some(HoldState::Voided),
        "a hold resolves once",
        &mut failures,
    );

    println!("\n2. the shop refunds an order");
    let order = reference::order_paid(&format!("{run_id}-poster"));
    client
        .deduct_credits(user, 40, "poster", Some(&order))
        .await?;
    let refund = client
        .reverse_record(
            Original::Reference(order.clone()),
            Some(15),
            "poster arrived damaged",
            None,
        )
        .await?;
    let r = refund.data.as_ref().expect("the reversal's answer");
    println!(
        "  gave back {}, {} left to refund, balance {}",
        r.change, r.remaining, r.balance
    );
    check(
        r.balance == 63 && r.remaining == 25,
        "partial refund",
        &mut failures,
    );
    let too_much = FlowResult::settle(
        client
            .reverse_record(Original::Reference(order), Some(26), "again", None)
            .await,
    )
    .map_err(Error::from)?;
    check(
        too_much.code.as_str() == "reversal_exceeds_record",
        "never more than the order",
        &mut failures,
    );

    println!("\n3. a gift to a friend");
    let gift = client
        .transfer_credits(user, friend, 30, "birthday gift", None)
        .await?;
    let t = gift.data.as_ref().expect("the transfer's answer");
    println!(
        "  {} -> {}: {} now has {}, {} has {}",
        t.from.telegram_id, t.to.telegram_id, user, t.from.balance, friend, t.to.balance
    );
    check(
        t.from.balance == 33 && t.to.balance == 30,
        "both balances moved together",
        &mut failures,
    );

    println!("\n4. a Telegram Stars purchase (successful_payment), delivered twice");
    let payment = StarsPayment {
        currency: "XTR".into(),
        total_amount: 25,
        telegram_payment_charge_id: format!("stxDemo{run_id}"),
    };
    let paid = client.credit_stars_payment(user, &payment, 4).await?;
    let again = client.credit_stars_payment(user, &payment, 4).await?;
    println!(
        "  credited {}, balance {:?}; again: duplicate {}",
        paid.change, paid.balance, again.duplicate
    );
    check(
        paid.balance == Some(133) && again.duplicate && again.balance == Some(133),
        "one credit per charge id",
        &mut failures,
    );
    let not_stars = SyncResult::settle(
        client
            .credit_stars_payment(
                user,
                &StarsPayment {
                    currency: "USD".into(),
                    ..payment.clone()
                },
                4,
            )
            .await,
    )
    .map_err(Error::from)?;
    check(
        !not_stars.success,
        "only XTR payments buy credits",
        &mut failures,
    );
    println!("  refundStarPayment, then the refunded_payment update");
    let refunded = client
        .refund_stars_payment(&payment.telegram_payment_charge_id, "Stars refunded")
        .await?;
    let told_again = client
        .refund_stars_payment(&payment.telegram_payment_charge_id, "Stars refunded")
        .await?;
    check(
        refunded.data.as_ref().map(|d| d.balance) == Some(33) && told_again.duplicate(),
        "one refund, however often it is told",
        &mut failures,
    );

    match client.get_balance(user).await? {
        Some(b) => {
            println!(
                "\nbalance: {} credits, {} held, {:?} available",
                b.credits, b.held, b.available
            );
            check(
                b.credits == 33 && b.held == 0,
                "the ledger adds up",
                &mut failures,
            );
        }
        None => check(false, "the user is registered", &mut failures),
    }
    Ok(failures)
}
