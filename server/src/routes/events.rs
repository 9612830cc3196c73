//! `GET /api/events`: the pull feed, v2-signed like every read. A long poll (`wait`)
//! parks on the ledger's notifier, so a waiting client costs no query until an event
//! commits.

use super::*;
use crate::config::EventScope;
use crate::events::{FeedError, Query};
use credit_sync::protocol::events::{
    self as wire, DEFAULT_EVENTS_LIMIT, MAX_EVENTS_LIMIT, MAX_EVENTS_WAIT_SECS,
};
use credit_sync::protocol::{decode_event_cursor, encode_event_cursor, EventsResponse};

/// `after`, `limit` and `wait` of a feed query; other parameters are ignored.
fn feed_query(uri: &Uri) -> Result<(i64, u32, u32), ApiError> {
    let (mut after, mut limit, mut wait) = (0, DEFAULT_EVENTS_LIMIT, 0);
    let bounded = |value: &str, name: &str, low: u32, high: u32| {
        value
            .parse::<u32>()
            .ok()
            .filter(|n| (low..=high).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    Code::InvalidField,
                    format!("{name} must be an integer from {low} to {high}, got {value:?}"),
                )
                .with_field(name)
            })
    };
    for pair in uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if key == fields::LIMIT {
            limit = bounded(value, fields::LIMIT, 1, MAX_EVENTS_LIMIT)?;
        } else if key == wire::WAIT {
            wait = bounded(value, wire::WAIT, 0, MAX_EVENTS_WAIT_SECS)?;
        } else if key == wire::AFTER && !value.is_empty() {
            after = decode_event_cursor(value).ok_or_else(|| {
                ApiError::new(
                    Code::InvalidField,
                    "after is not a cursor this server issued; pass next_cursor back unchanged",
                )
                .with_field(wire::AFTER)
            })?;
        }
    }
    Ok((after, limit, wait))
}

pub(super) async fn feed(
    State(app): State<AppState>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let source = app.caller(&headers, Permission::Read)?;
    let signed = Signed {
        method: Method::GET.as_str(),
        target: target(&uri),
        body: b"",
    };
    auth::require_v2(source, &headers, &signed, app.tolerance())?;
    let (after, limit, wait) = feed_query(&uri)?;
    let query = Query {
        after,
        limit,
        wait: Duration::from_secs(u64::from(wait)),
        source: (source.events == EventScope::Own).then(|| source.name.clone()),
    };
    // The feed, not the App: a long poll must not keep a reloaded configuration alive.
    let events = app.ledger.events();
    drop(app);
    let page = events.page(&query).await.map_err(|e| match e {
        FeedError::CursorExpired => ApiError::new(
            Code::CursorExpired,
            "events after this cursor were pruned (event_retention_days); start again without after",
        )
        .with_field(wire::AFTER),
        FeedError::Ledger(e) => e.into(),
    })?;
    let response = EventsResponse {
        success: true,
        code: Code::Ok,
        message: "ok".into(),
        events: page.events,
        next_cursor: encode_event_cursor(page.next),
    };
    Ok(ok_json(Code::Ok, &response))
}
