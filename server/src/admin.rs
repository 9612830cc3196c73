//! The admin commands: read and repair-free checks straight on the database, for operators.

use crate::ledger::Ledger;
use credit_sync::protocol::{validate_nickname, validate_telegram_id};

async fn open(url: &str) -> Result<Ledger, String> {
    Ledger::open_existing(url).await
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).expect("protocol types serialize")
}

pub async fn add_user(url: &str, telegram_id: i64, nickname: Option<&str>) -> Result<(), String> {
    validate_telegram_id(telegram_id).map_err(|e| e.message)?;
    if let Some(nickname) = nickname {
        validate_nickname(nickname).map_err(|e| e.message)?;
    }
    // Registering a user may create the database, like starting the server would.
    let ledger = Ledger::open(url).await?;
    let user = ledger
        .register(telegram_id, nickname)
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "{} user {} (credits {}, nickname {})",
        if user.created {
            "registered"
        } else {
            "updated"
        },
        user.telegram_id,
        user.credits,
        user.nickname.as_deref().unwrap_or("-")
    );
    ledger.close().await;
    Ok(())
}

pub async fn balance(url: &str, telegram_id: i64) -> Result<(), String> {
    let ledger = open(url).await?;
    let balance = ledger
        .balance(telegram_id)
        .await
        .map_err(|e| e.to_string())?;
    ledger.close().await;
    match balance {
        Some(balance) => {
            println!("{}", json(&balance));
            Ok(())
        }
        None => Err(format!("user {telegram_id} is not registered")),
    }
}

pub async fn records(url: &str, telegram_id: i64, limit: u32) -> Result<(), String> {
    let ledger = open(url).await?;
    let page = ledger
        .records(telegram_id, None, limit.clamp(1, 10_000))
        .await
        .map_err(|e| e.to_string())?;
    ledger.close().await;
    println!("{}", json(&page.records));
    Ok(())
}

/// Exits non-zero (via `Err`) when any invariant is broken.
pub async fn verify(url: &str) -> Result<(), String> {
    let ledger = open(url).await?;
    let problems = ledger.verify().await.map_err(|e| e.to_string())?;
    let counts = ledger.counts().await.map_err(|e| e.to_string())?;
    ledger.close().await;
    if problems.is_empty() {
        println!(
            "ok: {} users, {} records; every balance equals the sum of its records",
            counts.users, counts.records
        );
        Ok(())
    } else {
        for problem in &problems {
            println!("{problem}");
        }
        Err(format!("{} ledger invariant violation(s)", problems.len()))
    }
}
