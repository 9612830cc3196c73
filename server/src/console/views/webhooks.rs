//! Webhooks: each configured endpoint's delivery state (cursor, backlog, last error) and
//! its failed deliveries, read-only, from the same summaries `webhooks list` prints.

use super::unavailable;
use crate::console::page;
use crate::console::Signed;
use crate::webhooks::admin::summaries;
use crate::webhooks::store::Store;
use axum::http::StatusCode;
use axum::response::Response;

/// `GET /console/webhooks`.
pub async fn page(signed: Signed) -> Response {
    let store = Store::of(&signed.app.ledger);
    let endpoints = match summaries(&store, &signed.app.config.webhooks).await {
        Ok(endpoints) => endpoints,
        Err(e) => return unavailable(&signed, e),
    };
    page::render(
        StatusCode::OK,
        "webhooks.html",
        minijinja::context! {
            nav => "webhooks",
            endpoints => endpoints,
            ..signed.base()
        },
    )
}
