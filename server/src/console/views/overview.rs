//! The overview: how many users, how many credits are out and held, each source's
//! volume today, the last 30 days as a chart, and the errors the server answered.

use super::unavailable;
use crate::console::page::{self, text};
use crate::console::{chart, Signed};
use crate::ledger::{now_ms, rfc3339_ms, LedgerBackend};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

const DAY_MS: i64 = 24 * 3600 * 1000;
/// Days in the chart, today included.
pub const DAYS: i64 = 30;

/// The UTC days of the chart, oldest first, and the first one's start in Unix ms.
pub fn last_days(now_ms: i64) -> (Vec<String>, i64) {
    let today = now_ms - now_ms.rem_euclid(DAY_MS);
    let first = today - (DAYS - 1) * DAY_MS;
    let days = (0..DAYS)
        .map(|i| rfc3339_ms(first + i * DAY_MS)[..10].to_string())
        .collect();
    (days, first)
}

#[derive(Serialize)]
struct Today {
    source: String,
    added: i64,
    deducted: i64,
    changes: i64,
}

/// `GET /console/`.
pub async fn page(signed: Signed) -> Response {
    let backend = signed.app.ledger.backend();
    let now = now_ms();
    let totals = match backend.console_totals(now).await {
        Ok(totals) => totals,
        Err(e) => return unavailable(&signed, e),
    };
    let (days, since) = last_days(now);
    let volumes = match backend.console_volumes(since).await {
        Ok(volumes) => volumes,
        Err(e) => return unavailable(&signed, e),
    };
    let today_day = days.last().cloned().unwrap_or_default();
    let today: Vec<Today> = volumes
        .iter()
        .filter(|v| v.day == today_day)
        .map(|v| Today {
            source: v.source.clone(),
            added: v.added,
            deducted: v.deducted,
            changes: v.changes,
        })
        .collect();
    let drawn = chart::draw(&days, &volumes);
    let svg = match text("chart.svg", minijinja::Value::from_serialize(&drawn)) {
        Ok(svg) => svg,
        Err(error) => {
            tracing::error!(%error, "console: the chart failed");
            String::new()
        }
    };
    let errors = super::sources::rejected(&signed.app);
    page::render(
        StatusCode::OK,
        "overview.html",
        minijinja::context! {
            nav => "overview",
            totals => minijinja::context! {
                users => totals.users,
                outstanding => totals.outstanding,
                held => totals.held,
            },
            today,
            today_day,
            // Escaped when drawn (chart.svg); marked safe only to go into the page whole.
            chart => minijinja::Value::from_safe_string(svg),
            legend => drawn.legend,
            chart_empty => drawn.empty,
            errors,
            ..signed.base()
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn thirty_days_end_today() {
        let (days, first) = super::last_days(1_764_648_000_000); // 2025-12-02T04:00Z
        assert_eq!(days.len(), 30);
        assert_eq!(days.last().unwrap(), "2025-12-02");
        assert_eq!(days[0], "2025-11-03");
        assert_eq!(crate::ledger::rfc3339_ms(first), "2025-11-03T00:00:00.000Z");
    }
}
