//! # credit-sync
//!
//! Cross-project credit (points) sync for Telegram bots. This crate is the one
//! home of the wire protocol ([`protocol`], [`signature`]) shared by the Credit
//! Sync API server and every SDK.

pub mod protocol;
pub mod signature;

pub use protocol::Code;
