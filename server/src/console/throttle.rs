//! Sign-in throttling, per process: after a few wrong passwords for one name, that name
//! waits (longer each time); and all sign-ins together are held to a rate, so guessing
//! across many names cannot keep the server's CPU busy with argon2.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Wrong passwords a name may have before it must wait.
pub const FREE_FAILURES: u32 = 5;
/// The first wait; each further failure doubles it, up to [`MAX_WAIT`].
const FIRST_WAIT: Duration = Duration::from_secs(60);
const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A name's failures are forgotten this long after its last one.
const FORGET_AFTER: Duration = Duration::from_secs(15 * 60);
/// Sign-in attempts per second for the whole process, and the burst above it.
const ATTEMPTS_PER_SEC: f64 = 5.0;
const BURST: f64 = 20.0;
/// Names tracked at most (older ones are dropped first when full).
const MAX_NAMES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

struct State {
    names: HashMap<String, Failures>,
    tokens: f64,
    refilled: Instant,
}

pub struct Throttle {
    state: Mutex<State>,
}

impl Default for Throttle {
    fn default() -> Self {
        Throttle {
            state: Mutex::new(State {
                names: HashMap::new(),
                tokens: BURST,
                refilled: Instant::now(),
            }),
        }
    }
}

impl Throttle {
    /// May `name` try a password now? `Err(wait)` when it must wait (nothing is verified).
    pub fn attempt(&self, name: &str) -> Result<(), Duration> {
        self.attempt_at(name, Instant::now())
    }

    fn attempt_at(&self, name: &str, now: Instant) -> Result<(), Duration> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(failures) = state.names.get(&key(name)).copied() {
            let until = failures.last + wait_after(failures.count);
            if now < until {
                return Err(until - now);
            }
        }
        let elapsed = now.saturating_duration_since(state.refilled).as_secs_f64();
        state.tokens = (state.tokens + elapsed * ATTEMPTS_PER_SEC).min(BURST);
        state.refilled = now;
        if state.tokens < 1.0 {
            return Err(Duration::from_secs(1));
        }
        state.tokens -= 1.0;
        Ok(())
    }

    /// A wrong password (or an unknown name) for `name`.
    pub fn failed(&self, name: &str) {
        self.failed_at(name, Instant::now())
    }

    fn failed_at(&self, name: &str, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state
            .names
            .retain(|_, f| now.saturating_duration_since(f.last) < FORGET_AFTER);
        if state.names.len() >= MAX_NAMES {
            let oldest = state
                .names
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                state.names.remove(&oldest);
            }
        }
        let entry = state.names.entry(key(name)).or_insert(Failures {
            count: 0,
            last: now,
        });
        entry.count += 1;
        entry.last = now;
    }

    /// A successful sign-in clears the name's failures.
    pub fn succeeded(&self, name: &str) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.names.remove(&key(name));
    }
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// How long a name with `count` failures waits after its last one.
fn wait_after(count: u32) -> Duration {
    if count < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (count - FREE_FAILURES).min(10);
    (FIRST_WAIT * 2u32.pow(doublings)).min(MAX_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_waits_after_its_free_failures_and_longer_each_time() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            assert!(throttle.attempt_at("Ops", t0).is_ok());
            throttle.failed_at("ops", t0);
        }
        let wait = throttle.attempt_at("OPS", t0).unwrap_err();
        assert_eq!(wait, FIRST_WAIT);
        assert!(
            throttle.attempt_at("other", t0).is_ok(),
            "other names go on"
        );
        let later = t0 + FIRST_WAIT;
        assert!(throttle.attempt_at("ops", later).is_ok());
        throttle.failed_at("ops", later);
        assert_eq!(
            throttle.attempt_at("ops", later).unwrap_err(),
            FIRST_WAIT * 2
        );
        throttle.succeeded("ops");
        assert!(throttle.attempt_at("ops", later).is_ok());
        assert_eq!(wait_after(100), MAX_WAIT);
    }

    #[test]
    fn all_names_together_are_held_to_a_rate() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        let allowed = (0..100)
            .filter(|i| throttle.attempt_at(&format!("n{i}"), t0).is_ok())
            .count();
        assert_eq!(allowed, BURST as usize);
        assert!(throttle
            .attempt_at("n", t0 + Duration::from_secs(1))
            .is_ok());
    }
}
