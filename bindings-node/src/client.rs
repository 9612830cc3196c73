//! `NativeClient`: the core's async `Client` behind JS Promises. The JS class
//! `CreditSyncClient` (`index.js`) wraps it one-to-one.

use crate::arguments::{
    self, batch_entry, count, integer, optional_integer, optional_string, positive_id,
    reverse_arguments, stars_payment, string,
};
use crate::errors::{core_error, type_error};
use crate::logs::{self, Logger};
use crate::results::{
    Balance, BatchResult, Event, EventsPage, HoldResult, Holds, Ints, Record, RecordsPage,
    ReverseResult, SyncResult, TransferResult, UserData,
};
use credit_sync::{Config, ConfigBuilder, Error, FlowResult, Proxy, RetryBudget, WriteError};
use napi::bindgen_prelude::{Array, Either, PromiseRaw, Unknown};
use napi::{Env, JsValue, ValueType};
use napi_derive::napi;
use std::future::Future;
use std::sync::RwLock;
use std::time::Duration;
use tokio::sync::watch;

/// Options of `new CreditSyncClient({...})`. Missing credentials are reported by the core's
/// config builder (`invalid_argument`), naming the environment variable too.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct ClientOptions {
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    pub secret_key: Option<String>,
    pub source: Option<String>,
    /// The whole call's deadline in milliseconds, retries and backoff included. Default 10 000.
    pub timeout_ms: Option<f64>,
    /// One attempt's limit in milliseconds. Default: the smaller of 10 000 and what
    /// remains of the deadline.
    pub attempt_timeout_ms: Option<f64>,
    /// Retries after the first attempt. Default 3.
    pub max_retries: Option<f64>,
    /// The client's retry budget in tokens (a retry costs 5, one after a timeout 10; a
    /// success refills 1). Default 500; `false` turns it off.
    pub retry_budget: Option<Either<f64, bool>>,
    /// The HTTP proxy URL. Default: `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` from the
    /// environment; `""` goes direct whatever the environment says.
    pub proxy: Option<String>,
    /// A PEM bundle of CA certificates trusted beside the system's roots.
    pub ca_file: Option<String>,
    /// Receives the SDK's log of this client's calls: each attempt, retry, backoff and
    /// clock correction, with the request id; never a credential. Levels are `error`,
    /// `warn`, `info`, `debug`, `trace`. A logger that throws is ignored.
    #[napi(
        ts_type = "(level: 'error' | 'warn' | 'info' | 'debug' | 'trace', message: string) => void"
    )]
    pub logger: Option<Logger>,
    /// Return every integer field as a `BigInt` (exact for any 64-bit value). Without it
    /// integers are numbers, and a value beyond 2^53−1 fails the call with `unsafe_integer`.
    pub bigint: Option<bool>,
}

/// Options of `getRecords`.
#[napi(object)]
pub struct RecordsOptions {
    /// 1–200, default 20.
    pub limit: Option<f64>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// Options of `getEvents`.
#[napi(object)]
pub struct EventsOptions {
    /// `nextCursor` of the previous page, or a stored `event.cursor`; without it the feed
    /// starts at the oldest event kept.
    pub after: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<f64>,
    /// Seconds to long-poll when nothing is new yet (0–30), default 0.
    pub wait: Option<f64>,
}

/// Options of `records`.
#[napi(object)]
pub struct RecordWalkOptions {
    /// Records fetched per page, 1–200. Default 100.
    pub page_size: Option<f64>,
}

/// Options of `events`.
#[napi(object)]
pub struct FeedOptions {
    /// A stored `event.cursor` (or `nextCursor`) to resume after; without it the feed
    /// starts at the oldest event kept.
    pub after: Option<String>,
}

/// Options of `batchSync`.
#[napi(object)]
pub struct BatchOptions {
    /// All items apply or none do. Default false.
    pub atomic: Option<bool>,
}

/// The native client. Use `CreditSyncClient` from the package instead.
#[napi]
pub struct NativeClient {
    /// `None` once closed: the connection pool is released when the last call in flight ends.
    client: RwLock<Option<credit_sync::Client>>,
    /// Flips to `true` on `close()`, which ends every call in flight with `client_closed`.
    closed: watch::Sender<bool>,
    /// Numbers or BigInts, as the options asked.
    ints: Ints,
    /// Where this client's calls log: the `logger` option, or nowhere.
    log: tracing::Dispatch,
}

#[napi]
impl NativeClient {
    #[napi(constructor, ts_args_type = "options: ClientOptions")]
    pub fn new(env: &Env, options: Unknown<'_>) -> napi::Result<Self> {
        let mut options: ClientOptions =
            arguments::options(env, Some(options), "options")?.unwrap_or_default();
        let mut builder = Config::builder();
        if let Some(v) = options.base_url.take() {
            builder = builder.base_url(v);
        }
        if let Some(v) = options.api_key.take() {
            builder = builder.api_key(v);
        }
        if let Some(v) = options.secret_key.take() {
            builder = builder.secret_key(v);
        }
        if let Some(v) = options.source.take() {
            builder = builder.source(v);
        }
        Self::configured(env, builder, options)
    }

    /// A client from `CREDIT_SYNC_BASE_URL`, `CREDIT_SYNC_API_KEY`, `CREDIT_SYNC_SECRET_KEY`
    /// and `CREDIT_SYNC_SOURCE`, with the constructor's other options.
    #[napi(
        factory,
        ts_args_type = "options?: Omit<ClientOptions, 'baseUrl' | 'apiKey' | 'secretKey' | 'source'> | null"
    )]
    pub fn from_env(env: &Env, options: Option<Unknown<'_>>) -> napi::Result<Self> {
        let options: ClientOptions =
            arguments::options(env, options, "options")?.unwrap_or_default();
        let given = [
            ("baseUrl", options.base_url.is_some()),
            ("apiKey", options.api_key.is_some()),
            ("secretKey", options.secret_key.is_some()),
            ("source", options.source.is_some()),
        ];
        if let Some((name, _)) = given.iter().find(|(_, set)| *set) {
            return Err(type_error(
                env,
                format!(
                    "fromEnv reads {name} from the environment; pass it to the constructor instead"
                ),
            ));
        }
        Self::configured(env, ConfigBuilder::from_env(), options)
    }

    /// Applies the options both constructors share (everything but the credentials).
    fn configured(
        env: &Env,
        mut builder: ConfigBuilder,
        options: ClientOptions,
    ) -> napi::Result<Self> {
        if let Some(ms) = options.timeout_ms {
            if !(ms.is_finite() && ms > 0.0) {
                return Err(type_error(
                    env,
                    format!("timeoutMs must be a positive number of milliseconds, got {ms}"),
                ));
            }
            builder = builder.timeout(Duration::from_secs_f64(ms / 1000.0));
        }
        if let Some(ms) = options.attempt_timeout_ms {
            if !(ms.is_finite() && ms > 0.0) {
                return Err(type_error(
                    env,
                    format!("attemptTimeoutMs must be a positive number of milliseconds, got {ms}"),
                ));
            }
            builder = builder.attempt_timeout(Duration::from_secs_f64(ms / 1000.0));
        }
        if let Some(v) = count(env, options.max_retries, "maxRetries")? {
            builder = builder.max_retries(v);
        }
        builder = match options.retry_budget {
            None | Some(Either::B(true)) => builder,
            Some(Either::B(false)) => builder.disable_retry_budget(),
            Some(Either::A(tokens)) => {
                let capacity = count(env, Some(tokens), "retryBudget")?.unwrap_or_default();
                builder.retry_budget(RetryBudget {
                    capacity,
                    ..RetryBudget::default()
                })
            }
        };
        builder = builder.proxy(Proxy::from_option(options.proxy.as_deref()));
        if let Some(path) = options.ca_file {
            builder = builder.ca_file(path);
        }
        let ints = if options.bigint.unwrap_or(false) {
            Ints::BigInt
        } else {
            Ints::Number
        };
        let log = options
            .logger
            .map_or_else(tracing::Dispatch::none, logs::dispatch);
        Self::build(env, builder, ints, log)
    }

    fn build(
        env: &Env,
        builder: ConfigBuilder,
        ints: Ints,
        log: tracing::Dispatch,
    ) -> napi::Result<Self> {
        let client = builder
            .user_agent(concat!("credit-sync-node/", env!("CARGO_PKG_VERSION")))
            .build()
            .and_then(credit_sync::Client::new)
            .map_err(|e| core_error(env, e))?;
        Ok(NativeClient {
            client: RwLock::new(Some(client)),
            closed: watch::Sender::new(false),
            ints,
            log,
        })
    }

    /// Adds `amount` (> 0) credits. Business failures resolve with `success: false`.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, amount: number | bigint | string, reason: string, reference?: string | null",
        ts_return_type = "Promise<SyncResult>"
    )]
    pub fn add_credits<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
        amount: Unknown<'_>,
        reason: Unknown<'_>,
        reference: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, SyncResult>> {
        let (id, amount, reason, reference) =
            change_args(env, telegram_id, amount, reason, reference)?;
        self.write(env, id, amount, reference, move |c, r| async move {
            c.add_credits(id, amount, &reason, Some(&r)).await
        })
    }

    /// Deducts `amount` (> 0) credits; never below zero. Business failures resolve with `success: false`.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, amount: number | bigint | string, reason: string, reference?: string | null",
        ts_return_type = "Promise<SyncResult>"
    )]
    pub fn deduct_credits<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
        amount: Unknown<'_>,
        reason: Unknown<'_>,
        reference: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, SyncResult>> {
        let (id, amount, reason, reference) =
            change_args(env, telegram_id, amount, reason, reference)?;
        let change = credit_sync::model::deduct_change(amount);
        self.write(env, id, change, reference, move |c, r| async move {
            c.deduct_credits(id, amount, &reason, Some(&r)).await
        })
    }

    /// Applies up to 1,000 changes `{ telegramId, amount, reason, reference? }` (signed amounts).
    #[napi(
        ts_args_type = "items: Array<{ telegramId: number | bigint | string; amount: number | bigint | string; reason: string; reference?: string | null }>, options?: BatchOptions | null",
        ts_return_type = "Promise<BatchResult>"
    )]
    pub fn batch_sync<'env>(
        &self,
        env: &'env Env,
        items: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, BatchResult>> {
        let options: Option<BatchOptions> = arguments::options(env, options, "options")?;
        if items.get_type()? != ValueType::Object || !items.is_array()? {
            return Err(type_error(env, "items must be an array".to_string()));
        }
        // SAFETY: `cast` reinterprets the JS value without checking; it was checked just
        // above to be an array object.
        let items: Array<'_> = unsafe { items.cast()? };
        let entries = (0..items.len())
            .map(|i| {
                batch_entry(
                    env,
                    items
                        .get::<Unknown<'_>>(i)?
                        .unwrap_or_else(|| unreachable!()),
                    i as usize,
                )
            })
            .collect::<napi::Result<Vec<_>>>()?;
        let atomic = options.and_then(|o| o.atomic).unwrap_or(false);
        let count = entries.len();
        let ints = self.ints;
        let settle = move |outcome| {
            credit_sync::BatchResult::settle(count, outcome)
                .map_err(|e| e.error)
                .and_then(|r| BatchResult::convert(r, ints))
        };
        let closed = move || settle(Err(WriteError::unsent(Error::Closed, None, None, None)));
        self.call_or(
            env,
            move |c| async move { settle(c.batch_sync(entries, atomic).await) },
            closed,
        )
    }

    /// Reserves `amount` (> 0) of the user's available credits for `ttlSeconds` (default
    /// 600, at most 7 days). Every failure with a code resolves with `success: false`.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, amount: number | bigint | string, reason: string, reference?: string | null, ttlSeconds?: number | null",
        ts_return_type = "Promise<HoldResult>"
    )]
    pub fn hold_credits<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
        amount: Unknown<'_>,
        reason: Unknown<'_>,
        reference: Option<Unknown<'_>>,
        ttl_seconds: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, HoldResult>> {
        let (id, amount, reason, reference) =
            change_args(env, telegram_id, amount, reason, reference)?;
        let ttl = optional_integer(env, ttl_seconds, "ttlSeconds")?;
        self.flow(
            env,
            reference,
            HoldResult::convert,
            move |c, r| async move { c.hold_credits(id, amount, &reason, Some(&r), ttl).await },
        )
    }

    /// Charges a hold: `amount` (default all of it) is deducted, the rest released. The same
    /// capture again (same `reference`) is a replay; any other is `hold_resolved`.
    #[napi(
        ts_args_type = "holdId: string, amount?: number | bigint | string | null, reference?: string | null",
        ts_return_type = "Promise<HoldResult>"
    )]
    pub fn capture_hold<'env>(
        &self,
        env: &'env Env,
        hold_id: Unknown<'_>,
        amount: Option<Unknown<'_>>,
        reference: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, HoldResult>> {
        let hold_id = string(env, hold_id, "holdId")?;
        let amount = optional_integer(env, amount, "amount")?;
        let reference = optional_string(env, reference, "reference")?;
        self.flow(
            env,
            reference,
            HoldResult::convert,
            move |c, r| async move { c.capture_hold(&hold_id, amount, Some(&r)).await },
        )
    }

    /// Releases a hold without charging it.
    #[napi(
        ts_args_type = "holdId: string, reference?: string | null",
        ts_return_type = "Promise<HoldResult>"
    )]
    pub fn void_hold<'env>(
        &self,
        env: &'env Env,
        hold_id: Unknown<'_>,
        reference: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, HoldResult>> {
        let hold_id = string(env, hold_id, "holdId")?;
        let reference = optional_string(env, reference, "reference")?;
        self.flow(
            env,
            reference,
            HoldResult::convert,
            move |c, r| async move { c.void_hold(&hold_id, Some(&r)).await },
        )
    }

    /// The user's open holds and balance view, or `null` for an unregistered user.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string",
        ts_return_type = "Promise<Holds | null>"
    )]
    pub fn get_holds<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Option<Holds>>> {
        let id = positive_id(env, telegram_id, "telegramId")?;
        let ints = self.ints;
        self.call(env, move |c| async move {
            c.get_holds(id)
                .await?
                .map(|h| Holds::convert(h, ints))
                .transpose()
        })
    }

    /// Reverses a record (`recordId`, or the `reference` it was made with), wholly or
    /// `amount` of it, with a new linked record.
    #[napi(
        ts_args_type = "options: { recordId?: number | bigint | string | null; reference?: string | null; amount?: number | bigint | string | null; reason?: string | null; reversalReference?: string | null }",
        ts_return_type = "Promise<ReverseResult>"
    )]
    pub fn reverse_record<'env>(
        &self,
        env: &'env Env,
        options: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, ReverseResult>> {
        let a = reverse_arguments(env, options)?;
        let reason = a
            .reason
            .unwrap_or_else(|| credit_sync::model::DEFAULT_REVERSAL_REASON.to_string());
        let (original, amount) = (a.original, a.amount);
        self.flow(
            env,
            a.reversal_reference,
            ReverseResult::convert,
            move |c, r| async move {
                let original =
                    original.map_err(|e| WriteError::unsent(e, None, None, Some(r.clone())))?;
                c.reverse_record(original, amount, &reason, Some(&r)).await
            },
        )
    }

    /// Moves `amount` (> 0) of `fromId`'s available credits to `toId`: both records or neither.
    #[napi(
        ts_args_type = "fromId: number | bigint | string, toId: number | bigint | string, amount: number | bigint | string, reason: string, reference?: string | null",
        ts_return_type = "Promise<TransferResult>"
    )]
    pub fn transfer_credits<'env>(
        &self,
        env: &'env Env,
        from_id: Unknown<'_>,
        to_id: Unknown<'_>,
        amount: Unknown<'_>,
        reason: Unknown<'_>,
        reference: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, TransferResult>> {
        let from = positive_id(env, from_id, "fromId")?;
        let (to, amount, reason, reference) = change_args(env, to_id, amount, reason, reference)?;
        self.flow(
            env,
            reference,
            TransferResult::convert,
            move |c, r| async move {
                c.transfer_credits(from, to, amount, &reason, Some(&r))
                    .await
            },
        )
    }

    /// Credits a Telegram Stars `successful_payment`: `total_amount * creditsPerStar`, once
    /// per `telegram_payment_charge_id` (a redelivered update is a `duplicate`).
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, payment: object, creditsPerStar?: number | bigint | string | null",
        ts_return_type = "Promise<SyncResult>"
    )]
    pub fn credit_stars_payment<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
        payment: Unknown<'_>,
        credits_per_star: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, SyncResult>> {
        let id = positive_id(env, telegram_id, "telegramId")?;
        let payment = stars_payment(env, payment)?;
        let rate = optional_integer(env, credits_per_star, "creditsPerStar")?
            .unwrap_or(credit_sync::stars::DEFAULT_CREDITS_PER_STAR);
        let reference = credit_sync::stars::payment_reference(&payment.telegram_payment_charge_id);
        let change = credit_sync::stars::credits_for(&payment, rate).unwrap_or(0);
        self.write(env, id, change, Some(reference), move |c, _| async move {
            c.credit_stars_payment(id, &payment, rate).await
        })
    }

    /// Reverses the credit of the Stars payment `chargeId`, once: repeating it (with the same
    /// `reason`) is a `duplicate` success.
    #[napi(
        ts_args_type = "chargeId: string, reason?: string | null",
        ts_return_type = "Promise<ReverseResult>"
    )]
    pub fn refund_stars_payment<'env>(
        &self,
        env: &'env Env,
        charge_id: Unknown<'_>,
        reason: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, ReverseResult>> {
        let charge_id = string(env, charge_id, "chargeId")?;
        let reason = optional_string(env, reason, "reason")?
            .unwrap_or_else(|| credit_sync::stars::DEFAULT_REFUND_REASON.to_string());
        let reference = credit_sync::stars::refund_reference(&charge_id);
        self.flow(
            env,
            Some(reference),
            ReverseResult::convert,
            move |c, _| async move { c.refund_stars_payment(&charge_id, &reason).await },
        )
    }

    /// `{ telegramId, credits, held, available, nickname }`, or `null` for an unregistered user.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string",
        ts_return_type = "Promise<Balance | null>"
    )]
    pub fn get_balance<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
    ) -> napi::Result<PromiseRaw<'env, Option<Balance>>> {
        let id = positive_id(env, telegram_id, "telegramId")?;
        let ints = self.ints;
        self.call(env, move |c| async move {
            c.get_balance(id)
                .await?
                .map(|b| Balance::convert(b, ints))
                .transpose()
        })
    }

    /// One page of records, newest first.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, options?: RecordsOptions | null",
        ts_return_type = "Promise<RecordsPage>"
    )]
    pub fn get_records<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, RecordsPage>> {
        let id = positive_id(env, telegram_id, "telegramId")?;
        let options: Option<RecordsOptions> = arguments::options(env, options, "options")?;
        let (limit, cursor) = match options {
            Some(o) => (count(env, o.limit, "options.limit")?, o.cursor),
            None => (None, None),
        };
        let ints = self.ints;
        self.call(env, move |c| async move {
            RecordsPage::convert(c.get_records(id, limit, cursor.as_deref()).await?, ints)
        })
    }

    /// One page of the event feed, oldest first; with `wait`, a long poll that answers as
    /// soon as an event is committed.
    #[napi(
        ts_args_type = "options?: EventsOptions | null",
        ts_return_type = "Promise<EventsPage>"
    )]
    pub fn get_events<'env>(
        &self,
        env: &'env Env,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, EventsPage>> {
        let options: Option<EventsOptions> = arguments::options(env, options, "options")?;
        let (after, limit, wait) = match options {
            Some(o) => (
                o.after,
                count(env, o.limit, "options.limit")?,
                count(env, o.wait, "options.wait")?,
            ),
            None => (None, None, None),
        };
        let ints = self.ints;
        self.call(env, move |c| async move {
            EventsPage::convert(c.get_events(after.as_deref(), limit, wait).await?, ints)
        })
    }

    /// The core's walk over the user's records (`records_stream`, newest first); the JS
    /// layer makes it an async iterable.
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, options?: RecordWalkOptions | null"
    )]
    pub fn records(
        &self,
        env: &Env,
        telegram_id: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> napi::Result<NativeRecordWalk> {
        let id = positive_id(env, telegram_id, "telegramId")?;
        let options: Option<RecordWalkOptions> = arguments::options(env, options, "options")?;
        let page_size = count(env, options.and_then(|o| o.page_size), "options.pageSize")?
            .unwrap_or(credit_sync::records::DEFAULT_PAGE_SIZE);
        let stream = self
            .client
            .read()
            .ok()
            .and_then(|c| c.clone())
            .map(|c| Box::pin(c.records_stream(id, page_size)) as RecordStream);
        Ok(NativeRecordWalk {
            walk: Walk::new(stream, self),
        })
    }

    /// The core's endless, long-polling event stream from `after`; the JS layer makes it
    /// an async iterable.
    #[napi(ts_args_type = "options?: FeedOptions | null")]
    pub fn events(&self, env: &Env, options: Option<Unknown<'_>>) -> napi::Result<NativeEventFeed> {
        let options: Option<FeedOptions> = arguments::options(env, options, "options")?;
        let after = options.and_then(|o| o.after);
        let stream = self
            .client
            .read()
            .ok()
            .and_then(|c| c.clone())
            .map(|c| Box::pin(c.events(after.as_deref())) as EventStream);
        Ok(NativeEventFeed {
            feed: Walk::new(stream, self),
        })
    }

    /// Registers a user or updates their nickname (admin sources only).
    #[napi(
        ts_args_type = "telegramId: number | bigint | string, nickname?: string | null",
        ts_return_type = "Promise<UserData>"
    )]
    pub fn register_user<'env>(
        &self,
        env: &'env Env,
        telegram_id: Unknown<'_>,
        nickname: Option<Unknown<'_>>,
    ) -> napi::Result<PromiseRaw<'env, UserData>> {
        let id = positive_id(env, telegram_id, "telegramId")?;
        let nickname = optional_string(env, nickname, "nickname")?;
        let ints = self.ints;
        self.call(env, move |c| async move {
            UserData::convert(c.register_user(id, nickname.as_deref()).await?, ints)
        })
    }

    /// Closes the client: calls in flight reject with `client_closed`, later calls too.
    /// Idempotent.
    #[napi]
    pub fn close(&self) {
        self.closed.send_replace(true);
        if let Ok(mut client) = self.client.write() {
            client.take();
        }
    }

    /// `true` once `close()` was called.
    #[napi(getter)]
    pub fn closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// The one helper every call goes through. It exists because two things need the
    /// JS thread or the client's lifecycle, not the core:
    /// - the future runs on napi's tokio runtime, and the Promise settles back on the JS
    ///   thread, where a core error becomes a JS `Error` with `.code` (that needs the `Env`);
    /// - `close()` must end calls in flight with `client_closed` rather than leave them
    ///   pending, so the call races the close signal and the losing future is dropped
    ///   (which cancels its HTTP request; a change already sent may still apply, and a
    ///   retry with the same reference is a harmless replay).
    fn call<'env, T, F, Fut>(&self, env: &'env Env, f: F) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: Send + 'static + napi::bindgen_prelude::ToNapiValue,
        F: FnOnce(credit_sync::Client) -> Fut,
        Fut: Future<Output = credit_sync::Result<T>> + Send + 'static,
    {
        self.call_or(env, f, || Err(Error::Closed))
    }

    /// A credit change, settled by the core's one rule (`SyncResult::settle`): every
    /// failure with a code resolves as `success: false` with the reference it carried.
    /// The reference is made here when the caller gave none (the core's `reference::auto`),
    /// so a change cut short by `close()` still reports the one it was sent with.
    fn write<'env, F, Fut>(
        &self,
        env: &'env Env,
        telegram_id: i64,
        change: i64,
        reference: Option<String>,
        f: F,
    ) -> napi::Result<PromiseRaw<'env, SyncResult>>
    where
        F: FnOnce(credit_sync::Client, String) -> Fut,
        Fut: Future<Output = Result<credit_sync::SyncResult, WriteError>> + Send + 'static,
    {
        let reference = reference.unwrap_or_else(credit_sync::reference::auto);
        let ints = self.ints;
        let settle = move |outcome| {
            credit_sync::SyncResult::settle(outcome)
                .map_err(|e| e.error)
                .and_then(|r| SyncResult::convert(r, ints))
        };
        let sent = reference.clone();
        let closed = move || {
            settle(Err(WriteError::unsent(
                Error::Closed,
                Some(telegram_id),
                Some(change),
                Some(reference),
            )))
        };
        self.call_or(
            env,
            move |c| {
                let work = f(c, sent);
                async move { settle(work.await) }
            },
            closed,
        )
    }

    /// A money flow, settled by the core's rule (`FlowResult::settle`) exactly as
    /// [`Self::write`] settles a change, then converted by `convert`.
    fn flow<'env, T, R, F, Fut>(
        &self,
        env: &'env Env,
        reference: Option<String>,
        convert: fn(FlowResult<T>, Ints) -> Result<R, Error>,
        f: F,
    ) -> napi::Result<PromiseRaw<'env, R>>
    where
        T: Send + 'static,
        R: Send + 'static + napi::bindgen_prelude::ToNapiValue,
        F: FnOnce(credit_sync::Client, String) -> Fut,
        Fut: Future<Output = Result<FlowResult<T>, WriteError>> + Send + 'static,
    {
        let reference = reference.unwrap_or_else(credit_sync::reference::auto);
        let ints = self.ints;
        let settle = move |outcome| {
            FlowResult::settle(outcome)
                .map_err(|e| e.error)
                .and_then(|r| convert(r, ints))
        };
        let sent = reference.clone();
        let closed = move || {
            settle(Err(WriteError::unsent(
                Error::Closed,
                None,
                None,
                Some(reference),
            )))
        };
        self.call_or(
            env,
            move |c| {
                let work = f(c, sent);
                async move { settle(work.await) }
            },
            closed,
        )
    }

    /// [`Self::call`] with what a call ended by `close()` (or made after it) settles to.
    fn call_or<'env, T, F, Fut, C>(
        &self,
        env: &'env Env,
        f: F,
        closed_outcome: C,
    ) -> napi::Result<PromiseRaw<'env, T>>
    where
        T: Send + 'static + napi::bindgen_prelude::ToNapiValue,
        F: FnOnce(credit_sync::Client) -> Fut,
        Fut: Future<Output = credit_sync::Result<T>> + Send + 'static,
        C: FnOnce() -> credit_sync::Result<T> + Send + 'static,
    {
        let client = self.client.read().ok().and_then(|c| c.clone());
        let mut closed = self.closed.subscribe();
        let work = client.map(f);
        let fut = async move {
            let Some(work) = work else {
                return Ok(closed_outcome());
            };
            let close_signal = async move {
                // A dropped sender means the client object was collected, not closed.
                if closed.wait_for(|c| *c).await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            Ok(tokio::select! {
                r = work => r,
                () = close_signal => closed_outcome(),
            })
        };
        let fut = tracing::instrument::WithSubscriber::with_subscriber(fut, self.log.clone());
        env.spawn_future_with_callback(fut, |env, r: credit_sync::Result<T>| {
            r.map_err(|e| core_error(env, e))
        })
    }
}

type EventStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = credit_sync::Result<credit_sync::Event>> + Send>>;
type RecordStream =
    std::pin::Pin<Box<dyn futures::Stream<Item = credit_sync::Result<credit_sync::Record>> + Send>>;

/// One core stream behind a JS async iterable (`events()`, `records()`), stepped one
/// `next()` per JS iteration, so nothing is in flight (or keeps the process alive) between
/// iterations; `close()` of the client and `stop()` (the iterator's `return()`) end it.
struct Walk<S> {
    /// `None` when the client was already closed: the first `next()` rejects with `client_closed`.
    stream: std::sync::Arc<tokio::sync::Mutex<Option<S>>>,
    client_closed: watch::Receiver<bool>,
    /// Flips on `stop()`: a pending `next()` resolves `null`.
    stopped: watch::Sender<bool>,
    ints: Ints,
    log: tracing::Dispatch,
}

impl<S, T> Walk<S>
where
    S: futures::Stream<Item = credit_sync::Result<T>> + Unpin + Send + 'static,
    T: Send + 'static,
{
    fn new(stream: Option<S>, client: &NativeClient) -> Self {
        Walk {
            stream: std::sync::Arc::new(tokio::sync::Mutex::new(stream)),
            client_closed: client.closed.subscribe(),
            stopped: watch::Sender::new(false),
            ints: client.ints,
            log: client.log.clone(),
        }
    }

    /// The next item converted by `convert`, or `null` once the stream ended or was stopped.
    fn next<'env, R>(
        &self,
        env: &'env Env,
        convert: fn(T, Ints) -> Result<R, Error>,
    ) -> napi::Result<PromiseRaw<'env, Option<R>>>
    where
        R: Send + 'static + napi::bindgen_prelude::ToNapiValue,
    {
        let stream = self.stream.clone();
        let mut client_closed = self.client_closed.clone();
        let mut stopped = self.stopped.subscribe();
        let ints = self.ints;
        let fut = async move {
            let step = async move {
                let mut guard = stream.lock().await;
                let Some(s) = guard.as_mut() else {
                    return Err(Error::Closed);
                };
                match futures::StreamExt::next(s).await {
                    Some(r) => convert(r?, ints).map(Some),
                    None => Ok(None),
                }
            };
            if *stopped.borrow() {
                return Ok(None);
            }
            tokio::select! {
                // Stopped first: once `stop()` ran, no item is taken from the stream.
                biased;
                _ = stopped.wait_for(|s| *s) => Ok(None),
                r = step => r,
                // A dropped sender means the client object was collected, not closed.
                Ok(_) = client_closed.wait_for(|c| *c) => Err(Error::Closed),
            }
        };
        let fut = tracing::instrument::WithSubscriber::with_subscriber(fut, self.log.clone());
        env.spawn_future_with_callback(async move { Ok(fut.await) }, |env, r| {
            r.map_err(|e| core_error(env, e))
        })
    }

    /// Idempotent.
    fn stop(&self) {
        self.stopped.send_replace(true);
        if let Ok(mut s) = self.stream.try_lock() {
            s.take();
        }
    }
}

/// One `events()` feed: the core's endless event stream (see [`Walk`]).
#[napi]
pub struct NativeEventFeed {
    feed: Walk<EventStream>,
}

#[napi]
impl NativeEventFeed {
    /// The next event (waiting for one as long as it takes), or `null` once stopped.
    #[napi(ts_return_type = "Promise<Event | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Event>>> {
        self.feed.next(env, Event::convert)
    }

    /// Ends the feed: a pending `next()` resolves `null`, later ones too. Idempotent.
    #[napi]
    pub fn stop(&self) {
        self.feed.stop()
    }
}

/// One `records()` walk: the core's `records_stream` (see [`Walk`]).
#[napi]
pub struct NativeRecordWalk {
    walk: Walk<RecordStream>,
}

#[napi]
impl NativeRecordWalk {
    /// The next record, or `null` once every record was read (or the walk stopped).
    #[napi(ts_return_type = "Promise<Record | null>")]
    pub fn next<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, Option<Record>>> {
        self.walk.next(env, Record::convert)
    }

    /// Ends the walk: a pending `next()` resolves `null`, later ones too. Idempotent.
    #[napi]
    pub fn stop(&self) {
        self.walk.stop()
    }
}

/// The arguments shared by `addCredits` and `deductCredits`.
fn change_args(
    env: &Env,
    telegram_id: Unknown<'_>,
    amount: Unknown<'_>,
    reason: Unknown<'_>,
    reference: Option<Unknown<'_>>,
) -> napi::Result<(i64, i64, String, Option<String>)> {
    Ok((
        positive_id(env, telegram_id, "telegramId")?,
        integer(env, amount, "amount")?,
        string(env, reason, "reason")?,
        optional_string(env, reference, "reference")?,
    ))
}
