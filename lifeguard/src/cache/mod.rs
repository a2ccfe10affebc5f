//! Redis cache hooks: models marked `#[lifeguard(cache(ttl = "60s"))]` read hot rows from
//! Redis, and the [reflector](crate::reflector) keeps cached rows fresh from Postgres'
//! change notifications.
//!
//! ```no_run
//! use lifeguard::{cache::Cache, Pool};
//! let cache = Cache::builder("redis://127.0.0.1:6379/0").build()?;
//! let pool = Pool::builder("postgres://app@127.0.0.1/app").cache(cache.clone()).build()?;
//! // Film::find_by_id(&pool, 7) now reads `lifeguard:model:film:7` first.
//! # Ok::<(), lifeguard::Error>(())
//! ```
//!
//! The client is this crate's own, on `may::net` (the `redis` crate's connections use std
//! sockets, which would block a may worker); it uses the `redis` crate's command encoding
//! and reply parser, and pipelines every caller's commands over a few connections. Every
//! call has a timeout, and a circuit breaker stops paying it while Redis is down: model
//! reads then go straight to the database and callers never see a Redis error.
//!
//! Keys: `<namespace>:model:<table>:<key>` (namespace `lifeguard` by default; a composite
//! key's parts are joined with `:` after escaping `%` and `:`). See [`codec`] for the value.

mod breaker;
mod client;
pub mod codec;
pub(crate) mod model;
mod scripts;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use redis::Value;

use crate::error::{Error, ErrorKind, Result};
/// The `redis` crate, for building commands ([`redis::cmd`], [`redis::pipe`]) and reading
/// [`redis::Value`]s, without a second dependency line.
pub use redis;

use breaker::Breaker;
use client::{cache_error, Conn, Target};
pub use model::{CacheKey, CacheSpec, KeyPart};
use scripts::{Lua, Scripts};

/// Settings for a [`Cache`].
#[derive(Debug, Clone)]
pub struct CacheBuilder {
    url: String,
    namespace: String,
    connections: usize,
    connect_timeout: Duration,
    call_timeout: Duration,
    breaker_threshold: u32,
    breaker_cooldown: Duration,
    lease: Duration,
}

impl CacheBuilder {
    /// The key prefix (default `lifeguard`): keys are `<namespace>:model:<table>:<key>`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }
    /// Connections to Redis, each pipelining many callers (default 2).
    pub fn connections(mut self, n: usize) -> Self {
        self.connections = n.max(1);
        self
    }
    /// How long a connect may take (default 250 ms).
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
    /// How long any call may wait for its reply (default 250 ms): past it, a model read
    /// goes to the database.
    pub fn call_timeout(mut self, t: Duration) -> Self {
        self.call_timeout = t;
        self
    }
    /// Failures in a row that open the circuit breaker (default 5), and how long it stays
    /// open before one call probes Redis again (default 1 s).
    pub fn breaker(mut self, threshold: u32, cooldown: Duration) -> Self {
        self.breaker_threshold = threshold;
        self.breaker_cooldown = cooldown;
        self
    }
    /// How long a reader's lease on a missed key lasts (default 5 s): its fill must land
    /// within it.
    pub fn lease(mut self, t: Duration) -> Self {
        self.lease = t;
        self
    }

    /// Builds the cache. Connections open on first use, so a Redis that is down now does
    /// not fail the build (reads go to the database until it is back); a malformed URL does.
    pub fn build(self) -> Result<Cache> {
        let target = Target::parse(&self.url)?;
        let slots = (0..self.connections)
            .map(|_| Slot {
                conn: ArcSwapOption::empty(),
                connecting: may::sync::Mutex::new(()),
            })
            .collect();
        Ok(Cache(Arc::new(Inner {
            epoch_key: format!("{}:reflector:epoch", self.namespace),
            target,
            slots,
            next: AtomicUsize::new(0),
            breaker: Breaker::new(self.breaker_threshold, self.breaker_cooldown),
            scripts: Scripts::new(),
            stats: Counters::default(),
            decoders: model::Decoders::default(),
            settings: self,
        })))
    }
}

struct Slot {
    conn: ArcSwapOption<Conn>,
    /// One reconnect at a time per slot.
    connecting: may::sync::Mutex<()>,
}

#[derive(Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    fills: AtomicU64,
    fills_refused: AtomicU64,
    bypassed: AtomicU64,
    errors: AtomicU64,
    round_trips: AtomicU64,
}

struct Inner {
    settings: CacheBuilder,
    target: Target,
    epoch_key: String,
    slots: Vec<Slot>,
    next: AtomicUsize,
    breaker: Breaker,
    scripts: Scripts,
    stats: Counters,
    decoders: model::Decoders,
}

/// A Redis cache, shared by cloning (one set of connections). Give it to a pool or router
/// with `.cache(cache)`; the reflector takes one too.
#[derive(Clone)]
pub struct Cache(Arc<Inner>);

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("namespace", &self.0.settings.namespace)
            .field("stats", &self.stats())
            .finish()
    }
}

/// What the cache has done since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Model reads answered from Redis.
    pub hits: u64,
    /// Model reads that went to the database (key absent, leased, a tombstone or stale).
    pub misses: u64,
    /// Fills that wrote the row read on a miss.
    pub fills: u64,
    /// Fills the compare-and-set refused (the lease was gone, or a newer row was there).
    pub fills_refused: u64,
    /// Calls that skipped Redis because the circuit breaker was open (model reads went
    /// straight to the database).
    pub bypassed: u64,
    /// Redis calls that failed or timed out.
    pub errors: u64,
    /// Requests written to Redis (a pipeline is one).
    pub round_trips: u64,
    /// Whether the circuit breaker is open now.
    pub breaker_open: bool,
}

/// A reader's claim on a key it missed ([`Cache::lease`]): its [`Cache::fill`] lands only
/// while the lease is still there, or over an older row.
#[derive(Debug)]
pub struct Lease {
    key: String,
    token: String,
}

/// One write of the reflector: the row's new bytes (or `None`: it was deleted) and version.
#[derive(Debug, Clone, Copy)]
pub struct Refresh<'a> {
    /// The row key ([`Cache::row_key`]).
    pub key: &'a str,
    /// The row's bytes ([`codec::encode`]) and columns' fingerprint, or `None` for a
    /// tombstone.
    pub value: Option<(&'a [u8], u64)>,
    /// The row's version (the tombstone's, for a deleted row).
    pub version: i64,
}

/// What a [`Refresh`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// The epoch is no longer current: a newer leader took over; stop writing.
    Fenced,
    /// The key is not cached: ignored (the active set stays bounded by the TTL).
    NotCached,
    /// Written.
    Written,
    /// The cached version was as new or newer.
    Unchanged,
}

impl Cache {
    /// A cache on the Redis at `url` (`redis://[user:password@]host[:port][/db]`).
    pub fn builder(url: impl Into<String>) -> CacheBuilder {
        CacheBuilder {
            url: url.into(),
            namespace: "lifeguard".into(),
            connections: 2,
            connect_timeout: Duration::from_millis(250),
            call_timeout: Duration::from_millis(250),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(1),
            lease: Duration::from_secs(5),
        }
    }

    /// The key prefix.
    pub fn namespace(&self) -> &str {
        &self.0.settings.namespace
    }

    /// The key of one row: `<namespace>:model:<table>:<key_text>`.
    pub fn row_key(&self, table: &str, key_text: &str) -> String {
        let ns = self.namespace();
        let mut k = String::with_capacity(ns.len() + table.len() + key_text.len() + 8);
        k.push_str(ns);
        k.push_str(":model:");
        k.push_str(table);
        k.push(':');
        k.push_str(key_text);
        k
    }

    /// A `SCAN … MATCH` pattern for every cached row of `table`.
    pub fn table_pattern(&self, table: &str) -> String {
        let mut p = String::new();
        for ch in format!("{}:model:{}:", self.namespace(), table).chars() {
            if matches!(ch, '*' | '?' | '[' | ']' | '\\') {
                p.push('\\');
            }
            p.push(ch);
        }
        p.push('*');
        p
    }

    /// The reflector's epoch key: each new leader increments it, and every reflector write
    /// carries the epoch it was started with, so a deposed leader's writes are refused.
    pub fn epoch_key(&self) -> &str {
        &self.0.epoch_key
    }

    /// Counters since the cache was built.
    pub fn stats(&self) -> CacheStats {
        let s = &self.0.stats;
        CacheStats {
            hits: s.hits.load(Ordering::Relaxed),
            misses: s.misses.load(Ordering::Relaxed),
            fills: s.fills.load(Ordering::Relaxed),
            fills_refused: s.fills_refused.load(Ordering::Relaxed),
            bypassed: s.bypassed.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            round_trips: s.round_trips.load(Ordering::Relaxed),
            breaker_open: self.0.breaker.is_open(),
        }
    }

    /// Runs one command. A Redis error reply is an [`ErrorKind::Cache`] error.
    pub fn cmd(&self, cmd: &redis::Cmd) -> Result<Value> {
        let v = self.request(|out| cmd.write_packed_command(out), 1)?.pop();
        match v {
            Some(Value::ServerError(e)) => Err(cache_error(format!("Redis: {e}"))),
            Some(v) => Ok(v),
            None => Err(cache_error("no reply")),
        }
    }

    /// Runs a pipeline in one round trip; error replies stay in the returned values.
    pub fn pipe(&self, pipe: &redis::Pipeline) -> Result<Vec<Value>> {
        let n = pipe.cmd_iter().count();
        if n == 0 {
            return Ok(Vec::new());
        }
        let bytes = pipe.get_packed_pipeline();
        self.request(|out| out.extend_from_slice(&bytes), n)
    }

    /// One page of `SCAN cursor MATCH pattern COUNT count`: the next cursor (0 when done)
    /// and the keys of this page.
    pub fn scan(&self, cursor: u64, pattern: &str, count: usize) -> Result<(u64, Vec<String>)> {
        let reply = self.cmd(
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(count),
        )?;
        let bad = || cache_error("SCAN answered something else");
        let Value::Array(mut parts) = reply else {
            return Err(bad());
        };
        if parts.len() != 2 {
            return Err(bad());
        }
        let Some(Value::Array(keys)) = parts.pop() else {
            return Err(bad());
        };
        let next = match parts.pop() {
            Some(Value::BulkString(b)) => std::str::from_utf8(&b)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        let keys = keys
            .into_iter()
            .filter_map(|k| match k {
                Value::BulkString(b) => String::from_utf8(b).ok(),
                _ => None,
            })
            .collect();
        Ok((next, keys))
    }

    /// `INCR`s the epoch key and returns the new epoch.
    pub fn new_epoch(&self) -> Result<i64> {
        match self.cmd(redis::cmd("INCR").arg(&self.0.epoch_key))? {
            Value::Int(n) => Ok(n),
            other => Err(cache_error(format!("INCR answered {other:?}"))),
        }
    }

    /// Leases a key that is not cached: `None` when the key exists (a row, another
    /// reader's lease, a tombstone). The lease makes the key visible to the reflector, so
    /// a change committed while the reader reads the database is refreshed over it.
    pub fn lease(&self, key: &str) -> Result<Option<Lease>> {
        let token = lease_token();
        let lease_ms = self.0.settings.lease.as_millis().max(1) as u64;
        match self.eval(&self.0.scripts.lease, |c| {
            c.arg(1).arg(key).arg(&token).arg(lease_ms);
        })? {
            Value::Int(1) => Ok(Some(Lease {
                key: key.to_owned(),
                token,
            })),
            _ => Ok(None),
        }
    }

    /// Fills a leased key with a row read from the primary ([`codec::encode`] bytes, the
    /// columns' [`codec::fingerprint`], the row's [`codec::version`]). True if written;
    /// false if refused: the lease is gone (a write deleted the key after its commit) or was
    /// replaced by a row as new or newer, or by a tombstone.
    pub fn fill(
        &self,
        lease: &Lease,
        version: i64,
        value: (&[u8], u64),
        ttl: Duration,
    ) -> Result<bool> {
        let stats = &self.0.stats;
        let v = self.eval(&self.0.scripts.fill, |c| {
            c.arg(1)
                .arg(&lease.key)
                .arg(&lease.token)
                .arg(version)
                .arg(value.1.to_string())
                .arg(value.0)
                .arg(ttl.as_millis().max(1) as u64);
        })?;
        let filled = v == Value::Int(1);
        if filled {
            stats.fills.fetch_add(1, Ordering::Relaxed);
        } else {
            stats.fills_refused.fetch_add(1, Ordering::Relaxed);
        }
        Ok(filled)
    }

    /// The reflector's compare-and-set writes, pipelined in one round trip (see
    /// [`Refresh`]). Only keys that exist (a row, a reader's lease, a tombstone) are written.
    pub fn refresh(
        &self,
        items: &[Refresh<'_>],
        epoch: i64,
        row_ttl: Duration,
        tomb_ttl: Duration,
    ) -> Result<Vec<RefreshOutcome>> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let (row_ms, tomb_ms) = (
            row_ttl.as_millis().max(1) as u64,
            tomb_ttl.as_millis().max(1) as u64,
        );
        let values = self.eval_many(&self.0.scripts.refresh, items.len(), |i, c| {
            let it = &items[i];
            c.arg(2)
                .arg(it.key)
                .arg(&self.0.epoch_key)
                .arg(epoch)
                .arg(it.version);
            match it.value {
                Some((bytes, fp)) => c.arg(fp.to_string()).arg(bytes),
                None => c.arg("").arg(""),
            };
            c.arg(row_ms)
                .arg(tomb_ms)
                .arg(if it.value.is_none() { "1" } else { "0" });
        })?;
        values
            .into_iter()
            .map(|v| match v {
                Value::Int(-1) => Ok(RefreshOutcome::Fenced),
                Value::Int(0) => Ok(RefreshOutcome::NotCached),
                Value::Int(1) => Ok(RefreshOutcome::Written),
                Value::Int(2) => Ok(RefreshOutcome::Unchanged),
                Value::ServerError(e) => Err(cache_error(format!("refresh script: {e}"))),
                other => Err(cache_error(format!("refresh script answered {other:?}"))),
            })
            .collect()
    }

    /// `EVALSHA` of `n` calls of one script in a pipeline; on `NOSCRIPT` (a restarted or
    /// flushed Redis) the script is loaded and the whole batch sent again — each script is a
    /// compare-and-set, so a repeat changes nothing.
    fn eval_many(
        &self,
        lua: &Lua,
        n: usize,
        fill: impl Fn(usize, &mut redis::Cmd),
    ) -> Result<Vec<Value>> {
        let mut pipe = redis::pipe();
        for i in 0..n {
            let mut c = redis::cmd("EVALSHA");
            c.arg(&lua.sha);
            fill(i, &mut c);
            pipe.add_command(c);
        }
        let values = self.pipe(&pipe)?;
        let noscript = values
            .iter()
            .any(|v| matches!(v, Value::ServerError(e) if e.code() == "NOSCRIPT"));
        if !noscript {
            return Ok(values);
        }
        self.cmd(redis::cmd("SCRIPT").arg("LOAD").arg(lua.src))?;
        self.pipe(&pipe)
    }

    /// One script call (see [`Cache::eval_many`]).
    fn eval(&self, lua: &Lua, fill: impl Fn(&mut redis::Cmd)) -> Result<Value> {
        let v = self.eval_many(lua, 1, |_, c| fill(c))?.pop();
        match v {
            Some(Value::ServerError(e)) => Err(cache_error(format!("Redis script: {e}"))),
            Some(v) => Ok(v),
            None => Err(cache_error("no reply")),
        }
    }

    /// Sends `bytes` (`want` commands) on the next connection, through the breaker.
    fn request(&self, encode: impl FnOnce(&mut Vec<u8>), want: usize) -> Result<Vec<Value>> {
        let inner = &*self.0;
        if !inner.breaker.allow() {
            inner.stats.bypassed.fetch_add(1, Ordering::Relaxed);
            return Err(Error::new(
                ErrorKind::Cache,
                "Redis is unavailable (circuit breaker open)",
                None,
            ));
        }
        let started = Instant::now();
        inner.stats.round_trips.fetch_add(1, Ordering::Relaxed);
        let result = self
            .conn()
            .and_then(|conn| conn.request(encode, want, inner.settings.call_timeout));
        match &result {
            Ok(_) => inner.breaker.success(),
            Err(_) => {
                inner.stats.errors.fetch_add(1, Ordering::Relaxed);
                inner.breaker.failure();
            }
        }
        crate::observe::histogram!(
            "lifeguard_cache_latency_seconds",
            started.elapsed().as_secs_f64()
        );
        let _ = started;
        result
    }

    /// The next live connection, opening one when the slot's is missing or dead.
    fn conn(&self) -> Result<Arc<Conn>> {
        let inner = &*self.0;
        let i = inner.next.fetch_add(1, Ordering::Relaxed) % inner.slots.len();
        let slot = &inner.slots[i];
        if let Some(c) = slot.conn.load_full() {
            if !c.is_dead() {
                return Ok(c);
            }
        }
        let _guard = slot
            .connecting
            .lock()
            .map_err(|_| cache_error("the Redis connect lock is poisoned"))?;
        if let Some(c) = slot.conn.load_full() {
            if !c.is_dead() {
                return Ok(c);
            }
        }
        slot.conn.store(None);
        let c = Arc::new(Conn::connect(
            &inner.target,
            inner.settings.connect_timeout,
            inner.settings.call_timeout,
        )?);
        slot.conn.store(Some(c.clone()));
        Ok(c)
    }
}

/// A lease token unique across processes and calls (pid, clock, counter).
fn lease_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    format!(
        "{}-{}-{}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
