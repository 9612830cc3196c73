//! The client's idea of the server's time: the local clock plus an offset learnt
//! from `server_time` after a `timestamp_out_of_window`, so one skewed machine needs
//! one corrected retry, not one per call.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Local Unix time in seconds.
pub fn local_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Shared by every clone of a client.
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// The timestamp to sign with: local time corrected by the learnt offset.
    pub fn now(&self) -> i64 {
        local_now().saturating_add(self.offset())
    }

    pub fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }

    pub fn set_offset(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::Relaxed);
    }

    /// Learns the offset from a server's clock reading.
    pub fn learn(&self, server_time: i64) {
        self.set_offset(server_time.saturating_sub(local_now()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_corrects_now() {
        let c = Clock::default();
        c.set_offset(-3600);
        assert!((c.now() - (local_now() - 3600)).abs() <= 1);
        c.learn(local_now() + 1000);
        assert!((c.now() - (local_now() + 1000)).abs() <= 1);
    }
}
