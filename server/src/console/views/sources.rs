//! Sources: each configured bot's activity over 30 days, its key shown masked (never a
//! secret), and the requests the server refused by code, from the counters `/metrics`
//! shows (they count by route and code, not by source).

use super::overview::last_days;
use super::unavailable;
use crate::console::page;
use crate::console::Signed;
use crate::ledger::{now_ms, LedgerBackend};
use crate::routes::App;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

/// A count of refused requests or changes under one code.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub what: &'static str,
    pub code: String,
    pub count: u64,
}

/// The non-`ok` request counts and the ledger's refusals, read from the text `/metrics`
/// serves (the same counters, so the two never disagree).
pub fn rejected(app: &App) -> Vec<Rejected> {
    let text = app.metrics.render();
    let mut by_code: std::collections::BTreeMap<(&'static str, String), u64> = Default::default();
    for line in text.lines() {
        let (what, rest) = if let Some(rest) = line.strip_prefix("credit_sync_requests_total{") {
            ("request", rest)
        } else if let Some(rest) = line.strip_prefix("credit_sync_ledger_refusals_total{") {
            ("ledger change", rest)
        } else {
            continue;
        };
        let Some((labels, count)) = rest.rsplit_once("} ") else {
            continue;
        };
        let code = labels
            .split(',')
            .find_map(|l| l.strip_prefix("code=\""))
            .map(|c| c.trim_end_matches('"').to_string());
        let (Some(code), Ok(count)) = (code, count.trim().parse::<u64>()) else {
            continue;
        };
        if code == "ok" {
            continue;
        }
        *by_code.entry((what, code)).or_default() += count;
    }
    by_code
        .into_iter()
        .map(|((what, code), count)| Rejected { what, code, count })
        .collect()
}

/// An API key as the console shows it: its last four characters at most, and only when
/// the key is long enough that they give nothing away.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 16 {
        return "••••••••".to_string();
    }
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("••••••••{tail}")
}

#[derive(Serialize)]
struct Row {
    name: String,
    keys: Vec<String>,
    permissions: String,
    signatures: String,
    rate_limit: u32,
    changes: i64,
    added: i64,
    deducted: i64,
    today: i64,
    last_day: Option<String>,
}

/// `GET /console/sources`.
pub async fn page(signed: Signed) -> Response {
    let (days, since) = last_days(now_ms());
    let volumes = match signed.app.ledger.backend().console_volumes(since).await {
        Ok(volumes) => volumes,
        Err(e) => return unavailable(&signed, e),
    };
    let today = days.last().cloned().unwrap_or_default();
    let mut names: Vec<String> = signed
        .app
        .config
        .sources
        .iter()
        .map(|s| s.name.clone())
        .collect();
    // Sources that wrote but are no longer configured (or are console operators).
    for v in &volumes {
        if !names.contains(&v.source) {
            names.push(v.source.clone());
        }
    }
    let rows: Vec<Row> = names
        .iter()
        .map(|name| {
            let config = signed.app.config.sources.iter().find(|s| &s.name == name);
            let mine = volumes.iter().filter(|v| &v.source == name);
            Row {
                name: name.clone(),
                keys: config
                    .map_or_else(Vec::new, |c| c.api_keys.iter().map(|k| mask(k)).collect()),
                permissions: config.map_or_else(String::new, |c| {
                    c.permissions
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                signatures: config.map_or_else(String::new, |c| {
                    c.signatures
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                }),
                rate_limit: config.map_or(0, |c| c.rate_limit_per_sec),
                changes: mine.clone().map(|v| v.changes).sum(),
                added: mine.clone().map(|v| v.added).sum(),
                deducted: mine.clone().map(|v| v.deducted).sum(),
                today: mine
                    .clone()
                    .filter(|v| v.day == today)
                    .map(|v| v.changes)
                    .sum(),
                last_day: mine.map(|v| v.day.clone()).max(),
            }
        })
        .collect();
    page::render(
        StatusCode::OK,
        "sources.html",
        minijinja::context! {
            nav => "sources",
            sources => rows,
            rejected => rejected(&signed.app),
            ..signed.base()
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_masked() {
        assert_eq!(super::mask("short-key"), "••••••••");
        assert_eq!(super::mask("media-bot-api-key-2024"), "••••••••2024");
    }
}
