//! A circuit breaker in front of Redis: after `threshold` failures in a row it opens, and
//! callers skip Redis (straight to the database) without paying a timeout each; after
//! `cooldown` one caller probes, and a success closes it again.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::time::{Duration, Instant};

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
/// One probe is in flight; everyone else still skips Redis.
const PROBING: u8 = 2;

pub(crate) struct Breaker {
    state: AtomicU8,
    failures: AtomicU32,
    /// When the breaker opened, in nanoseconds since `origin`.
    opened_at: AtomicU64,
    origin: Instant,
    threshold: u32,
    cooldown: Duration,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Breaker {
        Breaker {
            state: AtomicU8::new(CLOSED),
            failures: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            origin: Instant::now(),
            threshold: threshold.max(1),
            cooldown,
        }
    }

    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Whether this call may go to Redis. While open, the first caller after the cooldown
    /// becomes the probe (the breaker moves to probing); the others are refused.
    pub(crate) fn allow(&self) -> bool {
        match self.state.load(Ordering::Acquire) {
            CLOSED => true,
            OPEN => {
                let since = self
                    .now()
                    .saturating_sub(self.opened_at.load(Ordering::Acquire));
                since >= self.cooldown.as_nanos() as u64
                    && self
                        .state
                        .compare_exchange(OPEN, PROBING, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
            }
            _ => false,
        }
    }

    /// A call succeeded: the breaker closes (a successful probe ends the outage).
    pub(crate) fn success(&self) {
        self.failures.store(0, Ordering::Release);
        if self.state.load(Ordering::Acquire) != CLOSED {
            self.state.store(CLOSED, Ordering::Release);
        }
    }

    /// A call failed. A failed probe reopens the breaker for another cooldown.
    pub(crate) fn failure(&self) {
        let n = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        let state = self.state.load(Ordering::Acquire);
        if state == PROBING || (state == CLOSED && n >= self.threshold) {
            self.opened_at.store(self.now(), Ordering::Release);
            self.state.store(OPEN, Ordering::Release);
        }
    }

    /// True while callers skip Redis.
    pub(crate) fn is_open(&self) -> bool {
        self.state.load(Ordering::Acquire) != CLOSED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_probes_after_cooldown() {
        let b = Breaker::new(3, Duration::from_millis(50));
        assert!(b.allow());
        b.failure();
        b.failure();
        assert!(!b.is_open(), "two failures of three stay closed");
        b.failure();
        assert!(b.is_open());
        assert!(!b.allow(), "open: refused during the cooldown");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow(), "the first caller after the cooldown probes");
        assert!(!b.allow(), "only one probe at a time");
        b.failure();
        assert!(b.is_open() && !b.allow(), "a failed probe reopens");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.allow());
        b.success();
        assert!(!b.is_open() && b.allow(), "a good probe closes it");
    }

    #[test]
    fn success_resets_the_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        b.failure();
        b.success();
        b.failure();
        assert!(!b.is_open());
    }
}
