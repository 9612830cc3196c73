//! Sources: each configured bot's activity over 30 days, its key shown masked (never a
//! secret), and the requests the server refused, by source and code, from the counters
//! `/metrics` shows.

use super::overview::last_days;
use super::unavailable;
use crate::console::page;
use crate::console::Signed;
use crate::ledger::{now_ms, LedgerBackend};
use crate::routes::App;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

/// A count of refused requests or changes under one code, for one source when the
/// request's API key named one.
#[derive(Debug, Clone, Serialize)]
pub struct Rejected {
    pub what: &'static str,
    /// The source, or `-` where no configured source could be named (an unknown key, a
    /// ledger refusal counted for the whole server).
    pub source: String,
    pub code: String,
    pub count: u64,
}

/// The non-`ok` answers per source, those no source could be named for, and the
/// ledger's refusals: the counters `/metrics` serves, so the two never disagree.
pub fn rejected(app: &App) -> Vec<Rejected> {
    let mut rows = Vec::new();
    let mut named: std::collections::BTreeMap<&'static str, u64> = Default::default();
    for (source, code, count) in app.metrics.answers_by_source() {
        if code == "ok" {
            continue;
        }
        *named.entry(code).or_default() += count;
        rows.push(Rejected {
            what: "request",
            source,
            code: code.to_string(),
            count,
        });
    }
    for (code, count) in app.metrics.answers_by_code() {
        let unnamed = count.saturating_sub(named.get(code).copied().unwrap_or(0));
        if code != "ok" && unnamed > 0 {
            rows.push(Rejected {
                what: "request",
                source: "-".into(),
                code: code.to_string(),
                count: unnamed,
            });
        }
    }
    for (code, count) in app.metrics.refusals_by_code() {
        rows.push(Rejected {
            what: "ledger change",
            source: "-".into(),
            code: code.to_string(),
            count,
        });
    }
    rows
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
