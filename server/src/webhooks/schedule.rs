//! The retry schedule, in one place: exponential backoff with full jitter (a random delay
//! up to `first_retry × 2^(n-1)`, capped at `max_retry`), until the event has failed for
//! `give_up_after` (or `max_attempts` times). The defaults: up to 5 s, then up to an
//! hour, for a day; `[webhook_delivery]` overrides them (tests shrink them to ms).

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub first_retry: Duration,
    pub max_retry: Duration,
    pub give_up_after: Duration,
    /// 0: only `give_up_after` ends the attempts.
    pub max_attempts: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            first_retry: Duration::from_secs(5),
            max_retry: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            max_attempts: 0,
        }
    }
}

impl Schedule {
    /// The longest delay after the `failed`-th failed attempt (1-based).
    pub fn ceiling(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(30);
        self.first_retry
            .saturating_mul(1u32 << doublings)
            .min(self.max_retry)
    }

    /// The delay before the next attempt after the `failed`-th failed one: uniform in
    /// `[0, ceiling]` (full jitter, so endpoints that failed together do not retry
    /// together).
    pub fn delay(&self, failed: u32) -> Duration {
        let ceiling = self.ceiling(failed).as_millis() as u64;
        Duration::from_millis(rand::random_range(0..=ceiling))
    }

    /// Whether an event whose first attempt failed at `first_failed_ms` and that has now
    /// failed `failed` times is given up at `now_ms`.
    pub fn gives_up(&self, failed: u32, first_failed_ms: i64, now_ms: i64) -> bool {
        let over_time =
            now_ms.saturating_sub(first_failed_ms) >= self.give_up_after.as_millis() as i64;
        let over_count = self.max_attempts > 0 && failed >= self.max_attempts;
        over_time || over_count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_exponentially_to_the_cap_with_jitter() {
        let s = Schedule::default();
        assert_eq!(s.ceiling(1), Duration::from_secs(5));
        assert_eq!(s.ceiling(2), Duration::from_secs(10));
        assert_eq!(s.ceiling(10), Duration::from_secs(2560));
        assert_eq!(s.ceiling(11), Duration::from_secs(3600));
        assert_eq!(s.ceiling(u32::MAX), Duration::from_secs(3600));
        for n in 1..40 {
            assert!(s.delay(n) <= s.ceiling(n));
        }
        // Full jitter: not always the ceiling.
        assert!((0..50).any(|_| s.delay(5) < s.ceiling(5)));
    }

    #[test]
    fn gives_up_after_a_day_or_the_attempts() {
        let s = Schedule::default();
        let day = 86_400_000;
        assert!(!s.gives_up(40, 0, day - 1));
        assert!(s.gives_up(40, 0, day));
        let capped = Schedule {
            max_attempts: 3,
            ..s
        };
        assert!(!capped.gives_up(2, 0, 0));
        assert!(capped.gives_up(3, 0, 0));
    }
}
