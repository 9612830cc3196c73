//! The Credit Sync API server as a library: the binary (`main.rs`) runs it, and tests
//! drive the ledger directly as well as over HTTP.

pub mod admin;
mod auth;
pub mod cli;
pub mod config;
pub mod console;
mod error;
pub mod events;
pub mod ledger;
mod metrics;
mod openapi;
mod overload;
mod ratelimit;
mod request_id;
mod routes;
pub mod server;
pub mod webhooks;
