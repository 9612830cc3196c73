//! The console's pages, one module each; `actions` holds the three writes.

pub mod actions;
pub mod audit;
pub mod login;
pub mod overview;
pub mod sources;
pub mod user;
pub mod users;
pub mod webhooks;

use super::page;
use axum::http::StatusCode;
use axum::response::Response;

/// A ledger read that failed, as a page (the cause is logged, never shown).
pub(super) fn unavailable(signed: &super::Signed, error: crate::ledger::LedgerError) -> Response {
    tracing::error!(%error, "console: a ledger read failed");
    page::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        "The ledger could not be read just now. Try again in a moment.",
        signed.base(),
    )
}

/// An integer from a query or form field, `None` when absent or not one.
pub(super) fn integer(text: Option<&str>) -> Option<i64> {
    text.map(str::trim)
        .filter(|t| !t.is_empty())
        .and_then(|t| t.parse().ok())
}
