//! The replica router against real servers: a throwaway primary and a streaming replica
//! made with `pg_basebackup` (tests/support/replica.rs), lag made real with
//! `pg_wal_replay_pause()`. No timings are asserted; every wait polls against a generous
//! deadline.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod failover;
mod lag;
mod token;

use std::time::{Duration, Instant};

use lifeguard::{Executor, Router, RouterStatus};

/// Generous: the machine may be loaded by other builds.
pub const DEADLINE: Duration = Duration::from_secs(90);

/// Polls `f` every 50 ms until it returns `Some`, panicking with `what` after [`DEADLINE`].
pub fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the router's only replica is admitted (`true`) or banned (`false`).
pub fn wait_replica(router: &Router, healthy: bool) -> RouterStatus {
    wait_for(
        if healthy {
            "the replica to be admitted"
        } else {
            "the replica to be banned"
        },
        || {
            let s = router.status();
            (s.replicas[0].healthy == healthy).then_some(s)
        },
    )
}

/// Which server answered a read through `e`: true for the replica (in recovery).
pub fn on_replica(e: &impl Executor) -> lifeguard::Result<bool> {
    e.query_one("SELECT pg_is_in_recovery()", &[])?.try_get(0)
}
