//! The async client: validates, signs, sends, retries and decodes every call.
//! One logical call = one fixed `external_reference` + as many signed attempts as
//! the retry policy allows.

use crate::clock::Clock;
use crate::config::DEFAULT_ATTEMPT_TIMEOUT;
use crate::config::{Config, ConfigBuilder};
use crate::error::{Error, Result, WriteError};
use crate::events::{EventsPage, Feed, Step as FeedStep, LONG_POLL_WAIT_SECS};
use crate::model::{
    deduct_change, Balance, BatchEntry, BatchResult, FlowResult, HoldResult, Holds, Original,
    Record, RecordsPage, ReverseResult, SyncResult, TransferResult, UserData,
};
use crate::protocol::{
    self, fields, limits, paths, BalanceResponse, BatchData, BatchItem, BatchItemResult,
    BatchRequest, CaptureRequest, Code, Envelope, HoldRequest, HoldsResponse, RecordsResponse,
    RegisterUserRequest, ReverseRequest, SyncRequest, SyncResponse, TransferRequest, UserResponse,
    VoidRequest,
};
use crate::protocol::{Event, EventsResponse};
use crate::records::Pager;
use crate::response::{self, Accept, Failure};
use crate::retry::{RetryPolicy, TokenBucket};
use crate::signature;
use crate::stars::{self, StarsPayment};
use crate::transport::{Method, Transport};
use futures::Stream;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Async Credit Sync client. Cheap to clone (an `Arc` inside); safe to share across
/// tasks and threads. It runs on whatever tokio runtime polls it.
///
/// Every write carries an `external_reference`: the caller's, or an `auto-<uuid v7>`
/// made once per call. Retries (connect errors, timeouts, broken connections, 408,
/// 429, 5xx) reuse it, so a retry can never apply a change twice.
///
/// ```no_run
/// use credit_sync::{reference, Client, Error, WriteError};
///
/// # async fn run() -> Result<(), Error> {
/// let client = Client::builder()
///     .base_url("http://127.0.0.1:8080")
///     .api_key("media-bot-api-key-2024")
///     .secret_key("your-secret-key-here")
///     .source("media_bot")
///     .build()
///     .and_then(Client::new)?;
///
/// // Earn: the reference makes the reward idempotent.
/// let r = client
///     .add_credits(123456789, 50, "watched a video", Some(&reference::video_watched(123456789, "12345")))
///     .await?;
/// println!("balance {:?}, duplicate {}", r.balance, r.duplicate);
///
/// // Spend: business failures are typed errors; a write's error says which reference
/// // it carried, so an unknown outcome is retried with it and applies exactly once.
/// match client.deduct_credits(123456789, 500, "VIP", None).await {
///     Ok(r) => println!("paid, balance {:?}", r.balance),
///     Err(WriteError { error: Error::InsufficientCredits { balance, .. }, .. }) => {
///         println!("only {balance:?} credits")
///     }
///     Err(e) if e.error.outcome_unknown() => {
///         client.deduct_credits(123456789, 500, "VIP", e.reference.as_deref()).await?;
///     }
///     Err(e) => return Err(e.into()),
/// }
///
/// if let Some(b) = client.get_balance(123456789).await? {
///     println!("{} credits", b.credits);
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    transport: Transport,
    clock: Clock,
    policy: RetryPolicy,
    budget: Option<TokenBucket>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("clock_offset_secs", &self.inner.clock.offset())
            .finish()
    }
}

/// A request body for one attempt, signed at the attempt's timestamp.
type BodyFn<'a> = &'a (dyn Fn(i64) -> Vec<u8> + Send + Sync);

impl Client {
    /// A [`ConfigBuilder`]; finish with `.build().and_then(Client::new)`.
    pub fn builder() -> ConfigBuilder {
        Config::builder()
    }

    /// A client for `config`. Needs no runtime; connections open on first use.
    pub fn new(config: Config) -> Result<Client> {
        let transport = Transport::new(&config)?;
        let policy = RetryPolicy {
            max_retries: config.max_retries,
            backoff: config.backoff,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                budget: config.retry_budget.map(TokenBucket::new),
                config,
                transport,
                clock: Clock::default(),
                policy,
            }),
        })
    }

    /// A client configured from the `CREDIT_SYNC_*` environment variables.
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    /// The client's configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Seconds added to the local clock when signing. Learnt from the server after a
    /// `timestamp_out_of_window`; shared by every clone.
    pub fn clock_offset(&self) -> i64 {
        self.inner.clock.offset()
    }

    /// Sets the clock offset (seconds added to the local clock when signing), e.g.
    /// to start from a known skew. The client corrects it by itself when the server
    /// reports a clock difference.
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.clock.set_offset(secs)
    }

    /// Adds `amount` (> 0) credits. An unknown user is registered first when the
    /// source allows it. Failures are `Err` with the reference the change was sent with
    /// ([`WriteError`]); [`SyncResult::settle`] gives the guide's `success == false` style.
    pub async fn add_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult, WriteError> {
        if amount < 0 {
            return Err(WriteError::unsent(
                field_argument(
                    fields::AMOUNT,
                    format!("add_credits takes a positive amount, got {amount}; use deduct_credits to remove credits"),
                ),
                Some(telegram_id),
                Some(amount),
                reference.map(str::to_string),
            ));
        }
        self.sync(telegram_id, amount, reason, reference).await
    }

    /// Deducts `amount` (> 0) credits; never takes the balance below zero
    /// ([`Error::InsufficientCredits`] carries the current balance).
    pub async fn deduct_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult, WriteError> {
        if amount < 0 {
            return Err(WriteError::unsent(
                field_argument(
                    fields::AMOUNT,
                    format!("deduct_credits takes a positive amount to remove, got {amount}"),
                ),
                Some(telegram_id),
                Some(amount),
                reference.map(str::to_string),
            ));
        }
        self.sync(telegram_id, deduct_change(amount), reason, reference)
            .await
    }

    /// Applies a signed change (positive adds, negative deducts).
    pub async fn sync(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult, WriteError> {
        // Made before anything can fail, so every failure can say which reference it carried.
        let reference = reference.map_or_else(auto_reference, str::to_string);
        let unsent = |e: Error| {
            WriteError::unsent(e, Some(telegram_id), Some(amount), Some(reference.clone()))
        };
        protocol::validate_change(telegram_id, amount, reason, Some(&reference), i64::MAX)
            .map_err(|e| unsent(e.into()))?;
        let config = &self.inner.config;
        let body = |ts: i64| {
            to_json(&SyncRequest {
                telegram_id,
                amount,
                source: config.source.clone(),
                reason: reason.to_string(),
                timestamp: Some(ts),
                token: Some(signature::v1_token(
                    &config.secret_key,
                    telegram_id,
                    amount,
                    &config.source,
                    ts,
                )),
                external_reference: Some(reference.clone()),
            })
        };
        let answer = self
            .call(Method::Post, paths::SYNC, Some(&body), Accept::Success)
            .await
            .map_err(|f| f.into_write(Some(telegram_id), Some(amount), Some(reference.clone())))?;
        let answered = |e: Error| WriteError {
            error: e,
            reference: Some(reference.clone()),
            telegram_id: Some(telegram_id),
            change: Some(amount),
            attempts: answer.attempts,
            retryable: false,
            request_id: answer.request_id.clone(),
        };
        let resp: SyncResponse = response::decode(answer.value.clone()).map_err(answered)?;
        let data = resp
            .data
            .ok_or_else(|| answered(missing_data(paths::SYNC)))?;
        Ok(SyncResult {
            success: true,
            code: resp.code,
            message: resp.message,
            telegram_id: data.telegram_id,
            change: data.change,
            balance: Some(data.balance),
            record_id: Some(data.record_id),
            duplicate: data.duplicate,
            reference: Some(reference),
            attempts: answer.attempts,
            retryable: false,
            request_id: answer.request_id,
            error: None,
        })
    }

    /// Applies up to 1,000 changes, each on its own (or all-or-nothing with `atomic`).
    /// Item failures are in the per-item results; `Err` means the batch as a whole failed.
    pub async fn batch_sync(
        &self,
        items: Vec<BatchEntry>,
        atomic: bool,
    ) -> Result<BatchResult, WriteError> {
        let unsent = |e: Error| WriteError::unsent(e, None, None, None);
        if items.is_empty() || items.len() > limits::MAX_BATCH_ITEMS {
            return Err(unsent(Error::Validation {
                code: Code::BatchTooLarge,
                message: format!(
                    "a batch holds 1 to {} items, got {}",
                    limits::MAX_BATCH_ITEMS,
                    items.len()
                ),
                field: Some(fields::ITEMS.to_string()),
            }));
        }
        for (i, item) in items.iter().enumerate() {
            protocol::validate_change(
                item.telegram_id,
                item.amount,
                &item.reason,
                item.reference.as_deref(),
                i64::MAX,
            )
            .map_err(|e| {
                let mut err = Error::from(e);
                if let Error::Validation { field, .. } = &mut err {
                    *field = field.take().map(|f| format!("{}[{i}].{f}", fields::ITEMS));
                }
                unsent(err)
            })?;
        }
        // One reference per item for the whole call, so retries replay instead of re-applying.
        let items: Vec<BatchItem> = items
            .into_iter()
            .map(|e| BatchItem {
                telegram_id: e.telegram_id,
                amount: e.amount,
                reason: e.reason,
                external_reference: Some(e.reference.unwrap_or_else(auto_reference)),
                token: None,
            })
            .collect();
        let config = &self.inner.config;
        let body = |ts: i64| {
            let items = items
                .iter()
                .map(|it| BatchItem {
                    token: Some(signature::v1_token(
                        &config.secret_key,
                        it.telegram_id,
                        it.amount,
                        &config.source,
                        ts,
                    )),
                    ..it.clone()
                })
                .collect();
            to_json(&BatchRequest {
                source: config.source.clone(),
                items,
                atomic,
                timestamp: Some(ts),
            })
        };
        let answer = self
            .call(
                Method::Post,
                paths::BATCH,
                Some(&body),
                Accept::BatchResults,
            )
            .await
            .map_err(|f| f.into_write(None, None, None))?;
        let answered = |e: Error| WriteError {
            error: e,
            reference: None,
            telegram_id: None,
            change: None,
            attempts: answer.attempts,
            retryable: false,
            request_id: answer.request_id.clone(),
        };
        let resp: Envelope<BatchData> = response::decode(answer.value.clone()).map_err(answered)?;
        let data = resp
            .data
            .ok_or_else(|| answered(missing_data(paths::BATCH)))?;
        let results: Vec<SyncResult> = data
            .results
            .into_iter()
            .map(|r| {
                let sent = items
                    .get(r.index)
                    .and_then(|i| i.external_reference.clone());
                item_result(r, sent, &answer)
            })
            .collect();
        let failed = results.iter().filter(|r| !r.success).count();
        Ok(BatchResult {
            success: failed == 0,
            code: resp.code,
            message: resp.message,
            succeeded: results.len() - failed,
            failed,
            results,
            attempts: answer.attempts,
            retryable: false,
            request_id: answer.request_id,
            error: None,
        })
    }

    /// Reserves `amount` (> 0) of the user's available credits for `ttl_seconds` (default
    /// 600, at most 7 days), until [`Client::capture_hold`] charges it or
    /// [`Client::void_hold`] releases it. `data.hold.hold_id` names the hold. Failures
    /// are `Err` with the reference the call carried; [`FlowResult::settle`] gives the
    /// guide's `success == false` style.
    pub async fn hold_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
        ttl_seconds: Option<i64>,
    ) -> Result<HoldResult, WriteError> {
        let reference = reference.map_or_else(auto_reference, str::to_string);
        let request = HoldRequest {
            telegram_id,
            amount,
            reason: reason.to_string(),
            external_reference: Some(reference.clone()),
            ttl_secs: ttl_seconds,
            source: None,
        };
        let context = Sent::change(telegram_id, deduct_change(amount), &reference);
        protocol::validate_hold(&request, i64::MAX).map_err(|e| context.unsent(e.into()))?;
        self.flow(paths::HOLDS, &request, context).await
    }

    /// Charges a hold: `amount` (default: all of it; at most what is held) becomes one
    /// deduction, and the rest is released. The reference (the caller's, or an auto one)
    /// makes it retryable: the same capture again is a replay (`duplicate`), while any
    /// other capture or void of a resolved hold is [`Error::HoldResolved`] with its final
    /// state.
    pub async fn capture_hold(
        &self,
        hold_id: &str,
        amount: Option<i64>,
        reference: Option<&str>,
    ) -> Result<HoldResult, WriteError> {
        let reference = reference.map_or_else(auto_reference, str::to_string);
        let request = CaptureRequest {
            amount,
            external_reference: Some(reference.clone()),
            source: None,
        };
        let context = Sent::by_id(amount.map(deduct_change), &reference);
        check_hold_id(hold_id).map_err(|e| context.unsent(e))?;
        protocol::validate_capture(&request, i64::MAX).map_err(|e| context.unsent(e.into()))?;
        self.flow(&paths::capture(hold_id), &request, context).await
    }

    /// Releases a hold without charging it; retryable by its reference like a capture.
    pub async fn void_hold(
        &self,
        hold_id: &str,
        reference: Option<&str>,
    ) -> Result<HoldResult, WriteError> {
        let reference = reference.map_or_else(auto_reference, str::to_string);
        let request = VoidRequest {
            external_reference: Some(reference.clone()),
            source: None,
        };
        let context = Sent::by_id(None, &reference);
        check_hold_id(hold_id).map_err(|e| context.unsent(e))?;
        protocol::validate_reference(&reference).map_err(|e| context.unsent(e.into()))?;
        self.flow(&paths::void(hold_id), &request, context).await
    }

    /// The user's open holds (oldest first) and balance view; `None` for an unregistered
    /// user.
    pub async fn get_holds(&self, telegram_id: i64) -> Result<Option<Holds>> {
        protocol::validate_telegram_id(telegram_id)?;
        let path = paths::holds(telegram_id);
        match self.call(Method::Get, &path, None, Accept::Success).await {
            Ok(answer) => {
                let r: HoldsResponse = response::decode(answer.value)?;
                Ok(Some(Holds {
                    telegram_id: r.telegram_id,
                    credits: r.credits,
                    held: r.held,
                    available: r.available,
                    holds: r.holds,
                }))
            }
            Err(CallFailure {
                error: Error::UserNotFound { .. },
                ..
            }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// Reverses a record, or `amount` of it (default: all that is left), with a new record
    /// linked to it: a reversed add deducts, a reversed deduct or capture gives back. The
    /// reversals of a record never sum to more than it ([`Error::Conflict`] with
    /// `reversal_exceeds_record`).
    pub async fn reverse_record(
        &self,
        original: Original,
        amount: Option<i64>,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<ReverseResult, WriteError> {
        let reference = reference.map_or_else(auto_reference, str::to_string);
        let (record_id, original_reference) = match original {
            Original::Record(id) => (Some(id), None),
            Original::Reference(r) => (None, Some(r)),
        };
        let request = ReverseRequest {
            record_id,
            original_reference,
            amount,
            reason: reason.to_string(),
            external_reference: Some(reference.clone()),
            source: None,
        };
        let context = Sent::by_id(None, &reference);
        protocol::validate_reverse(&request, i64::MAX).map_err(|e| context.unsent(e.into()))?;
        self.flow(paths::REVERSE, &request, context).await
    }

    /// Moves `amount` (> 0) of `from_id`'s available credits to `to_id`: two linked records,
    /// written together or not at all.
    pub async fn transfer_credits(
        &self,
        from_id: i64,
        to_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<TransferResult, WriteError> {
        let reference = reference.map_or_else(auto_reference, str::to_string);
        let request = TransferRequest {
            from_telegram_id: from_id,
            to_telegram_id: to_id,
            amount,
            reason: reason.to_string(),
            external_reference: Some(reference.clone()),
            source: None,
        };
        let context = Sent::change(from_id, deduct_change(amount), &reference);
        protocol::validate_transfer(&request, i64::MAX).map_err(|e| context.unsent(e.into()))?;
        self.flow(paths::TRANSFER, &request, context).await
    }

    /// Credits a Telegram Stars payment (`successful_payment`): `total_amount *
    /// credits_per_star` credits, once per `telegram_payment_charge_id` (a redelivery is a
    /// `duplicate`). Anything but a positive `XTR` payment is `invalid_argument`; see
    /// [`crate::stars`].
    pub async fn credit_stars_payment(
        &self,
        telegram_id: i64,
        payment: &StarsPayment,
        credits_per_star: i64,
    ) -> Result<SyncResult, WriteError> {
        let reference = stars::payment_reference(&payment.telegram_payment_charge_id);
        let credits = stars::credits_for(payment, credits_per_star)
            .map_err(|e| WriteError::unsent(e, Some(telegram_id), None, Some(reference.clone())))?;
        self.sync(
            telegram_id,
            credits,
            &stars::payment_reason(payment),
            Some(&reference),
        )
        .await
    }

    /// Reverses what [`Client::credit_stars_payment`] credited for `charge_id` (after the
    /// Bot API's `refundStarPayment`, or on a `refunded_payment` update). Repeating it with
    /// the same `reason` is an idempotent success (`duplicate`).
    pub async fn refund_stars_payment(
        &self,
        charge_id: &str,
        reason: &str,
    ) -> Result<ReverseResult, WriteError> {
        let reference = stars::refund_reference(charge_id);
        stars::check_charge_id(charge_id)
            .map_err(|e| WriteError::unsent(e, None, None, Some(reference.clone())))?;
        self.reverse_record(
            Original::Reference(stars::payment_reference(charge_id)),
            None,
            reason,
            Some(&reference),
        )
        .await
    }

    /// One money-flow write: `request` (the same bytes on every attempt, each signed
    /// anew) to `path`, answered with an envelope whose `data` is `T`.
    async fn flow<Req, T>(
        &self,
        path: &str,
        request: &Req,
        sent: Sent,
    ) -> Result<FlowResult<T>, WriteError>
    where
        Req: serde::Serialize + Sync,
        T: serde::de::DeserializeOwned,
    {
        let bytes = to_json(request);
        let body = |_ts: i64| bytes.clone();
        let answer = self
            .call(Method::Post, path, Some(&body), Accept::Success)
            .await
            .map_err(|f| {
                f.into_write(sent.telegram_id, sent.change, Some(sent.reference.clone()))
            })?;
        let answered = |e: Error| WriteError {
            error: e,
            reference: Some(sent.reference.clone()),
            telegram_id: sent.telegram_id,
            change: sent.change,
            attempts: answer.attempts,
            retryable: false,
            request_id: answer.request_id.clone(),
        };
        let resp: Envelope<T> = response::decode(answer.value.clone()).map_err(answered)?;
        let data = resp.data.ok_or_else(|| answered(missing_data(path)))?;
        Ok(FlowResult::answered(
            resp.code,
            resp.message,
            data,
            sent.reference,
            answer.attempts,
            answer.request_id,
        ))
    }

    /// The user's balance (with `held` and `available`); `None` for an unregistered user.
    pub async fn get_balance(&self, telegram_id: i64) -> Result<Option<Balance>> {
        protocol::validate_telegram_id(telegram_id)?;
        let path = paths::balance(telegram_id);
        match self.call(Method::Get, &path, None, Accept::Success).await {
            Ok(answer) => {
                let mut balance = response::decode::<BalanceResponse>(answer.value)?.balance;
                // A server from before holds has none: everything is available.
                balance
                    .available
                    .get_or_insert(balance.credits - balance.held);
                Ok(Some(balance))
            }
            Err(CallFailure {
                error: Error::UserNotFound { .. },
                ..
            }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// One page of records, newest first. `limit` is 1..=200 (server default 20);
    /// pass the page's `next_cursor` as `cursor` for the next (older) page.
    pub async fn get_records(
        &self,
        telegram_id: i64,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<RecordsPage> {
        protocol::validate_telegram_id(telegram_id)?;
        if let Some(limit) = limit {
            if limit == 0 || limit > limits::MAX_RECORDS_LIMIT {
                return Err(field_argument(
                    fields::LIMIT,
                    format!(
                        "limit must be 1 to {}, got {limit}",
                        limits::MAX_RECORDS_LIMIT
                    ),
                ));
            }
        }
        if let Some(cursor) = cursor {
            let url_safe =
                |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
            if cursor.is_empty() || !cursor.chars().all(url_safe) {
                return Err(field_argument(
                    fields::CURSOR,
                    "cursor must be a next_cursor returned by get_records",
                ));
            }
        }
        let path = paths::records(telegram_id, limit, cursor);
        let answer = self.call(Method::Get, &path, None, Accept::Success).await?;
        Ok(response::decode::<RecordsResponse>(answer.value)?.page)
    }

    /// Every record of a user, newest first, fetching pages of `page_size` as needed
    /// (the bindings default it to [`crate::records::DEFAULT_PAGE_SIZE`]).
    /// The stream ends after the first error.
    pub fn records_stream(
        &self,
        telegram_id: i64,
        page_size: u32,
    ) -> impl Stream<Item = Result<Record>> + Send + 'static {
        let client = self.clone();
        futures::stream::unfold(Pager::new(page_size), move |mut pager| {
            let client = client.clone();
            async move {
                let fetch = |cursor: Option<String>, limit| {
                    let client = client.clone();
                    async move {
                        client
                            .get_records(telegram_id, Some(limit), cursor.as_deref())
                            .await
                    }
                };
                let next = pager.next(fetch).await?;
                Some((next, pager))
            }
        })
    }

    /// One page of the event feed, oldest first: the events after `after` (`None`: from
    /// the oldest retained event), at most `limit` (1..=500; `None`: 100). With `wait`
    /// seconds (0..=30; `None`: 0) the server holds an empty page until an event commits
    /// or the wait ends; the call's timeouts are extended by `wait`. A cursor older than
    /// the feed retains fails with [`Error::CursorExpired`].
    pub async fn get_events(
        &self,
        after: Option<&str>,
        limit: Option<u32>,
        wait: Option<u32>,
    ) -> Result<EventsPage> {
        crate::events::check_page_args(after, limit, wait)?;
        let path = paths::events(after, limit, wait);
        let wait = Duration::from_secs(u64::from(wait.unwrap_or(0)));
        let answer = self
            .call_waiting(Method::Get, &path, None, Accept::Success, wait)
            .await?;
        let resp: EventsResponse = response::decode(answer.value)?;
        Ok(EventsPage {
            events: resp.events,
            next_cursor: resp.next_cursor,
        })
    }

    /// Every event after `after` (`None`: from the oldest retained), oldest first, without
    /// end: long polls of [`LONG_POLL_WAIT_SECS`](crate::events::LONG_POLL_WAIT_SECS)
    /// that resume from the last page's cursor. Store [`Event::cursor`] of each handled
    /// event and pass it as `after` to resume. An error is yielded and the stream ends
    /// (transport errors were retried already; `cursor_expired` cannot be).
    pub fn events(
        &self,
        after: Option<&str>,
    ) -> impl Stream<Item = Result<Event>> + Send + 'static {
        let client = self.clone();
        futures::stream::unfold(Feed::new(after), move |mut feed| {
            let client = client.clone();
            async move {
                loop {
                    match feed.step() {
                        FeedStep::Yield(e) => return Some((Ok(e), feed)),
                        FeedStep::Done => return None,
                        FeedStep::Fetch(after) => {
                            match client
                                .get_events(after.as_deref(), None, Some(LONG_POLL_WAIT_SECS))
                                .await
                            {
                                Ok(page) => feed.feed(page),
                                Err(e) => {
                                    feed.fail();
                                    return Some((Err(e), feed));
                                }
                            }
                        }
                    }
                }
            }
        })
    }

    /// Registers a user or updates their nickname (admin sources only; others get
    /// [`Error::Authentication`] with code `forbidden`).
    pub async fn register_user(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
    ) -> Result<UserData> {
        protocol::validate_telegram_id(telegram_id)?;
        if let Some(nickname) = nickname {
            protocol::validate_nickname(nickname)?;
        }
        let config = &self.inner.config;
        let body = |ts: i64| {
            to_json(&RegisterUserRequest {
                telegram_id,
                nickname: nickname.map(str::to_string),
                source: Some(config.source.clone()),
                timestamp: Some(ts),
                token: Some(signature::v1_token(
                    &config.secret_key,
                    telegram_id,
                    0,
                    &config.source,
                    ts,
                )),
            })
        };
        let answer = self
            .call(Method::Post, paths::USERS, Some(&body), Accept::Success)
            .await?;
        let resp: UserResponse = response::decode(answer.value)?;
        resp.data.ok_or_else(|| missing_data(paths::USERS))
    }

    /// One logical call: signed attempts until one answers, the retries run out, the
    /// retry budget is empty, the deadline (`timeout`) passes or the failure is final.
    /// A `timestamp_out_of_window` corrects the clock and retries once, outside the
    /// retry count and the budget.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<BodyFn<'_>>,
        accept: Accept,
    ) -> Result<Answer, CallFailure> {
        self.call_waiting(method, path_and_query, body, accept, Duration::ZERO)
            .await
    }

    /// [`call`](Self::call) for a request the server may hold for up to `wait` (a long
    /// poll): the call's `timeout` and each attempt's timeout are both extended by
    /// `wait`, so a quiet feed ends in an empty page, never in `timeout`.
    async fn call_waiting(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<BodyFn<'_>>,
        accept: Accept,
        wait: Duration,
    ) -> Result<Answer, CallFailure> {
        let inner = &*self.inner;
        let timeout = inner.config.timeout + wait;
        let deadline = Instant::now() + timeout;
        let attempt_limit = inner
            .config
            .attempt_timeout
            .unwrap_or(DEFAULT_ATTEMPT_TIMEOUT)
            + wait;
        let mut retries = 0u32;
        let mut spent = 0u32;
        let mut clock_corrected = false;
        let mut attempts = 0u32;
        let mut request_id = None;
        loop {
            let give_up = |f: Failure, request_id: Option<String>, attempts: u32| {
                tracing::debug!(
                    method = method.as_str(),
                    path = path_only(path_and_query),
                    attempts,
                    code = f.error.code().as_str(),
                    request_id = request_id.as_deref(),
                    "credit-sync call failed"
                );
                CallFailure {
                    error: f.error,
                    attempts,
                    retryable: f.retryable,
                    request_id,
                }
            };
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                let f = Failure::transport(deadline_passed(timeout, attempts));
                return Err(give_up(f, request_id, attempts));
            }
            let attempt_timeout = attempt_limit.min(remaining);
            let ts = inner.clock.now();
            attempts += 1;
            tracing::debug!(
                method = method.as_str(),
                path = path_only(path_and_query),
                attempt = attempts,
                timeout_ms = attempt_timeout.as_millis() as u64,
                "credit-sync attempt"
            );
            let sent = inner
                .transport
                .send(method, path_and_query, body.map(|b| b(ts)), ts);
            let attempt = match tokio::time::timeout(attempt_timeout, sent).await {
                Ok(attempt) => attempt,
                Err(_) if attempt_timeout < remaining => Err(Error::Timeout {
                    message: format!(
                        "attempt {attempts} got no answer within {} ms",
                        attempt_timeout.as_millis()
                    ),
                }),
                Err(_) => Err(deadline_passed(timeout, attempts)),
            };
            let failure = match attempt {
                Ok(raw) => {
                    if raw.request_id.is_some() {
                        request_id = raw.request_id.clone();
                    }
                    tracing::debug!(
                        attempt = attempts,
                        status = raw.status,
                        request_id = raw.request_id.as_deref(),
                        "credit-sync answer"
                    );
                    match response::read(raw, accept) {
                        Ok(value) => {
                            if let Some(budget) = &inner.budget {
                                budget.succeeded(spent);
                            }
                            return Ok(Answer {
                                value,
                                attempts,
                                request_id,
                            });
                        }
                        Err(f) => f,
                    }
                }
                Err(e) => Failure::transport(e),
            };
            if let Error::Timestamp {
                server_time: Some(server_time),
                ..
            } = failure.error
            {
                if !clock_corrected {
                    inner.clock.learn(server_time);
                    clock_corrected = true;
                    tracing::info!(
                        offset_secs = inner.clock.offset(),
                        request_id = request_id.as_deref(),
                        "credit-sync clock skew corrected from the server's time"
                    );
                    continue;
                }
            }
            if !failure.retryable {
                return Err(give_up(failure, request_id, attempts));
            }
            let Some(delay) = inner
                .policy
                .delay(retries, failure.retry_after, &mut rand::rng())
            else {
                return Err(give_up(failure, request_id, attempts));
            };
            // A wait that ends past the deadline could only end in `timeout`: the real
            // error now is more useful.
            if Instant::now() + delay >= deadline {
                return Err(give_up(failure, request_id, attempts));
            }
            let after_timeout = matches!(failure.error, Error::Timeout { .. });
            if let Some(budget) = &inner.budget {
                match budget.try_acquire(after_timeout) {
                    Some(cost) => spent += cost,
                    None => {
                        tracing::warn!(
                            code = failure.error.code().as_str(),
                            request_id = request_id.as_deref(),
                            "credit-sync retry budget exhausted: failing without a retry"
                        );
                        return Err(give_up(failure, request_id, attempts));
                    }
                }
            }
            retries += 1;
            tracing::info!(
                attempt = attempts,
                code = failure.error.code().as_str(),
                request_id = request_id.as_deref(),
                backoff_ms = delay.as_millis() as u64,
                "credit-sync retry after backoff"
            );
            tokio::time::sleep(delay).await;
        }
    }
}

/// A logged path without its query: the query names users, and a log needs only the route.
fn path_only(path_and_query: &str) -> &str {
    path_and_query
        .split_once('?')
        .map_or(path_and_query, |(p, _)| p)
}

/// The `timeout` a call returns when its deadline passes.
fn deadline_passed(timeout: Duration, attempts: u32) -> Error {
    Error::Timeout {
        message: format!(
            "no answer within the call's timeout of {} ms ({attempts} attempts)",
            timeout.as_millis()
        ),
    }
}

/// What a flow's failure reports beside its error: the reference it carried, and the user
/// and signed change when the call names them.
struct Sent {
    telegram_id: Option<i64>,
    change: Option<i64>,
    reference: String,
}

impl Sent {
    fn change(telegram_id: i64, change: i64, reference: &str) -> Sent {
        Sent {
            telegram_id: Some(telegram_id),
            change: Some(change),
            reference: reference.to_string(),
        }
    }

    /// A call that names a hold or a record, whose user only the server knows.
    fn by_id(change: Option<i64>, reference: &str) -> Sent {
        Sent {
            telegram_id: None,
            change,
            reference: reference.to_string(),
        }
    }

    fn unsent(&self, e: Error) -> WriteError {
        WriteError::unsent(
            e,
            self.telegram_id,
            self.change,
            Some(self.reference.clone()),
        )
    }
}

/// A hold id as the server makes them; anything else could only be `hold_not_found`.
fn check_hold_id(hold_id: &str) -> Result<(), Error> {
    if protocol::is_hold_id(hold_id) {
        return Ok(());
    }
    Err(field_argument(
        fields::HOLD_ID,
        format!(
            "hold_id must be an id returned by hold_credits ({}...), got {hold_id:?}",
            limits::HOLD_ID_PREFIX
        ),
    ))
}

/// A call that got its answer, and how.
struct Answer {
    value: Value,
    attempts: u32,
    request_id: Option<String>,
}

/// A call that failed, with what a failed write reports.
struct CallFailure {
    error: Error,
    attempts: u32,
    retryable: bool,
    request_id: Option<String>,
}

impl CallFailure {
    fn into_write(
        self,
        telegram_id: Option<i64>,
        change: Option<i64>,
        reference: Option<String>,
    ) -> WriteError {
        WriteError {
            error: self.error,
            reference,
            telegram_id,
            change,
            attempts: self.attempts,
            retryable: self.retryable,
            request_id: self.request_id,
        }
    }
}

/// Reads drop the write context: they have no reference to report.
impl From<CallFailure> for Error {
    fn from(f: CallFailure) -> Self {
        f.error
    }
}

/// `auto-<uuid v7>`: unique, time-ordered, valid for the server.
fn auto_reference() -> String {
    crate::reference::auto()
}

fn to_json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("protocol requests always serialize")
}

fn field_argument(field: &str, message: impl Into<String>) -> Error {
    Error::Validation {
        code: Code::InvalidArgument,
        message: message.into(),
        field: Some(field.to_string()),
    }
}

fn missing_data(path: &str) -> Error {
    Error::Server {
        code: Code::InvalidResponse,
        status: 200,
        message: format!("the server's answer to {path} has no data"),
    }
}

/// One batch item's outcome in the `SyncResult` shape; a failed item carries its error.
fn item_result(r: BatchItemResult, sent_reference: Option<String>, answer: &Answer) -> SyncResult {
    let reference = r.external_reference.clone().or(sent_reference);
    if r.success {
        return SyncResult {
            success: true,
            code: r.code,
            message: r.message,
            telegram_id: r.telegram_id,
            change: r.change,
            balance: r.balance,
            record_id: r.record_id,
            duplicate: r.duplicate,
            reference,
            attempts: answer.attempts,
            retryable: false,
            request_id: answer.request_id.clone(),
            error: None,
        };
    }
    let env: Envelope<Value> = Envelope {
        success: false,
        code: r.code,
        message: r.message,
        balance: r.balance,
        data: None,
        field: r.field,
        fields: None,
        server_time: None,
    };
    let error = Error::from_envelope(r.code.http_status(), &env, None);
    let mut result = SyncResult::failed(WriteError {
        error,
        reference,
        telegram_id: Some(r.telegram_id),
        change: Some(r.change),
        attempts: answer.attempts,
        retryable: false,
        request_id: answer.request_id.clone(),
    });
    result.balance = r.balance;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}

    #[test]
    fn clients_are_cheap_shareable_handles() {
        assert_shareable::<Client>();
        assert_shareable::<crate::blocking::Client>();
        let c = Client::new(
            Config::builder()
                .base_url("http://127.0.0.1:1")
                .api_key("k")
                .secret_key("s")
                .source("src")
                .build()
                .unwrap(),
        )
        .unwrap();
        let clone = c.clone();
        assert!(Arc::ptr_eq(&c.inner, &clone.inner));
        clone.set_clock_offset(42);
        assert_eq!(c.clock_offset(), 42, "clones share the clock");
        fn is_send<T: Send>(_: &T) {}
        is_send(&c.records_stream(1, 10));
        is_send(&c.add_credits(1, 1, "x", None));
        is_send(&c.batch_sync(vec![], false));
    }

    fn unreachable_client() -> Client {
        Client::new(
            Config::builder()
                .base_url("http://127.0.0.1:1")
                .api_key("k")
                .secret_key("s")
                .source("src")
                .max_retries(0)
                .build()
                .unwrap(),
        )
        .unwrap()
    }

    /// Refused before sending: no attempt, the auto reference it would have carried, and
    /// the result style of a failed write.
    #[tokio::test]
    async fn flows_are_checked_before_they_are_sent() {
        let c = unreachable_client();
        let e = c.hold_credits(1, 0, "job", None, None).await.unwrap_err();
        assert_eq!((e.code(), e.attempts), (Code::InvalidAmount, 0));
        assert!(e.reference.as_deref().unwrap().starts_with("auto-"));
        assert_eq!((e.telegram_id, e.change), (Some(1), Some(0)));
        let e = c
            .hold_credits(1, 5, "job", Some("r1"), Some(0))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidField);
        assert_eq!(e.reference.as_deref(), Some("r1"));
        let e = c.capture_hold("hold_1", None, None).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert!(matches!(&e.error, Error::Validation { field: Some(f), .. } if f == "hold_id"));
        let hold_id = "hold_0123456789abcdef01234567";
        let e = c.capture_hold(hold_id, Some(-1), None).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidAmount);
        let e = c.void_hold("nope", Some("v1")).await.unwrap_err();
        assert_eq!(
            (e.code(), e.reference.as_deref()),
            (Code::InvalidArgument, Some("v1"))
        );
        let e = c
            .reverse_record(Original::Record(0), None, "undo", None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), Code::InvalidField);
        let e = c.transfer_credits(1, 1, 5, "gift", None).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidField);
        let payment = StarsPayment {
            currency: "USD".into(),
            total_amount: 5,
            telegram_payment_charge_id: "ch_1".into(),
        };
        let e = c.credit_stars_payment(1, &payment, 1).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        assert_eq!(e.reference.as_deref(), Some("stars:ch_1"));
        let e = c.refund_stars_payment("", "refund").await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument);
        // The guide's style: every one of them is a failed result, keeping its reference.
        let r = HoldResult::settle(c.hold_credits(1, 0, "job", Some("r2"), None).await).unwrap();
        assert!(!r.success && r.data.is_none() && !r.duplicate());
        assert_eq!(
            (r.code, r.reference.as_deref()),
            (Code::InvalidAmount, Some("r2"))
        );
    }

    /// A lost connection on a capture is retryable and keeps its (auto) reference, so the
    /// retry is a replay.
    #[tokio::test]
    async fn an_unanswered_capture_reports_its_reference() {
        let c = unreachable_client();
        let hold_id = "hold_0123456789abcdef01234567";
        let r = HoldResult::settle(c.capture_hold(hold_id, Some(3), None).await).unwrap();
        assert!(!r.success && r.retryable);
        assert_eq!((r.code, r.attempts), (Code::ConnectionError, 1));
        assert!(r.reference.unwrap().starts_with("auto-"));
        assert!(r.error.unwrap().outcome_unknown());
    }

    #[test]
    fn auto_references_are_uuid_v7_and_valid() {
        let a = auto_reference();
        let b = auto_reference();
        assert_ne!(a, b);
        assert!(protocol::validate_reference(&a).is_ok());
        let uuid = uuid::Uuid::parse_str(a.strip_prefix("auto-").unwrap()).unwrap();
        assert_eq!(uuid.get_version_num(), 7);
    }
}
