//! Per-source request limits (`rate_limit_per_sec`), so one noisy bot cannot starve the
//! others: a token bucket per source, refilled continuously, burst = one second's worth.
//! The buckets are made once, from the config: no request can add one.

use crate::config::SourceConfig;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

struct Bucket {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

#[derive(Default)]
pub struct RateLimits {
    buckets: HashMap<String, Mutex<Bucket>>,
}

impl RateLimits {
    pub fn new(sources: &[SourceConfig]) -> Self {
        let now = Instant::now();
        let buckets = sources
            .iter()
            .filter(|s| s.rate_limit_per_sec > 0)
            .map(|s| {
                let rate = f64::from(s.rate_limit_per_sec);
                (
                    s.name.clone(),
                    Mutex::new(Bucket {
                        rate,
                        tokens: rate,
                        refilled: now,
                    }),
                )
            })
            .collect();
        RateLimits { buckets }
    }

    /// Takes one request's token; `Err(wait)` when the source must wait that long.
    pub fn take(&self, source: &str) -> Result<(), Duration> {
        let Some(bucket) = self.buckets.get(source) else {
            return Ok(());
        };
        let mut bucket = bucket.lock().expect("rate limit lock");
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * bucket.rate).min(bucket.rate);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / bucket.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Permission;

    #[test]
    fn limits_only_configured_sources() {
        let source = |name: &str, rate| SourceConfig {
            name: name.into(),
            api_key: format!("{name}-key"),
            secret: "s".into(),
            permissions: vec![Permission::Write],
            auto_register: true,
            rate_limit_per_sec: rate,
        };
        let limits = RateLimits::new(&[source("slow", 2), source("free", 0)]);
        assert!(limits.take("slow").is_ok());
        assert!(limits.take("slow").is_ok());
        assert!(limits.take("slow").is_err());
        for _ in 0..100 {
            assert!(limits.take("free").is_ok());
        }
        // Names nobody configured (the buckets are keyed by source, never by client input)
        // are never limited and never add a bucket: the map is built once.
        for i in 0..1000 {
            assert!(limits.take(&format!("junk-{i}")).is_ok());
        }
        assert_eq!(limits.buckets.len(), 1);
    }
}
