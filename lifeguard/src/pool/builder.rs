//! Pool settings and the builder that takes them.

use std::time::Duration;

use crate::driver::config::Config;
use crate::error::{Error, Result};
use crate::pool::Pool;

/// The settings a pool runs with. Defaults are HikariCP's where it has one.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) max_size: usize,
    pub(crate) min_idle: usize,
    /// Opened synchronously in `build` (fails fast on a bad configuration).
    pub(crate) open_up_front: usize,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) acquire_timeout: Duration,
    pub(crate) alive_bypass: Duration,
    pub(crate) leak_threshold: Option<Duration>,
    pub(crate) maintenance_interval: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) worker_affine: bool,
    /// The Redis cache models read through.
    pub(crate) cache: Option<crate::cache::Cache>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_size: 10,
            min_idle: 0,
            open_up_front: 0,
            max_lifetime: Some(Duration::from_secs(30 * 60)),
            idle_timeout: Some(Duration::from_secs(10 * 60)),
            acquire_timeout: Duration::from_secs(30),
            alive_bypass: Duration::from_millis(500),
            leak_threshold: None,
            maintenance_interval: Duration::from_secs(30),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(1),
            worker_affine: true,
            cache: None,
        }
    }
}

/// Configures a [`Pool`]: `Pool::builder(url).max_size(16).build()`.
///
/// | setting | default | what it does |
/// |---|---|---|
/// | [`max_size`](Self::max_size) | 10 | connections open at most (pipelined and checked out together) |
/// | [`min_idle`](Self::min_idle) | 0 | connections kept open and not checked out, by the maintenance coroutine |
/// | [`max_lifetime`](Self::max_lifetime) | 30 min | a connection is retired after this long (minus up to 2.5 % jitter), never while a query runs on it |
/// | [`idle_timeout`](Self::idle_timeout) | 10 min | a connection unused this long is closed (down to `min_idle`) |
/// | [`acquire_timeout`](Self::acquire_timeout) | 30 s | the longest any caller waits for a connection; then a typed [`PoolTimeout`](crate::ErrorKind::PoolTimeout) |
/// | [`alive_bypass_window`](Self::alive_bypass_window) | 500 ms | a checkout of a connection idle longer than this pings it first |
/// | [`leak_detection_threshold`](Self::leak_detection_threshold) | off | warn (tracing) when a checkout is held longer |
/// | [`maintenance_interval`](Self::maintenance_interval) | 30 s | how often the maintenance coroutine runs |
/// | [`statement_cache_capacity`](Self::statement_cache_capacity) | 1024 | prepared statements kept per connection (LRU) |
/// | [`share_sync`](Self::share_sync) | on | pipelined read-only checked statements share one `Sync` |
/// | [`worker_affine`](Self::worker_affine) | on | pipelined queries prefer the connection read on the caller's `may` worker |
///
/// `min_idle` defaults to 0 rather than to `max_size` (HikariCP's choice) because a pipelined
/// connection serves many callers at once: a busy pool grows to what its load needs, and an
/// idle one does not hold server backends it does not use.
///
/// The URL's `sslmode` keeps libpq's meaning: `prefer` (the default) uses TLS whenever the
/// server offers it, loopback included. Say `sslmode=disable` to skip TLS's cost on a
/// trusted local socket.
pub struct PoolBuilder {
    pub(crate) config: Result<Config>,
    pub(crate) settings: Settings,
}

impl PoolBuilder {
    /// At most this many connections (default 10).
    pub fn max_size(mut self, n: usize) -> Self {
        self.settings.max_size = n;
        self
    }
    /// Keep at least this many connections open and not checked out (default 0). The
    /// maintenance coroutine opens them in the background.
    pub fn min_idle(mut self, n: usize) -> Self {
        self.settings.min_idle = n;
        self
    }
    /// Open this many connections in `build`, failing it if they cannot be opened, and keep
    /// them as [`min_idle`](Self::min_idle).
    pub fn min_size(mut self, n: usize) -> Self {
        self.settings.open_up_front = n;
        self.settings.min_idle = n;
        self
    }
    /// Retire connections this old (default 30 min; `None`: never). Each connection's
    /// lifetime is shortened by a random up to 2.5 % so they do not all expire together.
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.settings.max_lifetime = lifetime;
        self
    }
    /// Close connections unused this long, down to `min_idle` (default 10 min; `None`: never).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.settings.idle_timeout = timeout;
        self
    }
    /// How long `get`, `transaction` and queries wait for a connection (default 30 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.settings.acquire_timeout = timeout;
        self
    }
    /// A checkout pings a connection first when it has been idle longer than this (default
    /// 500 ms, HikariCP's `aliveBypassWindowMs`); a dead one is discarded and another taken.
    pub fn alive_bypass_window(mut self, window: Duration) -> Self {
        self.settings.alive_bypass = window;
        self
    }
    /// Warn (a `tracing` warning naming the backend) when a checkout or transaction is held
    /// longer than this (default: off).
    pub fn leak_detection_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.settings.leak_threshold = threshold;
        self
    }
    /// How often the maintenance coroutine retires, closes and opens connections (default
    /// 30 s, as HikariCP's housekeeper).
    pub fn maintenance_interval(mut self, interval: Duration) -> Self {
        self.settings.maintenance_interval = interval.max(Duration::from_millis(10));
        self
    }
    /// The delays between failed attempts to open a connection: exponential from `min` to
    /// `max`, with jitter (default 50 ms to 1 s), so a restarted server is reached within
    /// about `max` of accepting again.
    pub fn connect_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.settings.backoff_min = min;
        self.settings.backoff_max = max.max(min);
        self
    }

    /// Prepared statements each connection keeps, least recently used evicted first and
    /// closed on the server (default 1024; 0 disables the cache, preparing every query).
    ///
    /// 1024 holds a 500-statement application with room to spare: statements reached
    /// through the checked macros are cached by the address of their literal, and the same
    /// text sent as a `&str` or `String` is a second entry. Each cached statement costs its
    /// backend a few kilobytes (parse tree, and a plan once generic), so 1024 × `max_size`
    /// statements is in the tens of megabytes on the server at most. The URL's
    /// `statement_cache_capacity` key sets the same thing.
    pub fn statement_cache_capacity(mut self, capacity: usize) -> Self {
        if let Ok(config) = &mut self.config {
            config.statement_cache_capacity(capacity);
        }
        self
    }
    /// Whether pipelined statements that only read share one `Sync` (default on; the URL's
    /// `share_sync=false` turns it off too).
    ///
    /// Without it every statement ends in its own `Sync`, and the server commits an
    /// implicit transaction and flushes a `ReadyForQuery` for each. With it, the shared
    /// statements written to a connection together (by one caller or many, up to 64) run in
    /// one implicit transaction that ends with one `Sync`: one commit and one flush for the
    /// lot, as libpq's pipeline mode and pgbench's `\startpipeline` do.
    ///
    /// Only statements safe to run that way share, decided once per prepared statement
    /// from its text: one `SELECT` (or `VALUES`, or `WITH … SELECT`) that neither writes nor
    /// locks and calls only built-ins that write nothing, run outside any transaction.
    /// Writes, transactions, `FOR UPDATE`, and reads calling a user-defined or
    /// schema-qualified function keep their own `Sync`. When one shared statement fails,
    /// its caller gets its error; the server
    /// skips the statements after it in the batch, and their callers send each again on
    /// its own, so no caller sees another's failure (the ones before it only read, so the
    /// rollback of the implicit transaction takes nothing from them).
    ///
    /// Left on, a function that writes reached indirectly (a view over a volatile function
    /// that inserts) could have that write rolled back by a later statement's failure in
    /// the same batch; turn it off for such a schema.
    pub fn share_sync(mut self, on: bool) -> Self {
        if let Ok(config) = &mut self.config {
            config.share_sync(on);
        }
        self
    }

    /// Pipelined queries prefer the connection whose socket is polled on the caller's `may`
    /// worker thread (default on). may polls a socket on worker `fd % workers` and wakes the
    /// coroutines its reader serves there, so a caller on another worker crosses threads
    /// twice per query; connections are spread over the workers as they open (see
    /// [`Client::reader_worker`](crate::Client::reader_worker)). The preference gives way to
    /// the least-loaded connection when the caller's has more than twice its queries in
    /// flight (plus two), and to any other when it is checked out or broken; callers that
    /// are not coroutines get the least-loaded one.
    ///
    /// Off: always the least-loaded connection (README, Benchmark, has both picks measured
    /// in the TechEmpower-style service and the point-select sweep).
    pub fn worker_affine(mut self, on: bool) -> Self {
        self.settings.worker_affine = on;
        self
    }

    /// Models with `#[lifeguard(cache(..))]` read through this Redis cache when they run
    /// on this pool (and invalidate it after their writes commit).
    pub fn cache(mut self, cache: crate::cache::Cache) -> Self {
        self.settings.cache = Some(cache);
        self
    }

    /// Creates the pool, opening [`min_size`](Self::min_size) connections.
    pub fn build(self) -> Result<Pool> {
        let config = self.config?;
        let s = self.settings;
        if s.max_size == 0 {
            return Err(Error::config("pool max_size must be at least 1"));
        }
        if s.min_idle > s.max_size {
            return Err(Error::config(format!(
                "pool min_idle ({}) is larger than max_size ({})",
                s.min_idle, s.max_size
            )));
        }
        Pool::start(config, s)
    }
}

/// Where a pool's configuration comes from: a URL (`&str`, `String`) or a [`Config`].
pub trait IntoConfig {
    #[doc(hidden)]
    fn __into_config(self) -> Result<Config>;
}
impl IntoConfig for &str {
    fn __into_config(self) -> Result<Config> {
        self.parse()
    }
}
impl IntoConfig for String {
    fn __into_config(self) -> Result<Config> {
        self.parse()
    }
}
impl IntoConfig for &String {
    fn __into_config(self) -> Result<Config> {
        self.parse()
    }
}
impl IntoConfig for Config {
    fn __into_config(self) -> Result<Config> {
        Ok(self)
    }
}
impl IntoConfig for &Config {
    fn __into_config(self) -> Result<Config> {
        Ok(self.clone())
    }
}
