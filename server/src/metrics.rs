//! Prometheus text for `GET /metrics`: requests by route and code, latency histograms,
//! and ledger counters, kept in-process so the server needs no metrics dependency.

use crate::ledger::Outcome;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use credit_sync::protocol::Code;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

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
    requests: Mutex<BTreeMap<(String, String, &'static str), u64>>,
    latency: Mutex<BTreeMap<String, Histogram>>,
    applied: AtomicU64,
    replayed: AtomicU64,
    refused: Mutex<BTreeMap<&'static str, u64>>,
    credited: AtomicU64,
    debited: AtomicU64,
}

impl Metrics {
    fn observe(&self, route: &str, method: &str, code: Code, seconds: f64) {
        *self
            .requests
            .lock()
            .expect("metrics lock")
            .entry((route.to_string(), method.to_string(), code.as_str()))
            .or_default() += 1;
        let mut latency = self.latency.lock().expect("metrics lock");
        let hist = latency.entry(route.to_string()).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                hist.counts[i] += 1;
            }
        }
        hist.count += 1;
        hist.sum += seconds;
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
        out
    }
}

fn escape(label: &str) -> String {
    label.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Middleware: times every request and counts it under its route and response code.
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let code = response
        .extensions()
        .get::<Code>()
        .copied()
        .unwrap_or_else(|| code_for_status(response.status().as_u16()));
    metrics.observe(&route, &method, code, elapsed.as_secs_f64());
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
