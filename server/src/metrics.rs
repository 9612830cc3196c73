//! Prometheus text for `GET /metrics`: requests by route and code, latency histograms,
//! and ledger counters, kept in-process so the server needs no metrics dependency.
//! Every label value comes from a fixed set (known methods, the protocol's route templates,
//! codes, or `other`), so no request, however junk, can add a series.

use crate::ledger::Outcome;
use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use credit_sync::protocol::{paths, Code};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};
use std::time::Instant;

/// The label of a method or route that is not one of the known ones.
pub const OTHER: &str = "other";

/// The route templates the router serves, from the protocol's paths.
static ROUTES: LazyLock<Vec<String>> = LazyLock::new(|| {
    vec![
        paths::SYNC.to_string(),
        paths::BATCH.to_string(),
        format!("{}/{{telegram_id}}", paths::BALANCE),
        format!("{}/{{telegram_id}}", paths::RECORDS),
        paths::USERS.to_string(),
        paths::HOLDS.to_string(),
        format!("{}/{{telegram_id}}", paths::HOLDS),
        format!("{}/{{hold_id}}/{}", paths::HOLDS, paths::CAPTURE),
        format!("{}/{{hold_id}}/{}", paths::HOLDS, paths::VOID),
        paths::REVERSE.to_string(),
        paths::TRANSFER.to_string(),
        paths::HEALTHZ.to_string(),
        paths::METRICS.to_string(),
        paths::OPENAPI.to_string(),
    ]
});

/// The route label: the matched template when it is one of [`ROUTES`], else `other`
/// (an unmatched path is never a label: it is the client's text).
pub fn route_label(matched: Option<&str>) -> &'static str {
    matched
        .and_then(|m| ROUTES.iter().find(|r| r.as_str() == m))
        .map_or(OTHER, String::as_str)
}

/// The method label: one of HTTP's standard methods, else `other` (hyper accepts any token
/// as a method, so the raw name is the client's text).
pub fn method_label(method: &Method) -> &'static str {
    const KNOWN: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    KNOWN
        .iter()
        .find(|known| *known == method)
        .map_or(OTHER, Method::as_str)
}

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
pub struct Metrics {
    /// (route, method, code) -> count.
    requests: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    applied: AtomicU64,
    replayed: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// (configured source, code) -> count: the answers to requests whose API key named a
    /// source (the names come from the config, so the set is bounded).
    by_source: Mutex<BTreeMap<(String, &'static str), u64>>,
    credited: AtomicU64,
    debited: AtomicU64,
    /// The webhook workers' numbers, once they started.
    webhooks: OnceLock<Arc<crate::webhooks::Stats>>,
}

impl Metrics {
    fn observe(&self, route: &'static str, method: &'static str, code: Code, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route, method, code.as_str()))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        let hist = latency.entry(route).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                hist.counts[i] += 1;
            }
        }
        hist.count += 1;
        hist.sum += seconds;
    }

    /// Renders the webhook workers' numbers with the rest.
    pub fn attach_webhooks(&self, stats: Arc<crate::webhooks::Stats>) {
        let _ = self.webhooks.set(stats);
    }

    /// Counts one answer to a request of the configured source `source`.
    pub fn answered(&self, source: &str, code: Code) {
        *self
            .by_source
            .lock()
            .expect("metrics lock")
            .entry((source.to_string(), code.as_str()))
            .or_default() += 1;
    }

    /// The answers per (source, code), as `credit_sync_source_requests_total` counts them.
    pub fn answers_by_source(&self) -> Vec<(String, &'static str, u64)> {
        let by_source = self.by_source.lock().expect("metrics lock");
        by_source
            .iter()
            .map(|((source, code), n)| (source.clone(), *code, *n))
            .collect()
    }

    /// The answers per code over every route, as `credit_sync_requests_total` counts them.
    pub fn answers_by_code(&self) -> BTreeMap<&'static str, u64> {
        let mut by_code = BTreeMap::new();
        for ((_, _, code), n) in self.requests.lock().expect("metrics lock").iter() {
            *by_code.entry(*code).or_default() += n;
        }
        by_code
    }

    /// The ledger's refusals per code, as `credit_sync_ledger_refusals_total` counts them.
    pub fn refusals_by_code(&self) -> BTreeMap<&'static str, u64> {
        self.refused.lock().expect("metrics lock").clone()
    }

    /// Counts what the ledger did with one change.
    pub fn ledger(&self, outcome: &Outcome) {
        match outcome {
            Ok(applied) if applied.duplicate => {
                self.replayed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(applied) => {
                self.applied.fetch_add(1, Ordering::Relaxed);
                let counter = if applied.change > 0 {
                    &self.credited
                } else {
                    &self.debited
                };
                counter.fetch_add(applied.change.unsigned_abs(), Ordering::Relaxed);
            }
            Err(refusal) => {
                *self
                    .refused
                    .lock()
                    .expect("metrics lock")
                    .entry(refusal.code.as_str())
                    .or_default() += 1;
            }
        }
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP credit_sync_requests_total HTTP requests by route, method and response code.\n",
        );
        out.push_str("# TYPE credit_sync_requests_total counter\n");
        for ((route, method, code), n) in self.requests.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "credit_sync_requests_total{{route=\"{}\",method=\"{method}\",code=\"{code}\"}} {n}",
                escape(route)
            );
        }
        out.push_str(
            "# HELP credit_sync_request_duration_seconds HTTP request latency by route.\n",
        );
        out.push_str("# TYPE credit_sync_request_duration_seconds histogram\n");
        for (route, hist) in self.latency.lock().expect("metrics lock").iter() {
            let route = escape(route);
            for (bound, n) in BUCKETS.iter().zip(hist.counts) {
                let _ = writeln!(
                    out,
                    "credit_sync_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "credit_sync_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                hist.count
            );
            let _ = writeln!(
                out,
                "credit_sync_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                hist.sum
            );
            let _ = writeln!(
                out,
                "credit_sync_request_duration_seconds_count{{route=\"{route}\"}} {}",
                hist.count
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        counter(
            &mut out,
            "credit_sync_ledger_changes_applied_total",
            "Balance changes written to the ledger.",
            self.applied.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "credit_sync_ledger_replays_total",
            "Changes answered from an earlier identical request (duplicate).",
            self.replayed.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "credit_sync_ledger_credits_added_total",
            "Sum of all credits added.",
            self.credited.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "credit_sync_ledger_credits_deducted_total",
            "Sum of all credits deducted.",
            self.debited.load(Ordering::Relaxed),
        );
        out.push_str(
            "# HELP credit_sync_ledger_refusals_total Changes the ledger refused, by code.\n",
        );
        out.push_str("# TYPE credit_sync_ledger_refusals_total counter\n");
        for (code, n) in self.refused.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "credit_sync_ledger_refusals_total{{code=\"{code}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP credit_sync_source_requests_total Answers to the requests of each configured source, by code.\n",
        );
        out.push_str("# TYPE credit_sync_source_requests_total counter\n");
        for ((source, code), n) in self.by_source.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "credit_sync_source_requests_total{{source=\"{}\",code=\"{code}\"}} {n}",
                escape(source)
            );
        }
        if let Some(webhooks) = self.webhooks.get() {
            webhooks.render(&mut out);
        }
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The code a response answered with: the one its handler tagged, else its status's.
pub fn answer_code(response: &Response) -> Code {
    response
        .extensions()
        .get::<Code>()
        .copied()
        .unwrap_or_else(|| code_for_status(response.status().as_u16()))
}

/// Middleware: times every request and counts it under its route and response code.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = route_label(
        request
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str()),
    );
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let code = answer_code(&response);
    metrics.observe(route, method, code, elapsed.as_secs_f64());
    tracing::debug!(%method, %route, code = code.as_str(), ms = elapsed.as_millis() as u64, "request");
    response
}

fn code_for_status(status: u16) -> Code {
    if (200..300).contains(&status) {
        return Code::Ok;
    }
    Code::ALL
        .iter()
        .copied()
        .find(|code| code.http_status() == status && !code.is_ok())
        .unwrap_or(Code::InternalError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_fixed_sets() {
        assert_eq!(route_label(Some(paths::SYNC)), paths::SYNC);
        assert_eq!(
            route_label(Some(&format!("{}/{{telegram_id}}", paths::BALANCE))),
            format!("{}/{{telegram_id}}", paths::BALANCE)
        );
        assert_eq!(route_label(Some("/junk/{x}")), OTHER);
        assert_eq!(route_label(None), OTHER);
        assert_eq!(method_label(&Method::POST), "POST");
        let junk = Method::from_bytes(b"XJUNK42").unwrap();
        assert_eq!(method_label(&junk), OTHER);
        let metrics = Metrics::default();
        for i in 0..100 {
            let method = Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
            let path = format!("/p{i}");
            metrics.observe(
                route_label(Some(&path)),
                method_label(&method),
                Code::NotFound,
                0.001,
            );
        }
        let series = metrics
            .render()
            .lines()
            .filter(|l| l.starts_with("credit_sync_requests_total{"))
            .count();
        assert_eq!(series, 1);
    }
}
