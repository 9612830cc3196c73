//! The retry policy: which failures are worth another attempt and how long to wait
//! before it. Retries are safe only because every write carries a fixed
//! `external_reference`; this module decides *when*, the client guarantees *safe*.

use crate::config::{Backoff, RetryBudget};
use rand::Rng;
use std::sync::Mutex;
use std::time::Duration;

/// The longest `Retry-After` the SDK waits for inside one call. A server asking for
/// more gets its error returned (with `retry_after`) so the caller can decide.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Does an HTTP status mean "try again" (408, 429 and every 5xx)?
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Parses a `Retry-After` header given in seconds (the form the server sends).
/// HTTP dates are not used by this protocol and give `None`.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// How many retries a call gets and how long it waits before each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The wait before each retry.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// The upper bound of the wait before retry number `retry` (0-based):
    /// `min(cap, base * factor^retry)`.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let b = self.backoff;
        let exp = b.factor.max(1.0).powi(retry.min(64) as i32);
        let secs = b.base.as_secs_f64() * exp;
        let cap = b.cap.as_secs_f64();
        if secs.is_finite() && secs < cap {
            Duration::from_secs_f64(secs)
        } else {
            b.cap
        }
    }

    /// The wait before retry number `retry`, or `None` when the retries are used up or
    /// the server asked for a wait longer than [`MAX_RETRY_AFTER`].
    ///
    /// Full jitter: a uniform random time in `[0, ceiling(retry)]`. A `Retry-After` from
    /// the server is honoured as the minimum wait.
    pub fn delay(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if retry >= self.max_retries {
            return None;
        }
        let ceiling = self.ceiling(retry);
        let jitter = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(rng.random_range(0.0..=ceiling.as_secs_f64()))
        };
        match retry_after {
            Some(ra) if ra > MAX_RETRY_AFTER => None,
            Some(ra) => Some(ra.max(jitter)),
            None => Some(jitter),
        }
    }
}

/// The live retry budget of one client, shared by all its calls and clones.
#[derive(Debug)]
pub struct TokenBucket {
    budget: RetryBudget,
    tokens: Mutex<u32>,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(budget: RetryBudget) -> TokenBucket {
        TokenBucket {
            budget,
            tokens: Mutex::new(budget.capacity),
        }
    }

    /// Takes the cost of one retry (after a timeout or another failure), or `None` when
    /// the bucket cannot pay it: then the call fails now with its real error.
    pub fn try_acquire(&self, after_timeout: bool) -> Option<u32> {
        let cost = if after_timeout {
            self.budget.timeout_cost
        } else {
            self.budget.retry_cost
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let left = tokens.checked_sub(cost)?;
        *tokens = left;
        Some(cost)
    }

    /// A call succeeded: it puts back what its retries took, or a little when it took none.
    pub fn succeeded(&self, spent: u32) {
        let refill = if spent > 0 {
            spent
        } else {
            self.budget.success_refill
        };
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        *tokens = tokens.saturating_add(refill).min(self.budget.capacity);
    }

    /// The tokens left.
    pub fn available(&self) -> u32 {
        *self.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_budget_empties_under_failures_and_refills_on_success() {
        let bucket = TokenBucket::new(RetryBudget {
            capacity: 20,
            ..RetryBudget::default()
        });
        assert_eq!(bucket.try_acquire(true), Some(10));
        assert_eq!(bucket.try_acquire(false), Some(5));
        assert_eq!(bucket.try_acquire(false), Some(5));
        assert_eq!(bucket.try_acquire(false), None, "empty: no more retries");
        bucket.succeeded(0);
        assert_eq!(bucket.available(), 1);
        bucket.succeeded(15);
        assert_eq!(bucket.available(), 16);
        bucket.succeeded(100);
        assert_eq!(bucket.available(), 20, "never above capacity");
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            backoff: Backoff::default(),
        }
    }

    #[test]
    fn retryable_statuses() {
        for s in [408, 429, 500, 502, 503, 504, 599] {
            assert!(is_retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409, 413, 415, 422] {
            assert!(!is_retryable_status(s), "{s}");
        }
    }

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let p = policy();
        let ms: Vec<u128> = (0..7).map(|n| p.ceiling(n).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(8));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_spreads() {
        let p = RetryPolicy {
            max_retries: 100,
            ..policy()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for retry in 0..6 {
            let ds: Vec<Duration> = (0..200)
                .map(|_| p.delay(retry, None, &mut rng).unwrap())
                .collect();
            assert!(ds.iter().all(|d| *d <= p.ceiling(retry)));
            let min = ds.iter().min().unwrap();
            let max = ds.iter().max().unwrap();
            // Full jitter covers the whole range, not just the top of it.
            assert!(*min < p.ceiling(retry) / 4, "retry {retry}: min {min:?}");
            assert!(
                *max > p.ceiling(retry) * 3 / 4,
                "retry {retry}: max {max:?}"
            );
        }
    }

    #[test]
    fn retries_run_out() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let p = policy();
        assert!(p.delay(2, None, &mut rng).is_some());
        assert!(p.delay(3, None, &mut rng).is_none());
        let none = RetryPolicy {
            max_retries: 0,
            ..p
        };
        assert!(none.delay(0, None, &mut rng).is_none());
    }

    #[test]
    fn retry_after_is_a_floor_and_has_a_limit() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let p = policy();
        let d = p.delay(0, Some(Duration::from_secs(5)), &mut rng).unwrap();
        assert_eq!(d, Duration::from_secs(5));
        assert!(p
            .delay(0, Some(MAX_RETRY_AFTER + Duration::from_secs(1)), &mut rng)
            .is_none());
        assert_eq!(parse_retry_after(" 3 "), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
