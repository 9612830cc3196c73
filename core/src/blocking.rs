//! The blocking client: the async client's API without async, for scripts and
//! sync code. It owns a small tokio runtime.
//! (Skeleton: the SDK issue fills in the bodies.)

use crate::config::{Config, ConfigBuilder};
use crate::error::Result;
use crate::model::{Balance, BatchEntry, BatchResult, Record, RecordsPage, SyncResult, UserData};

/// Blocking Credit Sync client. Cheap to clone; safe to share across threads.
/// Must not be called from inside an async runtime.
#[derive(Clone, Debug)]
pub struct Client {
    inner: crate::Client,
}

impl Client {
    pub fn builder() -> ConfigBuilder {
        Config::builder()
    }
    pub fn new(config: Config) -> Result<Client> {
        Ok(Client {
            inner: crate::Client::new(config)?,
        })
    }
    pub fn from_env() -> Result<Client> {
        Client::new(Config::from_env()?)
    }
    pub fn add_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult> {
        let _ = (&self.inner, telegram_id, amount, reason, reference);
        todo!()
    }
    pub fn deduct_credits(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult> {
        let _ = (telegram_id, amount, reason, reference);
        todo!()
    }
    pub fn sync(
        &self,
        telegram_id: i64,
        amount: i64,
        reason: &str,
        reference: Option<&str>,
    ) -> Result<SyncResult> {
        let _ = (telegram_id, amount, reason, reference);
        todo!()
    }
    pub fn batch_sync(&self, items: Vec<BatchEntry>, atomic: bool) -> Result<BatchResult> {
        let _ = (items, atomic);
        todo!()
    }
    pub fn get_balance(&self, telegram_id: i64) -> Result<Option<Balance>> {
        let _ = telegram_id;
        todo!()
    }
    pub fn get_records(
        &self,
        telegram_id: i64,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<RecordsPage> {
        let _ = (telegram_id, limit, cursor);
        todo!()
    }
    /// Every record, newest first, as an iterator that fetches pages lazily.
    pub fn records_iter(
        &self,
        telegram_id: i64,
        page_size: u32,
    ) -> impl Iterator<Item = Result<Record>> {
        let _ = (telegram_id, page_size);
        std::iter::empty()
    }
    pub fn register_user(&self, telegram_id: i64, nickname: Option<&str>) -> Result<UserData> {
        let _ = (telegram_id, nickname);
        todo!()
    }
}
