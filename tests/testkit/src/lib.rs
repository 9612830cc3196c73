//! # credit-sync-testkit
//!
//! What the reliability suite (and any other test) needs to attack the real
//! Credit Sync API server from the outside: [`server`] runs the built binary as a
//! child process (start, stop, `kill -9`, restart on the same database), and
//! [`proxy`] puts a fault-injecting HTTP proxy on loopback between a client and it.
//!
//! It deliberately does not depend on `credit-sync`, so the core can use it as a
//! dev-dependency without a cycle.

pub mod proxy;
pub mod server;

pub use proxy::{Exchange, Fault, Proxy, Schedule};
pub use server::{server_bin, Server, ServerConfig, Source};
