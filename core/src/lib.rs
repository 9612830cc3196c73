//! # credit-sync
//!
//! Cross-project credit (points) sync for Telegram bots. This crate is the one
//! home of the wire protocol ([`protocol`], [`signature`]) shared by the Credit
//! Sync API server and every SDK, and (feature `client`, on by default) the SDK
//! itself: an async [`Client`], a [`blocking::Client`], safe retries,
//! de-duplication [`reference`](mod@reference) helpers, and the money flows (holds,
//! reversals, transfers, Telegram [`stars`] purchases).

// A failed write carries what a safe retry needs (`WriteError`) by value; each is one
// network call, so its size costs nothing next to it, and matching stays direct.
#![allow(clippy::result_large_err)]

pub mod protocol;
pub mod signature;
pub mod webhook;

#[cfg(feature = "client")]
pub mod blocking;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod clock;
#[cfg(feature = "client")]
pub mod config;
#[cfg(feature = "client")]
pub mod error;
#[cfg(feature = "client")]
pub mod events;
#[cfg(feature = "client")]
pub mod log;
#[cfg(feature = "client")]
pub mod model;
#[cfg(feature = "client")]
pub mod records;
#[cfg(feature = "client")]
pub mod reference;
#[cfg(feature = "client")]
mod response;
#[cfg(feature = "client")]
pub mod retry;
#[cfg(feature = "client")]
pub mod stars;
#[cfg(feature = "client")]
mod transport;

pub use protocol::{Code, Event, EventType};

#[cfg(feature = "client")]
pub use client::Client;
#[cfg(feature = "client")]
pub use config::{Backoff, Config, ConfigBuilder, Proxy, RetryBudget};
#[cfg(feature = "client")]
pub use error::{Error, ErrorKind, Result, WriteError};
#[cfg(feature = "client")]
pub use events::{verify_webhook, EventsPage};
#[cfg(feature = "client")]
pub use model::{
    Balance, BatchEntry, BatchResult, FlowResult, Hold, HoldResult, HoldState, Holds, Original,
    Record, RecordsPage, ReverseResult, SyncResult, TransferResult, UserData,
};
#[cfg(feature = "client")]
pub use stars::StarsPayment;
