//! The monitor coroutine: measures each replica's lag and bans or readmits it.
//!
//! Every `monitor_interval` it reads the primary's `pg_current_wal_lsn()` and, on each
//! replica, `pg_last_wal_receive_lsn()`, `pg_last_wal_replay_lsn()`,
//! `pg_last_xact_replay_timestamp()` and `pg_is_wal_replay_paused()`, over connections of its
//! own (bounded by `probe_timeout`, so a dead node cannot hang it).
//!
//! - Byte lag: primary position minus replay position.
//! - Time lag: zero when the replica has replayed everything the primary had (so an idle
//!   primary, whose last commit may be hours old, shows no lag: receive = replay = primary
//!   means caught up, whatever the timestamps say). Otherwise, how long ago the monitor first
//!   saw the primary past the replica's replay position (from its own history of primary
//!   positions, so no clocks are compared); before that history reaches back far enough,
//!   `now() - pg_last_xact_replay_timestamp()` on the replica.
//! - Stall: the replay position has not moved for `stall_timeout` although the replica has
//!   received WAL beyond it (replay paused, or blocked by a conflicting query).
//!
//! Over either limit, stalled, unreachable or no longer a standby ⇒ banned. A banned replica
//! is probed again after its backoff and readmitted at the first healthy probe; the backoff
//! doubles with each ban that follows closely on a readmission.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use may::sync::mpsc::{channel, Receiver, Sender};

use super::{Lsn, Replica, ReplicaState, Settings, Shared};
use crate::driver::client::Client;
use crate::driver::config::Config;
use crate::driver::executor::Executor;
use crate::error::{Error, Result};
use crate::observe::gauge;

/// The application_name of the monitor's connections.
const APPLICATION_NAME: &str = "lifeguard-router-monitor";

const PRIMARY_PROBE: &str = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8";

// CASE: pg_is_wal_replay_paused() raises an error outside recovery.
const REPLICA_PROBE: &str = "SELECT pg_is_in_recovery(), \
     (pg_last_wal_receive_lsn() - '0/0'::pg_lsn)::int8, \
     (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8, \
     extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, \
     CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END";

/// Checks every node once, then keeps checking in a coroutine until the returned sender
/// is dropped.
pub(crate) fn start(shared: Arc<Shared>) -> Result<Mutex<Sender<()>>> {
    let (stop, stopped) = channel::<()>();
    let mut monitor = Monitor::new(&shared);
    monitor.tick(&shared, &stopped);
    let interval = shared.settings.interval;
    // SAFETY (may): the monitor keeps no thread-local state across yields.
    let spawned = unsafe {
        may::coroutine::Builder::new()
            .name("lifeguard-router-monitor".into())
            .stack_size(0x10000)
            .spawn(move || {
                // Any other answer: the router is gone (or asked us to stop).
                while let Err(RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(crate::driver::wait::parker_timeout(interval))
                {
                    if !monitor.tick(&shared, &stopped) {
                        break;
                    }
                }
            })
    };
    spawned.map_err(|e| Error::io("spawning the router's monitor coroutine", e))?;
    Ok(Mutex::new(stop))
}

/// A probe connection, opened on demand and dropped after any failure.
struct Probe {
    config: Config,
    client: Option<Client>,
}

impl Probe {
    fn new(config: &Config, settings: &Settings) -> Probe {
        let mut config = config.clone();
        config
            .connect_timeout(Some(settings.probe_timeout))
            .query_timeout(Some(settings.probe_timeout))
            .application_name(APPLICATION_NAME);
        Probe {
            config,
            client: None,
        }
    }

    fn query_one(&mut self, sql: &str) -> Result<crate::Row> {
        let client = match &self.client {
            Some(c) if !c.is_broken() => c.clone(),
            _ => {
                self.client = None;
                let c = Client::connect_with(&self.config)?;
                self.client = Some(c.clone());
                c
            }
        };
        let res = client.query_one(sql, &[]);
        if res.is_err() {
            self.client = None;
        }
        res
    }
}

/// What one replica probe returned.
struct Sample {
    in_recovery: bool,
    receive: Option<u64>,
    replay: Option<u64>,
    since_replay_ts: Option<f64>,
    paused: bool,
}

fn sample(probe: &mut Probe) -> Result<Sample> {
    let row = probe.query_one(REPLICA_PROBE)?;
    let lsn = |i: usize| -> Result<Option<u64>> {
        Ok(row.try_get::<_, Option<i64>>(i)?.map(|v| v as u64))
    };
    Ok(Sample {
        in_recovery: row.try_get(0)?,
        receive: lsn(1)?,
        replay: lsn(2)?,
        since_replay_ts: row.try_get(3)?,
        paused: row.try_get::<_, Option<bool>>(4)?.unwrap_or(false),
    })
}

/// The monitor's own bookkeeping for one replica.
struct Watch {
    probe: Probe,
    banned: bool,
    banned_until: Instant,
    /// Bans since the replica last stayed healthy for `max_backoff`.
    recent_bans: u32,
    healthy_since: Option<Instant>,
    last_replay: Option<u64>,
    replay_stuck_since: Option<Instant>,
    unreachable: bool,
}

struct Monitor {
    primary: Probe,
    watches: Vec<Watch>,
    /// (when first seen, primary position), positions strictly increasing.
    history: VecDeque<(Instant, u64)>,
}

impl Monitor {
    fn new(shared: &Shared) -> Monitor {
        let now = Instant::now();
        Monitor {
            primary: Probe::new(&shared.primary_config, &shared.settings),
            watches: shared
                .replicas
                .iter()
                .map(|r| Watch {
                    probe: Probe::new(&r.config, &shared.settings),
                    // Not admitted until a first healthy probe, which needs no backoff.
                    banned: true,
                    banned_until: now,
                    recent_bans: 0,
                    healthy_since: None,
                    last_replay: None,
                    replay_stuck_since: None,
                    unreachable: false,
                })
                .collect(),
            history: VecDeque::new(),
        }
    }

    /// One round over every node; false when the router is gone.
    fn tick(&mut self, shared: &Shared, stopped: &Receiver<()>) -> bool {
        let settings = &shared.settings;
        let primary = match self.primary.query_one(PRIMARY_PROBE) {
            Ok(row) => row.try_get::<_, i64>(0).ok().map(|v| v as u64),
            Err(e) => {
                tracing::debug!(error = %e, "router monitor: the primary did not answer");
                None
            }
        };
        let now = Instant::now();
        if let Some(lsn) = primary {
            shared.primary_lsn.store(lsn, Ordering::Release);
            if self.history.back().is_none_or(|&(_, last)| lsn > last) {
                self.history.push_back((now, lsn));
            }
            // Keep one sample older than the window, so the window stays covered.
            let window =
                (settings.max_lag.max(settings.stall_timeout) * 4).max(Duration::from_secs(60));
            while self.history.len() > 2
                && (self.history.len() > 100_000 || now.duration_since(self.history[1].0) > window)
            {
                self.history.pop_front();
            }
        }
        let mut healthy = 0usize;
        for (replica, watch) in shared.replicas.iter().zip(&mut self.watches) {
            if matches!(stopped.try_recv(), Err(TryRecvError::Disconnected) | Ok(())) {
                return false;
            }
            check(replica, watch, primary, &self.history, settings);
            healthy += usize::from(!watch.banned);
        }
        gauge!("lifeguard_replicas_healthy", healthy as f64);
        // Read only by the gauge, which builds without `metrics` compile out.
        let _ = healthy;
        true
    }
}

/// Probes one replica and applies the verdict.
fn check(
    replica: &Replica,
    watch: &mut Watch,
    primary: Option<u64>,
    history: &VecDeque<(Instant, u64)>,
    settings: &Settings,
) {
    // A read that could not reach it counts as a failed probe.
    let reported_down = replica.reported_down.swap(false, Ordering::AcqRel);
    let now = Instant::now();
    // An unreachable replica is retried only after its backoff: no reconnect storm.
    if watch.banned && watch.unreachable && now < watch.banned_until && !reported_down {
        return;
    }
    let mut health = replica
        .health
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let verdict = match sample(&mut watch.probe) {
        Err(e) => {
            tracing::trace!(replica = %replica.name, error = %e, "router monitor: probe failed");
            health.lag_bytes = None;
            health.lag = None;
            ReplicaState::Unreachable
        }
        Ok(s) if !s.in_recovery => {
            health.lag_bytes = None;
            health.lag = None;
            ReplicaState::NotStandby
        }
        Ok(s) => {
            let replay = s.replay.unwrap_or(0);
            // WAL restored from an archive has no receive position: what was replayed is
            // what it has.
            let receive = s.receive.unwrap_or(replay).max(replay);
            replica.replay_lsn.fetch_max(replay, Ordering::AcqRel);
            health.receive_lsn = Some(Lsn(receive));
            health.replay_lsn = Some(Lsn(replay));
            health.paused = s.paused;
            // The idle-primary guard: caught up means no lag, whatever the timestamps say.
            let caught_up = match primary {
                Some(p) => replay >= p,
                None => receive == replay,
            };
            health.lag_bytes = primary.map(|p| p.saturating_sub(replay));
            health.lag = if caught_up {
                Some(Duration::ZERO)
            } else {
                behind_since(history, replay)
                    .map(|t| now.saturating_duration_since(t))
                    .or_else(|| {
                        s.since_replay_ts
                            .map(|secs| Duration::from_secs_f64(secs.clamp(0.0, 1e9)))
                    })
            };
            // The stall detector: received WAL waits, and replay does not move.
            if receive > replay && watch.last_replay == Some(replay) {
                watch.replay_stuck_since.get_or_insert(now);
            } else {
                watch.replay_stuck_since = None;
            }
            watch.last_replay = Some(replay);
            let stalled = watch
                .replay_stuck_since
                .is_some_and(|t| now.duration_since(t) >= settings.stall_timeout);
            if stalled {
                ReplicaState::Stalled
            } else if health.lag_bytes.is_some_and(|b| b > settings.max_lag_bytes)
                || health.lag.is_some_and(|l| l > settings.max_lag)
            {
                ReplicaState::Lagging
            } else {
                ReplicaState::Healthy
            }
        }
    };
    watch.unreachable = verdict == ReplicaState::Unreachable;
    health.state = verdict;
    health.checked_at = Some(now);

    let good = verdict == ReplicaState::Healthy;
    if !good || reported_down {
        if !watch.banned || reported_down {
            // A fresh ban (or the router's reads found it down since it was admitted).
            watch.recent_bans = watch.recent_bans.saturating_add(1);
            health.bans += 1;
            let backoff = backoff(settings, watch.recent_bans);
            watch.banned = true;
            watch.banned_until = now + backoff;
            watch.healthy_since = None;
            tracing::debug!(
                replica = %replica.name,
                state = ?verdict,
                lag_bytes = ?health.lag_bytes,
                lag = ?health.lag,
                ?backoff,
                "replica banned"
            );
        } else if now >= watch.banned_until {
            // Still bad after its backoff: wait another round of it.
            watch.banned_until = now + backoff(settings, watch.recent_bans.max(1));
        }
    } else if watch.banned {
        if now >= watch.banned_until {
            watch.banned = false;
            watch.healthy_since = Some(now);
            tracing::debug!(
                replica = %replica.name,
                lag_bytes = ?health.lag_bytes,
                lag = ?health.lag,
                bans = health.bans,
                "replica admitted"
            );
        }
    } else if watch
        .healthy_since
        .is_some_and(|t| now.duration_since(t) >= settings.max_backoff)
    {
        watch.recent_bans = 0;
    }
    gauge!(
        "lifeguard_replica_lag_bytes",
        health.lag_bytes.unwrap_or(0) as f64,
        "replica" => replica.name.clone()
    );
    gauge!(
        "lifeguard_replica_lag_seconds",
        health.lag.map_or(0.0, |l| l.as_secs_f64()),
        "replica" => replica.name.clone()
    );
    *replica.health.lock().unwrap_or_else(|p| p.into_inner()) = health;
    replica.healthy.store(!watch.banned, Ordering::Release);
}

/// When the primary first reported a position past `replay`: the age of the oldest WAL the
/// replica lacks. `None` when the history does not reach back that far.
fn behind_since(history: &VecDeque<(Instant, u64)>, replay: u64) -> Option<Instant> {
    let first_beyond = history.iter().position(|&(_, lsn)| lsn > replay)?;
    // Covered only if an older sample is at or below the replay position.
    (first_beyond > 0).then(|| history[first_beyond].0)
}

fn backoff(settings: &Settings, bans: u32) -> Duration {
    let factor = 1u32 << bans.saturating_sub(1).min(16);
    settings
        .backoff
        .saturating_mul(factor)
        .min(settings.max_backoff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_age_comes_from_the_primary_history() {
        let t0 = Instant::now();
        let s = |ms: u64| t0 + Duration::from_millis(ms);
        let history: VecDeque<_> = [(s(0), 100), (s(10), 200), (s(20), 300)].into();
        // Replayed 250: it lacks what the primary had at 20 ms.
        assert_eq!(behind_since(&history, 250), Some(s(20)));
        assert_eq!(behind_since(&history, 100), Some(s(10)));
        // Caught up with every sample.
        assert_eq!(behind_since(&history, 300), None);
        // Behind the oldest sample: the history does not say how long.
        assert_eq!(behind_since(&history, 50), None);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let settings = Settings {
            max_lag_bytes: 0,
            max_lag: Duration::ZERO,
            stall_timeout: Duration::ZERO,
            interval: Duration::from_secs(1),
            probe_timeout: Duration::from_secs(1),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(5),
        };
        let got: Vec<u64> = (1..=5).map(|n| backoff(&settings, n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 5, 5]);
    }
}
