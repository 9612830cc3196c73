//! # credit-sync-testkit
//!
//! The one test harness of the workspace: what every suite needs to attack the real
//! Credit Sync API server from the outside. [`server`] runs the built binary as a child
//! process (start, stop, `kill -9`, restart on the same database) on the suite's backend
//! ([`database`]: SQLite, or a fresh PostgreSQL database with
//! `CREDIT_SYNC_TEST_BACKEND=postgres`); [`wire`] sends signed requests without the SDK,
//! signed by the core's own `signature` module; and [`proxy`] puts a fault-injecting
//! HTTP proxy on loopback between a client and the server, or answers in its place;
//! and [`receiver`] is a webhook endpoint on loopback that fails, stalls or drops on cue.
//!
//! It spawns the server binary instead of linking the server crate, so the server's own
//! tests can use it. The core's tests use it too: the dependency on `credit-sync` is a
//! dev-dependency cycle that cargo allows, and integration tests see one `credit_sync`.

pub mod database;
pub mod proxy;
pub mod receiver;
pub mod server;
pub mod wire;

pub use database::{postgres_sessions, postgres_url, raw_execute, server_sessions_name, Database};
pub use proxy::{Exchange, Fault, Proxy, Schedule};
pub use receiver::{Answer, Received, Receiver};
pub use server::{server_bin, Server, ServerConfig, Source};
pub use wire::{now, signing_time, Reply, Sign, Wire};
