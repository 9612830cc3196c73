//! # credit-sync-reliability
//!
//! The pieces every test of the reliability suite shares: the sources its servers
//! are started with and SDK clients for them ([`setup`]), reading back a user's
//! whole ledger to check what the server promised ([`ledger`]), and the money flows'
//! calls, retried as an honest client retries them ([`flows`]). The servers, the signed
//! raw client and the fault proxy come from the workspace's harness,
//! `credit-sync-testkit`. The tests themselves live in `tests/`; `docs/reliability.md`
//! lists them.

pub mod flows;
pub mod ledger;
pub mod setup;
