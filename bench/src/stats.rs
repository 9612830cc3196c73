//! Latency and throughput bookkeeping: each worker keeps its own sample, the
//! samples are merged once at the end, so measuring adds no shared state.

use crate::mix::Mix;
use std::fmt;
use std::time::Duration;

/// What one or more workers observed.
#[derive(Default, Debug)]
pub struct Sample {
    latencies_us: Vec<u32>,
    items: usize,
    errors: usize,
}

impl Sample {
    pub fn record(&mut self, latency: Duration, items: usize, ok: bool) {
        self.latencies_us
            .push(latency.as_micros().min(u32::MAX as u128) as u32);
        if ok {
            self.items += items;
        } else {
            self.errors += 1;
        }
    }

    pub fn merge(&mut self, other: Sample) {
        self.latencies_us.extend(other.latencies_us);
        self.items += other.items;
        self.errors += other.errors;
    }

    pub fn report(mut self, mix: Mix, elapsed: Duration) -> Report {
        self.latencies_us.sort_unstable();
        let secs = elapsed.as_secs_f64().max(1e-9);
        Report {
            mix,
            requests: self.latencies_us.len(),
            requests_per_sec: self.latencies_us.len() as f64 / secs,
            items_per_sec: self.items as f64 / secs,
            p50_ms: percentile(&self.latencies_us, 0.50),
            p99_ms: percentile(&self.latencies_us, 0.99),
            errors: self.errors,
        }
    }
}

fn percentile(sorted_us: &[u32], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

/// One line of results for one mix.
pub struct Report {
    mix: Mix,
    requests: usize,
    requests_per_sec: f64,
    items_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: usize,
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "mix": self.mix.to_string(), "requests": self.requests,
            "requests_per_sec": self.requests_per_sec, "items_per_sec": self.items_per_sec,
            "p50_ms": self.p50_ms, "p99_ms": self.p99_ms, "errors": self.errors,
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<12} requests={:<8} {:>9.0} req/s {:>9.0} items/s  p50={:.2}ms p99={:.2}ms errors={}",
            self.mix.to_string(), self.requests, self.requests_per_sec, self.items_per_sec, self.p50_ms, self.p99_ms, self.errors
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 0.50), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[], 0.99), 0.0);
    }
}
