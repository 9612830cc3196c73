//! Node.js bindings for the credit-sync core (napi-rs). Each file translates one
//! kind of thing between JavaScript and `credit_sync`: arguments in, results and
//! errors out. Signing, retries, validation and HTTP all stay in the core; the
//! idiomatic API (`CreditSyncClient`, error classes) is the small JS layer in
//! `index.js` / `index.d.ts`, which only wraps these exports.
//!
//! The tokio runtime is napi's own (feature `tokio_rt`): it starts with the first Node
//! environment that loads the addon and is shut down, joining its threads, with the last
//! one, which is what `worker_threads` need. Node has no `fork()`, so no fork hook is needed.

// A failed write carries the core's `WriteError` (its reference, attempts, request id)
// by value, as the core does; one per network call, so its size costs nothing.
#![allow(clippy::result_large_err)]

mod arguments;
mod client;
mod errors;
mod logs;
mod results;

pub use client::{NativeClient, NativeEventFeed};
pub use results::{
    Balance, BatchData, BatchResult, Event, EventsPage, Hold, HoldResult, Holds, Record,
    RecordsPage, ReverseResult, SyncData, SyncResult, TransferLeg, TransferResult, UserData,
};

use arguments::{integer, positive_id};
use napi::bindgen_prelude::Unknown;
use napi::Env;
use napi_derive::napi;

/// The crate version; equal to the npm package version.
#[napi]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Every stable error code of the protocol (and `unknown`), for the JS layer's error classes.
#[napi]
pub fn error_codes() -> Vec<&'static str> {
    credit_sync::Code::ALL
        .iter()
        .map(|c| c.as_str())
        .chain(std::iter::once(credit_sync::Code::Unknown.as_str()))
        .collect()
}

/// Every kind of core error (`insufficient_credits`, `authentication`, ...): the JS layer
/// maps each to its error class and checks at load that none lacks one.
#[napi]
pub fn error_kinds() -> Vec<&'static str> {
    credit_sync::ErrorKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect()
}

/// How a Stars bot answers a `pre_checkout_query` before its own payload check: `null`
/// goes on, a string refuses with that message (the core's `stars::pre_checkout_refusal`).
#[napi(ts_args_type = "currency: string, totalAmount: number | bigint")]
pub fn stars_pre_checkout_refusal(
    env: &Env,
    currency: String,
    total_amount: Unknown<'_>,
) -> napi::Result<Option<String>> {
    let total_amount = integer(env, total_amount, "totalAmount")?;
    Ok(credit_sync::stars::pre_checkout_refusal(&currency, total_amount).map(str::to_string))
}

/// What the Stars middleware states and says, from the core (`credit_sync::stars`).
#[napi(object)]
pub struct StarsDefaults {
    pub credits_per_star: i64,
    pub refund_reason: String,
    /// The refusal when the bot's own payload check turns the invoice down.
    pub offer_refused_message: String,
}

#[napi]
pub fn stars_defaults() -> StarsDefaults {
    StarsDefaults {
        credits_per_star: credit_sync::stars::DEFAULT_CREDITS_PER_STAR,
        refund_reason: credit_sync::stars::DEFAULT_REFUND_REASON.to_string(),
        offer_refused_message: credit_sync::stars::OFFER_REFUSED_MESSAGE.to_string(),
    }
}

/// The guide's v1 token: lowercase hex of
/// HMAC-SHA256(secret, `"{telegramId}:{amount}:{source}:{timestamp}"`).
#[napi(
    ts_args_type = "secret: string, telegramId: number | bigint | string, amount: number | bigint | string, source: string, timestamp: number | bigint"
)]
pub fn generate_token(
    env: &Env,
    secret: String,
    telegram_id: Unknown<'_>,
    amount: Unknown<'_>,
    source: String,
    timestamp: Unknown<'_>,
) -> napi::Result<String> {
    let telegram_id = positive_id(env, telegram_id, "telegramId")?;
    let amount = integer(env, amount, "amount")?;
    let timestamp = integer(env, timestamp, "timestamp")?;
    Ok(credit_sync::signature::v1_token(
        &secret,
        telegram_id,
        amount,
        &source,
        timestamp,
    ))
}

/// A deterministic de-duplication reference built from parts
/// (`["task", "42", "2024-01-05"]` → `task_42_2024-01-05`), always valid for the server.
#[napi]
pub fn make_reference(parts: Vec<String>) -> String {
    credit_sync::reference::reference(&parts)
}

/// The reference for the guide's "watched a video" reward.
#[napi(ts_args_type = "telegramId: number | bigint | string, videoId: string")]
pub fn video_watched_reference(
    env: &Env,
    telegram_id: Unknown<'_>,
    video_id: String,
) -> napi::Result<String> {
    let telegram_id = positive_id(env, telegram_id, "telegramId")?;
    Ok(credit_sync::reference::video_watched(
        telegram_id,
        &video_id,
    ))
}

/// The reference for the guide's shop purchase.
#[napi]
pub fn order_paid_reference(order_id: String) -> String {
    credit_sync::reference::order_paid(&order_id)
}

/// The reference for the guide's daily task.
#[napi(ts_args_type = "telegramId: number | bigint | string, taskId: string, date: string")]
pub fn daily_task_reference(
    env: &Env,
    telegram_id: Unknown<'_>,
    task_id: String,
    date: String,
) -> napi::Result<String> {
    let telegram_id = positive_id(env, telegram_id, "telegramId")?;
    Ok(credit_sync::reference::daily_task(
        telegram_id,
        &task_id,
        &date,
    ))
}

/// Checks a received webhook (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
/// `webhook-signature`, 5 minutes' tolerance) against one or more `whsec_` secrets, and
/// returns its event. The JS layer turns any headers shape into these pairs.
#[napi(
    ts_args_type = "headers: Array<[string, string]>, body: Buffer | string, secrets: Array<string>, bigint?: boolean | null",
    ts_return_type = "Event"
)]
pub fn verify_webhook(
    env: &Env,
    headers: Vec<(String, String)>,
    body: napi::bindgen_prelude::Either<napi::bindgen_prelude::Buffer, String>,
    secrets: Vec<String>,
    bigint: Option<bool>,
) -> napi::Result<Event> {
    let ints = if bigint == Some(true) {
        results::Ints::BigInt
    } else {
        results::Ints::Number
    };
    let body: &[u8] = match &body {
        napi::bindgen_prelude::Either::A(b) => b,
        napi::bindgen_prelude::Either::B(s) => s.as_bytes(),
    };
    credit_sync::verify_webhook(&headers, body, &secrets)
        .and_then(|e| Event::convert(e, ints))
        .map_err(|e| errors::core_error(env, e))
}
