//! The blocking client: the async client's API without async, for scripts and
//! sync code. It owns a small tokio runtime, created on first use and shared by its
//! clones, so it can be called from many threads at once.

use crate::config::{Config, ConfigBuilder};
use crate::error::{Error, Result, WriteError};
use crate::events::{EventsPage, Feed, Step as FeedStep, LONG_POLL_WAIT_SECS};
use crate::model::{
    deduct_change, Balance, BatchEntry, BatchResult, HoldResult, Holds, Original, Record,
    RecordsPage, ReverseResult, SyncResult, TransferResult, UserData,
};
use crate::protocol::Event;
use crate::records::Pager;
use crate::stars::StarsPayment;
use std::future::Future;
use std::sync::{Arc, OnceLock};

/// Blocking Credit Sync client. Cheap to clone; safe to share across threads.
///
/// Must not be called where a tokio runtime is entered (an async task, or
/// `spawn_blocking`): blocking there would stall that runtime, so the call returns an
/// `invalid_argument` error that says to use the async [`crate::Client`] instead
/// (from `spawn_blocking`: `Handle::current().block_on(client.as_async().get_balance(..))`).
///
/// ```no_run
/// let client = credit_sync::blocking::Client::from_env()?;
/// let r = client.add_credits(123456789, 100, "test reward", Some("video_12345"))?;
/// println!("balance {:?}", r.balance);
/// # Ok::<(), credit_sync::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
    runtime: Arc<Runtime>,
}

/// The runtime behind a blocking client, built on first use. Dropping it never blocks
/// or panics, even when the last clone is dropped inside another runtime.
#[derive(Debug, Default)]
struct Runtime(OnceLock<tokio::runtime::Runtime>);

impl Runtime {
    fn get(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.0.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("credit-sync-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::Transport {
                message: format!("cannot start the blocking client's runtime: {e}"),
            })?;
        // Another thread may have won the race; its runtime is kept and ours dropped
        // (outside any runtime, so that is safe).
        if let Err(rt) = self.0.set(rt) {
            rt.shutdown_background();
        }
        Ok(self.0.get().expect("set above"))
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl Client {
    /// A [`ConfigBuilder`]; finish with `.build().and_then(blocking::Client::new)`.
    pub fn builder() -> ConfigBuilder {
        Config::builder()
    }

    /// A client for `config`; its runtime starts on the first call.
    pub fn new(config: Config) -> Result<Client> {
        Ok(Client {
            inner: crate::Client::new(config)?,
            runtime: Arc::new(Runtime::default()),
        })
    }

    /// A client configured from the `CREDIT_SYNC_*` environment variables.
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    /// The async client this one drives (same connection pool, clock and config).
    pub fn as_async(&self) -> &crate::Client {
        &self.inner
    }

    /// The client's configuration.
    pub fn config(&self) -> &Config {
        self.inner.config()
    }

    /// See [`crate::Client::clock_offset`].
    pub fn clock_offset(&self) -> i64 {
        self.inner.clock_offset()
    }

    /// See [`crate::Client::set_clock_offset`].
    pub fn set_clock_offset(&self, secs: i64) {
        self.inner.set_clock_offset(secs)
    }

    /// Runs one async call to completion on the owned runtime.
    fn block_on<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.block_on_with(fut, |e| e)
    }

    /// [`Self::block_on`] for calls whose error type carries more (a write's
    /// [`WriteError`]); `refused` wraps the SDK's own refusal to run.
    fn block_on_with<T, E>(
        &self,
        fut: impl Future<Output = Result<T, E>>,
        refused: impl FnOnce(Error) -> E,
    ) -> Result<T, E> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(refused(Error::invalid_argument(
                "credit_sync::blocking::Client was called inside a tokio runtime, where it \
                 would block the runtime; use the async credit_sync::Client there",
            )));
        }
        match self.runtime.get() {
            Ok(rt) => rt.block_on(fut),
            Err(e) => Err(refused(e)),
        }
    }

    /// See [`crate::Client::add_credits`].
    pub fn add_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult, WriteError> {
        self.block_on_with(
            self.inner
                .add_credits(telegram_id, amount, reason, reference),
            unsent(telegram_id, Some(amount), reference),
        )
    }

    /// See [`crate::Client::deduct_credits`].
    pub fn deduct_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult, WriteError> {
        self.block_on_with(
            self.inner
                .deduct_credits(telegram_id, amount, reason, reference),
            unsent(telegram_id, Some(deduct_change(amount)), reference),
        )
    }

    /// See [`crate::Client::sync`].
    pub fn sync(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult, WriteError> {
        self.block_on_with(
            self.inner.sync(telegram_id, amount, reason, reference),
            unsent(telegram_id, Some(amount), reference),
        )
    }

    /// See [`crate::Client::batch_sync`].
    pub fn batch_sync(
        &self,
        items: Vec<BatchEntry>,
        atomic: bool,
    ) -> Result<BatchResult, WriteError> {
        self.block_on_with(self.inner.batch_sync(items, atomic), |e| {
            WriteError::unsent(e, None, None, None)
        })
    }

    /// See [`crate::Client::hold_credits`].
    pub fn hold_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
        ttl_seconds: Option<i64>,
    ) -> Result<HoldResult, WriteError> {
        self.block_on_with(
            self.inner
                .hold_credits(telegram_id, amount, reason, reference, ttl_seconds),
            unsent(telegram_id, Some(deduct_change(amount)), reference),
        )
    }

    /// See [`crate::Client::capture_hold`].
    pub fn capture_hold(
        &self,
        hold_id: &str,
        amount: Option<i64>,
        reference: Option<&str>,
    ) -> Result<HoldResult, WriteError> {
        self.block_on_with(
            self.inner.capture_hold(hold_id, amount, reference),
            unsent_flow(reference),
        )
    }

    /// See [`crate::Client::void_hold`].
    pub fn void_hold(
        &self,
        hold_id: &str,
        reference: Option<&str>,
    ) -> Result<HoldResult, WriteError> {
        self.block_on_with(
            self.inner.void_hold(hold_id, reference),
            unsent_flow(reference),
        )
    }

    /// See [`crate::Client::get_holds`]; `None` for an unregistered user.
    pub fn get_holds(&self, telegram_id: i64) -> Result<Option<Holds>> {
        self.block_on(self.inner.get_holds(telegram_id))
    }

    /// See [`crate::Client::reverse_record`].
    pub fn reverse_record(
        &self,
        original: Original,
        amount: Option<i64>,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<ReverseResult, WriteError> {
        self.block_on_with(
            self.inner
                .reverse_record(original, amount, reason, reference),
            unsent_flow(reference),
        )
    }

    /// See [`crate::Client::transfer_credits`].
    pub fn transfer_credits(
        &self,
        from_id: i64,
        to_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<TransferResult, WriteError> {
        self.block_on_with(
            self.inner
                .transfer_credits(from_id, to_id, amount, reason, reference),
            unsent(from_id, Some(deduct_change(amount)), reference),
        )
    }

    /// See [`crate::Client::credit_stars_payment`].
    pub fn credit_stars_payment(
        &self,
        telegram_id: i64,
        payment: &StarsPayment,
        credits_per_star: i64,
    ) -> Result<SyncResult, WriteError> {
        let reference = crate::stars::payment_reference(&payment.telegram_payment_charge_id);
        self.block_on_with(
            self.inner
                .credit_stars_payment(telegram_id, payment, credits_per_star),
            |e| WriteError::unsent(e, Some(telegram_id), None, Some(reference)),
        )
    }

    /// See [`crate::Client::refund_stars_payment`].
    pub fn refund_stars_payment(
        &self,
        charge_id: &str,
        reason: &str,
    ) -> Result<ReverseResult, WriteError> {
        let reference = crate::stars::refund_reference(charge_id);
        self.block_on_with(self.inner.refund_stars_payment(charge_id, reason), |e| {
            WriteError::unsent(e, None, None, Some(reference))
        })
    }

    /// See [`crate::Client::get_balance`]; `None` for an unregistered user.
    pub fn get_balance(&self, telegram_id: i64) -> Result<Option<Balance>> {
        self.block_on(self.inner.get_balance(telegram_id))
    }

    /// See [`crate::Client::get_records`].
    pub fn get_records(
        &self,
        telegram_id: i64,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<RecordsPage> {
        self.block_on(self.inner.get_records(telegram_id, limit, cursor))
    }

    /// Every record, newest first, as an iterator that fetches pages lazily.
    /// The iterator ends after the first error.
    pub fn records_iter(
        &self,
        telegram_id: i64,
        page_size: u32,
    ) -> impl Iterator<Item = Result<Record>> {
        let client = self.clone();
        let mut pager = Pager::new(page_size);
        std::iter::from_fn(move || {
            pager.next_blocking(|cursor, limit| {
                client.get_records(telegram_id, Some(limit), cursor.as_deref())
            })
        })
    }

    /// See [`crate::Client::get_events`].
    pub fn get_events(
        &self,
        after: Option<&str>,
        limit: Option<u32>,
        wait: Option<u32>,
    ) -> Result<EventsPage> {
        self.block_on(self.inner.get_events(after, limit, wait))
    }

    /// The blocking [`crate::Client::events`]: every event after `after`, long-polling
    /// without end; an error is yielded and the iterator ends.
    pub fn events(&self, after: Option<&str>) -> impl Iterator<Item = Result<Event>> {
        let client = self.clone();
        let mut feed = Feed::new(after);
        std::iter::from_fn(move || loop {
            match feed.step() {
                FeedStep::Yield(e) => return Some(Ok(e)),
                FeedStep::Done => return None,
                FeedStep::Fetch(after) => {
                    match client.get_events(after.as_deref(), None, Some(LONG_POLL_WAIT_SECS)) {
                        Ok(page) => feed.feed(page),
                        Err(e) => {
                            feed.fail();
                            return Some(Err(e));
                        }
                    }
                }
            }
        })
    }

    /// See [`crate::Client::register_user`].
    pub fn register_user(&self, telegram_id: i64, nickname: Option<&str>) -> Result<UserData> {
        self.block_on(self.inner.register_user(telegram_id, nickname))
    }
}

/// A hold, reversal or Stars refund refused before it was sent (its user is the server's
/// to know).
fn unsent_flow(reference: Option<&str>) -> impl FnOnce(Error) -> WriteError + '_ {
    move |e| WriteError::unsent(e, None, None, reference.map(str::to_string))
}

/// A write refused before it was sent, with what the caller gave.
fn unsent(
    telegram_id: i64,
    change: Option<i64>,
    reference: Option<&str>,
) -> impl FnOnce(Error) -> WriteError + '_ {
    move |e| WriteError::unsent(e, Some(telegram_id), change, reference.map(str::to_string))
}
