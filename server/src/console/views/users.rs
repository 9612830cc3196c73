//! Find a user: a `telegram_id` goes straight to the user's page; anything else is a
//! nickname prefix.

use super::unavailable;
use crate::console::page;
use crate::console::Signed;
use crate::ledger::LedgerBackend;
use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

/// Matches shown at most.
const MAX_MATCHES: i64 = 50;

#[derive(Debug, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
}

/// `GET /console/users?q=`.
pub async fn find(signed: Signed, Query(query): Query<FindQuery>) -> Response {
    let q = query.q.trim();
    if let Ok(telegram_id) = q.parse::<i64>() {
        if telegram_id > 0 {
            return page::see_other(&format!("/console/users/{telegram_id}"));
        }
    }
    let matches = if q.is_empty() {
        Vec::new()
    } else {
        let prefix: String = q.chars().take(128).collect();
        match signed
            .app
            .ledger
            .backend()
            .console_find_users(prefix, MAX_MATCHES)
            .await
        {
            Ok(found) => found,
            Err(e) => return unavailable(&signed, e),
        }
    };
    let users: Vec<_> = matches
        .iter()
        .map(|u| {
            minijinja::context! {
                telegram_id => u.telegram_id,
                nickname => u.nickname,
                credits => u.credits,
            }
        })
        .collect();
    page::render(
        StatusCode::OK,
        "users.html",
        minijinja::context! {
            nav => "users",
            q,
            searched => !q.is_empty(),
            users,
            ..signed.base()
        },
    )
}
