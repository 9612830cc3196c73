//! # credit-sync-reliability
//!
//! The pieces every test of the reliability suite shares: the sources its servers
//! are started with and SDK clients for them ([`setup`]), signed requests sent
//! without the SDK so a test can say exactly what goes on the wire ([`wire`]), and
//! reading back a user's whole ledger to check what the server promised ([`ledger`]).
//! The tests themselves live in `tests/`; `docs/reliability.md` lists them.

pub mod ledger;
pub mod setup;
pub mod wire;
