//! Timed waits on may's parkers.
//!
//! may (0.3.51) keeps a parker's timeout in whole milliseconds, truncated: a timeout under
//! 1 ms means no timeout at all, and one of 1.9 ms fires after 1 ms. Every timed wait built
//! on a parker inherits that in a coroutine (`Blocker::park`, may's `Condvar::wait_timeout`,
//! `Semphore::wait_timeout`, `mpsc::Receiver::recv_timeout`). A loop that waits for what is
//! left of a deadline is woken up to a millisecond early, waits again for the sub-millisecond
//! rest — untimed — and then waited until someone woke it, however late: a query against a
//! server that does not answer outlasted `query_timeout`, a call to a stalled Redis its call
//! timeout. Every timed wait here goes through [`parker_timeout`].

use std::time::Duration;

/// `left` rounded up to whole milliseconds (at least one), so that a timed park in a
/// coroutine ends at or after its deadline and never turns into an untimed one.
pub(crate) fn parker_timeout(left: Duration) -> Duration {
    let ms = left.as_nanos().div_ceil(1_000_000).max(1);
    Duration::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn rounds_up_to_whole_milliseconds() {
        assert_eq!(parker_timeout(Duration::ZERO), Duration::from_millis(1));
        assert_eq!(
            parker_timeout(Duration::from_micros(1)),
            Duration::from_millis(1)
        );
        assert_eq!(
            parker_timeout(Duration::from_millis(3)),
            Duration::from_millis(3)
        );
        assert_eq!(
            parker_timeout(Duration::from_micros(1_900)),
            Duration::from_millis(2)
        );
        assert_eq!(
            parker_timeout(Duration::MAX),
            Duration::from_millis(u64::MAX)
        );
    }

    /// The may behaviour this module exists for, and the cure: in a coroutine a park for
    /// 300 µs waits for its wake-up (here 300 ms later), the rounded one times out.
    #[test]
    fn a_sub_millisecond_park_times_out_once_rounded() {
        let waits = may::go!(|| {
            let wait = |timeout: Duration| {
                let blocker = std::sync::Arc::new(may::sync::Blocker::new(false));
                let waker = blocker.clone();
                let wake = may::go!(move || {
                    may::coroutine::sleep(Duration::from_millis(300));
                    waker.unpark();
                });
                let t = Instant::now();
                let timed_out = blocker.park(Some(timeout)).is_err();
                let took = t.elapsed();
                wake.join().unwrap();
                (timed_out, took)
            };
            let short = Duration::from_micros(300);
            (wait(short), wait(parker_timeout(short)))
        })
        .join()
        .unwrap();
        let (raw, rounded) = waits;
        assert!(
            !raw.0 && raw.1 >= Duration::from_millis(250),
            "may times sub-millisecond parks now ({raw:?}): parker_timeout may be unneeded"
        );
        assert!(
            rounded.0 && rounded.1 < Duration::from_millis(100),
            "{rounded:?}"
        );
    }
}
