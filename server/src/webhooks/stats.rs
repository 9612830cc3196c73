//! The delivery counters and lag of each endpoint, kept by its worker in this process and
//! rendered into `GET /metrics`. Labels are the configured endpoints' [`label`]s (a
//! bounded set, without credentials or queries).
//!
//! [`label`]: super::config::label

use crate::events::Notifier;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One endpoint's numbers.
#[derive(Default)]
pub struct EndpointStats {
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub failed_deliveries: AtomicU64,
    /// The worker's cursor, as it last read or moved it.
    pub cursor: AtomicI64,
    /// Commit time (Unix ms) of the event it is delivering; 0 when caught up.
    pub pending_since_ms: AtomicI64,
}

/// Every endpoint's numbers, and the latest seq (for the events behind).
pub struct Stats {
    endpoints: Mutex<BTreeMap<String, Arc<EndpointStats>>>,
    latest: Notifier,
}

impl Stats {
    pub fn new(latest: Notifier) -> Stats {
        Stats {
            endpoints: Mutex::new(BTreeMap::new()),
            latest,
        }
    }

    /// The numbers of the endpoint labelled `label` (made on first use).
    pub fn endpoint(&self, label: &str) -> Arc<EndpointStats> {
        self.endpoints
            .lock()
            .expect("webhook stats lock")
            .entry(label.to_string())
            .or_default()
            .clone()
    }

    /// Forgets an endpoint removed from the config.
    pub fn remove(&self, label: &str) {
        self.endpoints
            .lock()
            .expect("webhook stats lock")
            .remove(label);
    }

    pub fn render(&self, out: &mut String) {
        let endpoints = self.endpoints.lock().expect("webhook stats lock");
        let latest = self.latest.latest();
        let now = crate::ledger::now_ms();
        type Value = fn(&EndpointStats, i64, i64) -> String;
        let series: [(&str, &str, &str, Value); 5] = [
            (
                "credit_sync_webhook_delivered_total",
                "counter",
                "Events delivered (a 2xx answer) to each webhook endpoint.",
                |s, _, _| s.delivered.load(Ordering::Relaxed).to_string(),
            ),
            (
                "credit_sync_webhook_failed_attempts_total",
                "counter",
                "Delivery attempts that failed (non-2xx, timeout, connection error).",
                |s, _, _| s.failed_attempts.load(Ordering::Relaxed).to_string(),
            ),
            (
                "credit_sync_webhook_failed_deliveries_total",
                "counter",
                "Events given up after their last attempt (kept; see `webhooks list`).",
                |s, _, _| s.failed_deliveries.load(Ordering::Relaxed).to_string(),
            ),
            (
                "credit_sync_webhook_lag_seconds",
                "gauge",
                "Age of the oldest event the endpoint has not received yet (0: caught up).",
                |s, _, now| {
                    let since = s.pending_since_ms.load(Ordering::Relaxed);
                    let lag = if since > 0 { (now - since).max(0) } else { 0 };
                    format!("{}", lag as f64 / 1000.0)
                },
            ),
            (
                "credit_sync_webhook_events_behind",
                "gauge",
                "Events committed after the endpoint's cursor (matching its filters or not).",
                |s, latest, _| {
                    (latest - s.cursor.load(Ordering::Relaxed))
                        .max(0)
                        .to_string()
                },
            ),
        ];
        for (name, kind, help, value) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (label, stats) in endpoints.iter() {
                let label = label.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "{name}{{endpoint=\"{label}\"}} {}",
                    value(stats, latest, now)
                );
            }
        }
    }
}
