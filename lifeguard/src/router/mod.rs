//! A replica router: one [`Pool`] for the primary and one per streaming replica, with reads
//! routed by the caller's stated intent and by each replica's measured lag.
//!
//! A monitor coroutine polls the primary's `pg_current_wal_lsn()` and each replica's
//! receive and replay positions (see [`monitor`]); a replica over `max_lag_bytes` or
//! `max_lag`, stalled or unreachable is banned, and readmitted with a growing backoff once it
//! is healthy again. Writes, transactions and [`Router::get`] always use the primary; reads go
//! where their [`ReadPreference`] allows, else to the primary.

mod monitor;
mod token;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::driver::config::{Config, Host};
use crate::driver::executor::{Executor, Target, ToStatement};
use crate::driver::query::Params;
use crate::driver::row::Row;
use crate::driver::transaction::{Transaction, TransactionBuilder};
use crate::error::{Error, ErrorKind, Result};
use crate::observe::counter;
use crate::pool::{IntoConfig, Pool, PooledConnection};

pub use token::{CausalToken, Lsn};

/// Where a read may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPreference {
    /// Always the primary.
    Primary,
    /// A healthy replica (round robin), else the primary.
    Replica,
    /// Cache, then replica, then primary. Until the cache hooks exist this is the same as
    /// [`ReadPreference::Replica`].
    Mixed,
    /// Read-your-writes: a healthy replica that has replayed up to the token, else the
    /// primary.
    Strong(CausalToken),
}

/// Configures a [`Router`].
pub struct RouterBuilder {
    primary: Result<Config>,
    replicas: Vec<Result<Config>>,
    pool_size: usize,
    acquire_timeout: Duration,
    preference: ReadPreference,
    settings: Settings,
    cache: Option<crate::cache::Cache>,
}

/// The monitor's limits and timings.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub max_lag_bytes: u64,
    pub max_lag: Duration,
    pub stall_timeout: Duration,
    pub interval: Duration,
    pub probe_timeout: Duration,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl RouterBuilder {
    /// Adds a streaming replica of the primary (a URL or a [`Config`]).
    pub fn replica(mut self, config: impl IntoConfig) -> Self {
        self.replicas.push(config.__into_config());
        self
    }
    /// The Redis cache models read through (set on the primary's pool: cache misses read
    /// the primary; see [`cache`](crate::cache)).
    pub fn cache(mut self, cache: crate::cache::Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// The `max_size` of each node's pool (default 10).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = n;
        self
    }
    /// The `acquire_timeout` of each node's pool (default 30 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
    /// Where [`Router::read`] and checked read-only statements run on the router go
    /// (default [`ReadPreference::Replica`]).
    pub fn read_preference(mut self, preference: ReadPreference) -> Self {
        self.preference = preference;
        self
    }
    /// A replica more than this many bytes of WAL behind the primary is banned
    /// (default 16 MiB).
    pub fn max_lag_bytes(mut self, bytes: u64) -> Self {
        self.settings.max_lag_bytes = bytes;
        self
    }
    /// A replica missing WAL the primary wrote longer ago than this is banned
    /// (default 30 s).
    pub fn max_lag(mut self, lag: Duration) -> Self {
        self.settings.max_lag = lag;
        self
    }
    /// A replica whose replay position stays put this long while it has received WAL to
    /// replay (paused, or blocked by a conflict) is banned as stalled (default 10 s).
    pub fn stall_timeout(mut self, timeout: Duration) -> Self {
        self.settings.stall_timeout = timeout;
        self
    }
    /// How often the monitor polls the nodes (default 1 s).
    pub fn monitor_interval(mut self, interval: Duration) -> Self {
        self.settings.interval = interval;
        self
    }
    /// Connect and query timeout of the monitor's own connections (default 5 s): a node
    /// that does not answer within it counts as unreachable.
    pub fn probe_timeout(mut self, timeout: Duration) -> Self {
        self.settings.probe_timeout = timeout;
        self
    }
    /// The first readmission delay after a ban (default 1 s); it doubles with each ban that
    /// follows a readmission closely, up to `max`, and resets once a replica has stayed
    /// healthy for `max` (default 60 s).
    pub fn readmit_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.settings.backoff = first;
        self.settings.max_backoff = max.max(first);
        self
    }

    /// Creates the pools, checks every node once (so healthy replicas serve reads right
    /// away) and starts the monitor coroutine. Pools open their connections on demand; an
    /// unreachable replica is not an error (it starts banned), an invalid configuration is.
    pub fn build(self) -> Result<Router> {
        if self.settings.interval.is_zero() {
            return Err(Error::config("router monitor_interval must be above zero"));
        }
        let pool = |config: Config| {
            Pool::builder(config)
                .max_size(self.pool_size)
                .acquire_timeout(self.acquire_timeout)
                .build()
        };
        let cache = self.cache.clone();
        let primary_pool = |config: Config| {
            let b = Pool::builder(config)
                .max_size(self.pool_size)
                .acquire_timeout(self.acquire_timeout);
            match cache {
                Some(c) => b.cache(c),
                None => b,
            }
            .build()
        };
        let primary_config = self.primary?;
        let mut replicas = Vec::with_capacity(self.replicas.len());
        for config in self.replicas {
            let config = config?;
            replicas.push(Replica {
                name: node_name(&config),
                pool: pool(config.clone())?,
                config,
                healthy: AtomicBool::new(false),
                replay_lsn: AtomicU64::new(0),
                reported_down: AtomicBool::new(false),
                health: Mutex::new(Health::default()),
            });
        }
        let shared = Arc::new(Shared {
            primary: primary_pool(primary_config.clone())?,
            primary_config,
            replicas,
            settings: self.settings,
            next: AtomicUsize::new(0),
            fallbacks: AtomicU64::new(0),
            primary_lsn: AtomicU64::new(0),
        });
        let stop = monitor::start(shared.clone())?;
        Ok(Router(Arc::new(Inner {
            shared,
            preference: self.preference,
            _stop: stop,
        })))
    }
}

fn node_name(config: &Config) -> String {
    match config.hosts().first() {
        Some((Host::Tcp(host), port)) => format!("{host}:{port}"),
        Some((Host::Unix(dir), port)) => format!("{}:{port}", dir.display()),
        None => "default".to_string(),
    }
}

/// What the router knows of one replica: its pool, and the monitor's last verdict.
pub(crate) struct Replica {
    pub name: String,
    pub pool: Pool,
    pub config: Config,
    /// Admitted for reads (not banned).
    pub healthy: AtomicBool,
    /// The highest replay position seen (by the monitor or a fresh check), as a u64 LSN.
    pub replay_lsn: AtomicU64,
    /// Set by a read that could not get a connection; the monitor turns it into a ban.
    pub reported_down: AtomicBool,
    pub health: Mutex<Health>,
}

/// The monitor's last measurements of a replica.
#[derive(Clone, Debug, Default)]
pub(crate) struct Health {
    pub state: ReplicaState,
    pub lag_bytes: Option<u64>,
    pub lag: Option<Duration>,
    pub receive_lsn: Option<Lsn>,
    pub replay_lsn: Option<Lsn>,
    pub paused: bool,
    pub bans: u64,
    pub checked_at: Option<Instant>,
}

/// State shared by the router's handles and its monitor.
pub(crate) struct Shared {
    pub primary: Pool,
    pub primary_config: Config,
    pub replicas: Vec<Replica>,
    pub settings: Settings,
    next: AtomicUsize,
    fallbacks: AtomicU64,
    /// The primary's WAL position at the monitor's last poll (0 = not known yet).
    pub primary_lsn: AtomicU64,
}

struct Inner {
    shared: Arc<Shared>,
    preference: ReadPreference,
    /// Dropping the last router handle drops this sender, which stops the monitor.
    _stop: Mutex<may::sync::mpsc::Sender<()>>,
}

/// A primary and its streaming replicas, each with its own [`Pool`]. Cheap to clone; clones
/// share the pools and the monitor, which stops when the last clone is dropped.
///
/// The router itself is an [`Executor`] for the primary: `router.execute(..)` writes, and so
/// does a plain `router.query(..)` (the router cannot tell what a text statement does). Say
/// what you mean with [`Router::read`], [`Router::read_with`], [`Router::strong`] or
/// [`Router::write`]. Checked macros know: a `query!` statement that only reads, run on the
/// router, goes where the router's default [`ReadPreference`] sends reads.
///
/// ```no_run
/// use lifeguard::{Executor, Router};
/// use std::time::Duration;
///
/// let router = Router::builder("postgres://app@primary/app")
///     .replica("postgres://app@replica1/app")
///     .max_lag(Duration::from_secs(5))
///     .build()?;
/// router.execute("UPDATE users SET name = $1 WHERE id = $2", &[&"ann", &7i32])?;
/// let token = router.causal_token()?; // keep it with the user's session
/// let row = router.strong(&token).query_one("SELECT name FROM users WHERE id = $1", &[&7i32])?;
/// let any = router.read().query("SELECT count(*) FROM users", &[])?;
/// # let _ = (row, any);
/// # Ok::<(), lifeguard::Error>(())
/// ```
#[derive(Clone)]
pub struct Router(Arc<Inner>);

impl Router {
    /// Starts configuring a router for a primary (a URL or a [`Config`]).
    pub fn builder(primary: impl IntoConfig) -> RouterBuilder {
        RouterBuilder {
            primary: primary.__into_config(),
            replicas: Vec::new(),
            pool_size: 10,
            acquire_timeout: Duration::from_secs(30),
            preference: ReadPreference::Replica,
            settings: Settings {
                max_lag_bytes: 16 << 20,
                max_lag: Duration::from_secs(30),
                stall_timeout: Duration::from_secs(10),
                interval: Duration::from_secs(1),
                probe_timeout: Duration::from_secs(5),
                backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(60),
            },
            cache: None,
        }
    }

    /// The primary's pool.
    pub fn primary(&self) -> &Pool {
        &self.0.shared.primary
    }

    /// An executor for reads with the router's default preference.
    pub fn read(&self) -> Route {
        self.read_with(self.0.preference)
    }

    /// An executor for reads with this preference.
    pub fn read_with(&self, preference: ReadPreference) -> Route {
        Route {
            router: self.clone(),
            preference: Some(preference),
        }
    }

    /// An executor for read-your-writes reads: `read_with(ReadPreference::Strong(token))`.
    pub fn strong(&self, token: &CausalToken) -> Route {
        self.read_with(ReadPreference::Strong(*token))
    }

    /// An executor on the primary, for writes (and for reads that must see the latest data).
    pub fn write(&self) -> Route {
        Route {
            router: self.clone(),
            preference: None,
        }
    }

    /// Checks a connection of the primary out exclusively.
    pub fn get(&self) -> Result<PooledConnection> {
        self.primary().get()
    }

    /// Begins a transaction on the primary.
    pub fn transaction(&self) -> Result<Transaction<'static>> {
        self.primary().transaction()
    }

    /// Begins a transaction with options on the primary.
    pub fn build_transaction(&self) -> Result<TransactionBuilder<'static>> {
        self.primary().build_transaction()
    }

    /// A token covering every write committed on the primary so far (its
    /// `pg_current_wal_insert_lsn()`): call it after your write commits and keep it with the
    /// session; [`Router::strong`] reads with it see that write.
    pub fn causal_token(&self) -> Result<CausalToken> {
        let row = self.primary().query_one(
            "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::int8",
            &[],
        )?;
        let lsn: i64 = row.try_get(0)?;
        Ok(CausalToken::from_lsn(Lsn(lsn as u64)))
    }

    /// The router's view of its replicas (as of the monitor's last poll) and counters.
    pub fn status(&self) -> RouterStatus {
        let shared = &self.0.shared;
        let replicas: Vec<ReplicaStatus> = shared
            .replicas
            .iter()
            .map(|r| {
                let h = r.health.lock().unwrap_or_else(|p| p.into_inner()).clone();
                ReplicaStatus {
                    name: r.name.clone(),
                    healthy: r.healthy.load(Ordering::Acquire),
                    state: h.state,
                    lag_bytes: h.lag_bytes,
                    lag: h.lag,
                    receive_lsn: h.receive_lsn,
                    replay_lsn: h.replay_lsn,
                    replay_paused: h.paused,
                    bans: h.bans,
                    checked_ago: h.checked_at.map(|t| t.elapsed()),
                }
            })
            .collect();
        let lsn = shared.primary_lsn.load(Ordering::Acquire);
        RouterStatus {
            healthy_replicas: replicas.iter().filter(|r| r.healthy).count(),
            replicas,
            primary_fallbacks: shared.fallbacks.load(Ordering::Relaxed),
            primary_lsn: (lsn != 0).then_some(Lsn(lsn)),
        }
    }
}

/// Why a read went to the primary although its preference allowed a replica.
#[derive(Clone, Copy)]
enum Fallback {
    NoHealthyReplica,
    TokenNotReplayed,
}

impl Shared {
    /// Where a read with `preference` runs.
    fn read_target(&self, preference: ReadPreference) -> Result<Target<'_>> {
        let token = match preference {
            ReadPreference::Primary => return self.primary.__target(),
            ReadPreference::Replica | ReadPreference::Mixed => None,
            ReadPreference::Strong(token) => Some(token.lsn()),
        };
        if self.replicas.is_empty() {
            return self.primary.__target();
        }
        let n = self.replicas.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut why = Fallback::NoHealthyReplica;
        for i in 0..n {
            let replica = &self.replicas[(start + i) % n];
            if !replica.healthy.load(Ordering::Acquire) {
                continue;
            }
            if let Some(token) = token {
                if Lsn(replica.replay_lsn.load(Ordering::Acquire)) < token {
                    match fresh_replay_lsn(replica) {
                        Ok(lsn) if lsn >= token => {}
                        Ok(_) => {
                            why = Fallback::TokenNotReplayed;
                            continue;
                        }
                        Err(e) => {
                            report_down(replica, &e);
                            continue;
                        }
                    }
                }
            }
            match replica.pool.__target() {
                Ok(target) => return Ok(target),
                Err(e) => report_down(replica, &e),
            }
        }
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
        let reason = match why {
            Fallback::NoHealthyReplica => "no_healthy_replica",
            Fallback::TokenNotReplayed => "token_not_replayed",
        };
        tracing::trace!(reason, "read falls back to the primary");
        counter!("lifeguard_primary_fallbacks_total", 1, "reason" => reason);
        self.primary.__target()
    }
}

/// The replica's replay position right now (one pipelined query on its pool); raises the
/// shared position so later reads need not ask again.
fn fresh_replay_lsn(replica: &Replica) -> Result<Lsn> {
    let row = replica.pool.query_one(
        "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::int8",
        &[],
    )?;
    let lsn: Option<i64> = row.try_get(0)?;
    // NULL: not a standby (promoted?) — it cannot vouch for the token.
    let lsn = lsn.map_or(0, |l| l as u64);
    replica.replay_lsn.fetch_max(lsn, Ordering::AcqRel);
    Ok(Lsn(lsn))
}

/// A read could not reach the replica: stop sending reads there until the monitor has
/// checked it again (it turns this into a ban with backoff). Pool timeouts (the replica is
/// busy, not down) only make this read go elsewhere.
fn report_down(replica: &Replica, error: &Error) {
    if error.kind() == ErrorKind::PoolTimeout {
        return;
    }
    if replica.healthy.swap(false, Ordering::AcqRel) {
        replica.reported_down.store(true, Ordering::Release);
        tracing::debug!(replica = %replica.name, %error, "replica banned: a read could not reach it");
    }
}

/// An [`Executor`] that routes by the caller's stated intent: made by [`Router::read`],
/// [`Router::read_with`], [`Router::strong`] (reads) and [`Router::write`] (the primary).
/// Each statement picks its node when it starts; cheap to clone. On a read handle,
/// `query`, `query_one` and `query_opt` whose connection is lost (a replica dying under
/// them) run once more on the primary; streams and checked queries return the error.
#[derive(Clone)]
pub struct Route {
    router: Router,
    /// `None`: the primary (a write handle).
    preference: Option<ReadPreference>,
}

impl Route {
    /// The read preference, or `None` for a write handle.
    pub fn preference(&self) -> Option<ReadPreference> {
        self.preference
    }
}

impl Route {
    /// A read whose connection was lost (a replica dying under it) runs once more on the
    /// primary: the caller declared it a read, so running it again changes nothing.
    fn retried<T>(&self, first: Result<T>, again: impl FnOnce(&Pool) -> Result<T>) -> Result<T> {
        match first {
            Err(e) if self.reads_elsewhere() && connection_lost(&e) => {
                tracing::debug!(error = %e, "read lost its connection; running it on the primary");
                again(&self.router.0.shared.primary)
            }
            res => res,
        }
    }

    fn reads_elsewhere(&self) -> bool {
        !matches!(self.preference, None | Some(ReadPreference::Primary))
    }
}

fn connection_lost(e: &Error) -> bool {
    e.is_closed() || e.kind() == ErrorKind::Io || e.code().is_some_and(|c| c.is_connection_fatal())
}

/// The route's provided `Executor` methods, without the retry.
struct Once<'a>(&'a Route);

impl Executor for Once<'_> {
    fn __target(&self) -> Result<Target<'_>> {
        self.0.__target()
    }
    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.0.__cache()
    }
}

impl Executor for Route {
    fn __target(&self) -> Result<Target<'_>> {
        let shared = &self.router.0.shared;
        match self.preference {
            Some(preference) => shared.read_target(preference),
            None => shared.primary.__target(),
        }
    }

    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.router.0.shared.primary.__cache()
    }

    fn query<S: ?Sized + ToStatement>(&self, stmt: &S, params: Params<'_>) -> Result<Vec<Row>> {
        self.retried(Once(self).query(stmt, params), |p| p.query(stmt, params))
    }

    fn query_one<S: ?Sized + ToStatement>(&self, stmt: &S, params: Params<'_>) -> Result<Row> {
        self.retried(Once(self).query_one(stmt, params), |p| {
            p.query_one(stmt, params)
        })
    }

    fn query_opt<S: ?Sized + ToStatement>(
        &self,
        stmt: &S,
        params: Params<'_>,
    ) -> Result<Option<Row>> {
        self.retried(Once(self).query_opt(stmt, params), |p| {
            p.query_opt(stmt, params)
        })
    }
}

impl Executor for Router {
    /// Text statements on the router itself run on the primary.
    fn __target(&self) -> Result<Target<'_>> {
        self.0.shared.primary.__target()
    }

    /// Statements the checked macros know to be read-only follow the default preference.
    fn __target_read(&self) -> Result<Target<'_>> {
        self.0.shared.read_target(self.0.preference)
    }

    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.0.shared.primary.__cache()
    }
}

/// A snapshot of a [`Router`]'s replicas and counters.
#[derive(Debug, Clone)]
pub struct RouterStatus {
    /// One entry per replica, in the order they were added.
    pub replicas: Vec<ReplicaStatus>,
    /// Replicas admitted for reads.
    pub healthy_replicas: usize,
    /// Reads sent to the primary although their preference allowed a replica (no healthy
    /// replica, or none that had replayed a `Strong` read's token).
    pub primary_fallbacks: u64,
    /// The primary's WAL position at the monitor's last poll.
    pub primary_lsn: Option<Lsn>,
}

/// What the monitor last saw of one replica.
#[derive(Debug, Clone)]
pub struct ReplicaStatus {
    /// `host:port` of the replica.
    pub name: String,
    /// Admitted for reads (not banned).
    pub healthy: bool,
    /// The last verdict.
    pub state: ReplicaState,
    /// Bytes of WAL the primary has and the replica has not replayed.
    pub lag_bytes: Option<u64>,
    /// How long ago the primary wrote the oldest WAL the replica has not replayed (zero when
    /// it has replayed everything: an idle primary shows no lag).
    pub lag: Option<Duration>,
    /// `pg_last_wal_receive_lsn()`.
    pub receive_lsn: Option<Lsn>,
    /// `pg_last_wal_replay_lsn()`.
    pub replay_lsn: Option<Lsn>,
    /// `pg_is_wal_replay_paused()`.
    pub replay_paused: bool,
    /// How many times it was banned.
    pub bans: u64,
    /// Time since the monitor last checked it.
    pub checked_ago: Option<Duration>,
}

/// The monitor's verdict on a replica.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicaState {
    /// Not checked yet.
    #[default]
    Unknown,
    /// Within the lag limits.
    Healthy,
    /// Over `max_lag_bytes` or `max_lag`.
    Lagging,
    /// Replay does not advance although received WAL waits (paused, or blocked).
    Stalled,
    /// No connection, or the probe failed or timed out.
    Unreachable,
    /// The server is not in recovery (e.g. promoted): it no longer follows the primary.
    NotStandby,
}
