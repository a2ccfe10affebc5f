//! What `Pool::status()` reports: a snapshot of the pool and its running counters.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections.
    pub size: usize,
    /// The bound.
    pub max_size: usize,
    /// Open connections not checked out (they serve pipelined queries).
    pub idle: usize,
    /// Connections checked out exclusively (`get`, `transaction`).
    pub in_use: usize,
    /// Callers waiting for a connection.
    pub waiting: usize,
    /// Connections being opened.
    pub opening: usize,
    /// Counters since the pool was built.
    pub counters: PoolCounters,
}

/// Running totals since the pool was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolCounters {
    /// Checkouts (`get`, `transaction`) served without waiting. Pipelined picks that find a
    /// connection are not counted: they never wait, and counting them would put a shared
    /// atomic on every query.
    pub acquired_directly: u64,
    /// Checkouts and pipelined queries served after waiting for a connection.
    pub acquired_after_wait: u64,
    /// Checkouts and pipelined queries that gave up at the acquire timeout.
    pub timed_out: u64,
    /// Connections opened.
    pub opened: u64,
    /// Attempts to open a connection that failed.
    pub open_failures: u64,
    /// Connections discarded because they broke (server restart, killed backend, fatal error,
    /// failed liveness check).
    pub closed_broken: u64,
    /// Connections retired at their `max_lifetime`.
    pub closed_lifetime: u64,
    /// Connections closed after `idle_timeout`.
    pub closed_idle: u64,
}

/// Why a connection left the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    Broken,
    Lifetime,
    Idle,
}

impl CloseReason {
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn label(self) -> &'static str {
        match self {
            CloseReason::Broken => "broken",
            CloseReason::Lifetime => "lifetime",
            CloseReason::Idle => "idle",
        }
    }
}

/// The counters, updated without the pool's lock.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) acquired_directly: AtomicU64,
    pub(crate) acquired_after_wait: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) opened: AtomicU64,
    pub(crate) open_failures: AtomicU64,
    closed_broken: AtomicU64,
    closed_lifetime: AtomicU64,
    closed_idle: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn closed(&self, reason: CloseReason) {
        bump(match reason {
            CloseReason::Broken => &self.closed_broken,
            CloseReason::Lifetime => &self.closed_lifetime,
            CloseReason::Idle => &self.closed_idle,
        });
        crate::observe::counter!("lifeguard_pool_closed_total", 1, "reason" => reason.label());
    }

    pub(crate) fn snapshot(&self) -> PoolCounters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        PoolCounters {
            acquired_directly: get(&self.acquired_directly),
            acquired_after_wait: get(&self.acquired_after_wait),
            timed_out: get(&self.timed_out),
            opened: get(&self.opened),
            open_failures: get(&self.open_failures),
            closed_broken: get(&self.closed_broken),
            closed_lifetime: get(&self.closed_lifetime),
            closed_idle: get(&self.closed_idle),
        }
    }
}
