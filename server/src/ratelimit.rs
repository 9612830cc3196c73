//! Per-source request limits (`rate_limit_per_sec`), so one noisy bot cannot starve the
//! others: a token bucket per source, refilled continuously, burst = one second's worth.
//! The buckets come from the config only (at start and on a reload): no request adds one.

use crate::config::SourceConfig;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Bucket {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

#[derive(Default)]
pub struct RateLimits {
    /// Shared with the limits a reload makes, so a reload does not refill them.
    buckets: HashMap<String, Arc<Mutex<Bucket>>>,
}

impl RateLimits {
    pub fn new(sources: &[SourceConfig]) -> Self {
        RateLimits::default().carry_over(sources)
    }

    /// The limits of reloaded `sources`: a source with the same name and rate keeps its
    /// bucket (a reload must not hand a throttled source a fresh burst), the others
    /// start full.
    pub fn carry_over(&self, sources: &[SourceConfig]) -> Self {
        let now = Instant::now();
        let buckets = sources
            .iter()
            .filter(|s| s.rate_limit_per_sec > 0)
            .map(|s| {
                let rate = f64::from(s.rate_limit_per_sec);
                let bucket = self
                    .buckets
                    .get(&s.name)
                    .filter(|b| b.lock().expect("rate limit lock").rate == rate)
                    .cloned()
                    .unwrap_or_else(|| {
                        Arc::new(Mutex::new(Bucket {
                            rate,
                            tokens: rate,
                            refilled: now,
                        }))
                    });
                (s.name.clone(), bucket)
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

    fn source(name: &str, rate: u32) -> SourceConfig {
        SourceConfig {
            name: name.into(),
            api_keys: vec![format!("{name}-key")],
            secrets: vec!["s".into()],
            permissions: vec![Permission::Write],
            auto_register: true,
            rate_limit_per_sec: rate,
            signatures: vec![crate::config::Scheme::V1, crate::config::Scheme::V2],
            events: crate::config::EventScope::All,
        }
    }

    #[test]
    fn limits_only_configured_sources() {
        let limits = RateLimits::new(&[source("slow", 2), source("free", 0)]);
        assert!(limits.take("slow").is_ok());
        assert!(limits.take("slow").is_ok());
        assert!(limits.take("slow").is_err());
        for _ in 0..100 {
            assert!(limits.take("free").is_ok());
        }
        // Names nobody configured (the buckets are keyed by source, never by client input)
        // are never limited and never add a bucket.
        for i in 0..1000 {
            assert!(limits.take(&format!("junk-{i}")).is_ok());
        }
        assert_eq!(limits.buckets.len(), 1);
    }

    #[test]
    fn a_reload_keeps_the_buckets_of_unchanged_sources() {
        let limits = RateLimits::new(&[source("same", 1), source("faster", 1)]);
        assert!(limits.take("same").is_ok());
        assert!(limits.take("faster").is_ok());
        let mut rotated = source("same", 1);
        rotated.api_keys.push("same-next-key".into());
        let reloaded = limits.carry_over(&[rotated, source("faster", 5), source("new", 1)]);
        // Unchanged rate: still empty, and the old limits (of requests in flight) share it.
        assert!(reloaded.take("same").is_err());
        assert!(limits.take("same").is_err());
        // A changed rate or a new source starts with a full bucket.
        assert!(reloaded.take("faster").is_ok());
        assert!(reloaded.take("new").is_ok());
    }
}
