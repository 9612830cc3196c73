//! The audit log, newest first, paged by id.

use super::{integer, unavailable};
use crate::console::page::{self, when};
use crate::console::Signed;
use crate::ledger::{rfc3339_ms, LedgerBackend};
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

const PAGE: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    before: Option<String>,
}

/// `GET /console/audit`.
pub async fn page(signed: Signed, Query(query): Query<AuditQuery>) -> Response {
    let before = integer(query.before.as_deref());
    let rows = match signed
        .app
        .ledger
        .backend()
        .console_audit_list(before.unwrap_or(i64::MAX), PAGE + 1)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return unavailable(&signed, e),
    };
    let more = rows.len() as i64 > PAGE;
    let rows: Vec<_> = rows.into_iter().take(PAGE as usize).collect();
    let next_before = more.then(|| rows.last().map(|r| r.id)).flatten();
    let entries: Vec<_> = rows
        .iter()
        .map(|r| {
            minijinja::context! {
                id => r.id,
                at => when(&rfc3339_ms(r.at_ms)),
                operator => r.operator,
                action => r.action,
                telegram_id => r.telegram_id,
                target => r.target,
                amount => r.amount,
                reason => r.reason,
                reference => r.reference,
                outcome => r.outcome,
                ok => r.outcome == "ok",
                detail => r.detail,
            }
        })
        .collect();
    page::render(
        StatusCode::OK,
        "audit.html",
        minijinja::context! {
            nav => "audit",
            entries,
            next_before,
            first_page => before.is_none(),
            ..signed.base()
        },
    )
}
