//! A user's page: `credits`, `held` and `available`; the records newest first (keyset
//! paging by id) with what each reverses and what reversed it; the open holds; and, for
//! operators, the forms that adjust, reverse and void.

use super::{integer, unavailable};
use crate::console::page::{self, when, Notice};
use crate::console::{form_reference, Signed};
use crate::ledger::{hold, now_ms, rfc3339_ms, LedgerBackend};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Records per page.
pub const PAGE: i64 = 25;

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    before: Option<String>,
}

#[derive(Serialize)]
struct Record {
    id: i64,
    change: i64,
    balance_after: i64,
    reason: String,
    source: String,
    external_reference: Option<String>,
    created_at: String,
    hold_id: Option<String>,
    reverses: Option<i64>,
    transfer_id: Option<String>,
    /// (id, change) of each reversal of this record.
    reversed_by: Vec<(i64, i64)>,
    /// Whether it may be reversed at all (reversals and transfer legs are not).
    reversible: bool,
    reference: String,
}

#[derive(Serialize)]
struct Hold {
    hold_id: String,
    source: String,
    amount: i64,
    reason: String,
    external_reference: Option<String>,
    created_at: String,
    expires_at: String,
    reference: String,
}

/// `GET /console/users/{telegram_id}`.
pub async fn page(
    signed: Signed,
    Path(telegram_id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Response {
    let Some(telegram_id) = integer(Some(&telegram_id)).filter(|id| *id > 0) else {
        return page::message(
            StatusCode::NOT_FOUND,
            "No such user",
            "A telegram_id is a positive integer.",
            signed.base(),
        );
    };
    let before = integer(query.before.as_deref());
    render(&signed, telegram_id, before, StatusCode::OK, None).await
}

/// The page of `telegram_id`, with `notice` on top (after an action).
pub async fn render(
    signed: &Signed,
    telegram_id: i64,
    before: Option<i64>,
    status: StatusCode,
    notice: Option<Notice>,
) -> Response {
    let backend = signed.app.ledger.backend();
    let balance = match backend.balance(telegram_id).await {
        Ok(balance) => balance,
        Err(e) => return unavailable(signed, e),
    };
    let Some(balance) = balance else {
        return page::render(
            if status == StatusCode::OK {
                StatusCode::NOT_FOUND
            } else {
                status
            },
            "user.html",
            minijinja::context! {
                nav => "users",
                telegram_id,
                found => false,
                adjust_reference => form_reference(),
                ..minijinja::context! { notice, ..signed.base() }
            },
        );
    };
    let rows = match backend
        .records(telegram_id, before.unwrap_or(i64::MAX), PAGE + 1)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return unavailable(signed, e),
    };
    let more = rows.len() as i64 > PAGE;
    let rows: Vec<_> = rows.into_iter().take(PAGE as usize).collect();
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let reversals = match backend.console_reversals(ids).await {
        Ok(reversals) => reversals,
        Err(e) => return unavailable(signed, e),
    };
    let mut reversed_by: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    for r in &reversals {
        if let Some(original) = r.reverses {
            reversed_by
                .entry(original)
                .or_default()
                .push((r.id, r.change));
        }
    }
    let next_before = more.then(|| rows.last().map(|r| r.id)).flatten();
    let records: Vec<Record> = rows
        .into_iter()
        .map(|r| Record {
            reversible: r.reverses.is_none() && r.transfer_id.is_none(),
            reversed_by: reversed_by.remove(&r.id).unwrap_or_default(),
            id: r.id,
            change: r.change,
            balance_after: r.balance_after,
            reason: r.reason,
            source: r.source,
            external_reference: r.external_reference,
            created_at: when(&r.created_at),
            hold_id: r.hold_id,
            reverses: r.reverses,
            transfer_id: r.transfer_id,
            reference: form_reference(),
        })
        .collect();
    // The holds' own read is the money-flow seam's; a backend without it yet still shows
    // the rest of the page.
    let now = now_ms();
    let (holds, holds_error) = match backend.holds(telegram_id).await {
        Ok(Some((_, holds))) => (
            holds
                .into_iter()
                .map(|h| hold::as_of(h, now))
                .filter(|h| h.state == "open")
                .map(|h| Hold {
                    hold_id: h.hold_id,
                    source: h.source,
                    amount: h.amount,
                    reason: h.reason,
                    external_reference: h.external_reference,
                    created_at: when(&h.created_at),
                    expires_at: when(&rfc3339_ms(h.expires_at_ms)),
                    reference: form_reference(),
                })
                .collect(),
            false,
        ),
        Ok(None) => (Vec::new(), false),
        Err(error) => {
            tracing::warn!(%error, "console: cannot read a user's holds");
            (Vec::new(), true)
        }
    };
    page::render(
        status,
        "user.html",
        minijinja::context! {
            nav => "users",
            telegram_id,
            found => true,
            nickname => balance.nickname,
            credits => balance.credits,
            held => balance.held,
            available => balance.credits - balance.held,
            records,
            first_page => before.is_none(),
            next_before,
            holds,
            holds_error,
            adjust_reference => form_reference(),
            ..minijinja::context! { notice, ..signed.base() }
        },
    )
}
