//! The async client: signs, sends, retries and decodes every call.
//! (Skeleton: the SDK issue fills in the bodies; the signatures are the contract
//! the bindings code against.)

use crate::config::{Config, ConfigBuilder};
use crate::error::Result;
use crate::model::{Balance, BatchEntry, BatchResult, Record, RecordsPage, SyncResult, UserData};
use futures_util::Stream;
use std::fmt;
use std::sync::Arc;

/// Async Credit Sync client. Cheap to clone (an `Arc` inside); safe to share across tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Client {
    pub fn builder() -> ConfigBuilder {
        Config::builder()
    }

    pub fn new(config: Config) -> Result<Client> {
        Ok(Client {
            inner: Arc::new(Inner { config }),
        })
    }

    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Adds `amount` (> 0) credits. Business failures are `Err` (see [`SyncResult::failed`]
    /// for the guide's `success == false` style).
    pub async fn add_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult> {
        let _ = (telegram_id, amount, reason, reference);
        todo!()
    }

    /// Deducts `amount` (> 0) credits; never takes the balance below zero.
    pub async fn deduct_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult> {
        let _ = (telegram_id, amount, reason, reference);
        todo!()
    }

    /// Applies a signed change (positive adds, negative deducts).
    pub async fn sync(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult> {
        let _ = (telegram_id, amount, reason, reference);
        todo!()
    }

    /// Applies up to 1,000 changes, each on its own (or all-or-nothing with `atomic`).
    pub async fn batch_sync(&self, items: Vec<BatchEntry>, atomic: bool) -> Result<BatchResult> {
        let _ = (items, atomic);
        todo!()
    }

    /// `None` for an unregistered user.
    pub async fn get_balance(&self, telegram_id: i64) -> Result<Option<Balance>> {
        let _ = telegram_id;
        todo!()
    }

    /// One page of records, newest first.
    pub async fn get_records(
        &self,
        telegram_id: i64,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<RecordsPage> {
        let _ = (telegram_id, limit, cursor);
        todo!()
    }

    /// Every record of a user, newest first, fetching pages of `page_size` as needed.
    pub fn records_stream(
        &self,
        telegram_id: i64,
        page_size: u32,
    ) -> impl Stream<Item = Result<Record>> + Send + 'static {
        let _ = (telegram_id, page_size);
        futures_util::stream::empty()
    }

    /// Registers a user or updates their nickname (admin sources only).
    pub async fn register_user(
        &self,
        telegram_id: i64,
        nickname: Option<&str>,
    ) -> Result<UserData> {
        let _ = (telegram_id, nickname);
        todo!()
    }
}
