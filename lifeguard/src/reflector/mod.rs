//! The reflector: keeps cached rows fresh from Postgres' change notifications.
//!
//! Tables are made reflectable once with [`install_sql`] (a version column and triggers
//! that `NOTIFY` `table|key|version` after commit). A reflector then runs next to the app
//! (`lifeguard reflector run`, or [`Reflector::run`] in your own binary):
//!
//! ```no_run
//! use lifeguard::cache::Cache;
//! use lifeguard::reflector::Reflector;
//! let cache = Cache::builder("redis://127.0.0.1:6379/").build()?;
//! let reflector = Reflector::builder("postgres://app@127.0.0.1/app", cache)
//!     .tables(["film"])
//!     .build()?;
//! let handle = reflector.handle(); // handle.stop() from elsewhere ends run()
//! reflector.run()?;
//! # Ok::<(), lifeguard::Error>(())
//! ```
//!
//! Any number of reflectors may run; one leads. The leader holds a session-level advisory
//! lock (its key derived from the cache namespace) on a session of its own, and standbys
//! poll for it, so a killed leader's lock is free as soon as Postgres sees its socket close.
//! On becoming leader it `LISTEN`s first, then takes a new epoch (`INCR` of the cache's
//! epoch key: every write it makes carries it, and the Lua script refuses writes of an older
//! epoch, so a deposed leader cannot write), then resyncs every cached key of its tables
//! (`SCAN`, batched `= ANY` reads from the primary, compare-and-set), and then drains the
//! notifications in batches: keys that are not cached are ignored (one pipelined `EXISTS`),
//! the rows of cached keys are read in one statement per table and refreshed. A key whose
//! row is gone becomes a tombstone.
//!
//! Nothing is missed: notifications queue on the listener from the `LISTEN` on, and the
//! resync covers everything before it. A dropped listener connection is reconnected, and
//! re-`LISTEN`ed and resynced; a silent, half-open one is found by a heartbeat (a
//! self-notification sent from the lock session every [`ReflectorBuilder::heartbeat`] that
//! must come back within [`ReflectorBuilder::heartbeat_timeout`]). Redis errors are retried
//! with backoff and followed by a resync. A `Fenced` answer or a lost lock session stops
//! writing at once and goes back to standby.
//!
//! Metrics (with the `metrics` feature): `reflector_notifications_total`,
//! `reflector_refreshes_total`, `reflector_ignored_total`, `reflector_active_keys`,
//! `reflector_redis_latency_seconds`, `reflector_pg_latency_seconds`,
//! `reflector_leader_changes_total`.

mod install;

pub use install::{install_sql, CHANNEL, VERSION_COLUMN};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis::Value;

use crate::cache::{codec, Cache, Refresh, RefreshOutcome};
use crate::driver::client::Client;
use crate::driver::config::Config;
use crate::driver::executor::Executor;
use crate::driver::notify::Notifications;
use crate::driver::row::Row;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::IntoConfig;
use postgres_types::ToSql;

/// The `application_name` prefix of the leader's listener session (followed by ` pid=<os
/// pid>`), so operators (and tests) can find it in `pg_stat_activity`.
pub const LISTENER_APPLICATION_NAME: &str = "lifeguard-reflector-listener";
/// The `application_name` prefix of the lock session (leader or standby).
pub const LOCK_APPLICATION_NAME: &str = "lifeguard-reflector";

/// Settings for a [`Reflector`].
pub struct ReflectorBuilder {
    config: Result<Config>,
    cache: Cache,
    tables: Vec<String>,
    batch: usize,
    heartbeat: Duration,
    heartbeat_timeout: Duration,
    standby_poll: Duration,
    row_ttl: Duration,
    tomb_ttl: Duration,
    query_timeout: Duration,
}

impl ReflectorBuilder {
    /// The tables to reflect, named as in the install SQL and the models' `table = ".."`.
    pub fn tables<I, S>(mut self, tables: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tables.extend(tables.into_iter().map(Into::into));
        self
    }
    /// Most notifications handled in one batch, and keys per resync read (default 500).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }
    /// How often the leader sends itself a heartbeat notification (default 1 s).
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.heartbeat = every;
        self
    }
    /// How long a heartbeat may take to come back before the listener connection is taken
    /// for dead and replaced (default 3 s).
    pub fn heartbeat_timeout(mut self, t: Duration) -> Self {
        self.heartbeat_timeout = t;
        self
    }
    /// How often a standby tries the leader lock (default 250 ms): a takeover waits at most
    /// this long after the old leader's session ends.
    pub fn standby_poll(mut self, every: Duration) -> Self {
        self.standby_poll = every;
        self
    }
    /// The TTL of a row the reflector writes over a reader's lease (default 60 s; a row
    /// written over a row keeps its remaining TTL).
    pub fn row_ttl(mut self, ttl: Duration) -> Self {
        self.row_ttl = ttl;
        self
    }
    /// How long a tombstone lives (default 10 s): reads meanwhile go to the database and
    /// do not fill.
    pub fn tombstone_ttl(mut self, ttl: Duration) -> Self {
        self.tomb_ttl = ttl;
        self
    }
    /// The reflector's own Postgres query timeout (default 10 s), so a half-open session
    /// fails instead of hanging.
    pub fn query_timeout(mut self, t: Duration) -> Self {
        self.query_timeout = t;
        self
    }

    /// Builds the reflector (nothing connects until [`Reflector::run`]).
    pub fn build(self) -> Result<Reflector> {
        let mut config = self.config?;
        if self.tables.is_empty() {
            return Err(Error::config("a reflector needs at least one table"));
        }
        config.query_timeout(Some(self.query_timeout));
        let lock_key = lock_key(self.cache.namespace());
        Ok(Reflector {
            shared: Arc::new(Shared {
                config,
                cache: self.cache,
                tables: self.tables,
                batch: self.batch,
                heartbeat: self.heartbeat,
                heartbeat_timeout: self.heartbeat_timeout,
                standby_poll: self.standby_poll,
                row_ttl: self.row_ttl,
                tomb_ttl: self.tomb_ttl,
                lock_key,
                stop: AtomicBool::new(false),
                leader: AtomicBool::new(false),
                counters: Counters::default(),
            }),
        })
    }
}

#[derive(Default)]
struct Counters {
    notifications: AtomicU64,
    refreshes: AtomicU64,
    ignored: AtomicU64,
    leader_changes: AtomicU64,
    resyncs: AtomicU64,
    listener_reconnects: AtomicU64,
    redis_errors: AtomicU64,
    active_keys: AtomicU64,
}

struct Shared {
    config: Config,
    cache: Cache,
    tables: Vec<String>,
    batch: usize,
    heartbeat: Duration,
    heartbeat_timeout: Duration,
    standby_poll: Duration,
    row_ttl: Duration,
    tomb_ttl: Duration,
    lock_key: i64,
    stop: AtomicBool,
    leader: AtomicBool,
    counters: Counters,
}

/// A reflector; [`Reflector::run`] blocks until [`ReflectorHandle::stop`].
pub struct Reflector {
    shared: Arc<Shared>,
}

/// Stops a running reflector and reads its state, from any thread or coroutine.
#[derive(Clone)]
pub struct ReflectorHandle {
    shared: Arc<Shared>,
}

/// What a reflector has done since it was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReflectorStats {
    /// Whether it leads now.
    pub leader: bool,
    /// Change notifications received (heartbeats not counted).
    pub notifications: u64,
    /// Keys written (rows and tombstones).
    pub refreshes: u64,
    /// Changed keys that were not cached, or already as new.
    pub ignored: u64,
    /// Times it became leader.
    pub leader_changes: u64,
    /// Full resyncs run (on leading, after a listener reconnect or a Redis error, on
    /// `TRUNCATE`).
    pub resyncs: u64,
    /// Listener connections replaced while leading (dropped, or silent past the heartbeat
    /// timeout).
    pub listener_reconnects: u64,
    /// Redis calls that failed while leading (each followed by a backoff and a resync).
    pub redis_errors: u64,
    /// Cached keys seen by the last resync.
    pub active_keys: u64,
}

impl ReflectorHandle {
    /// Asks the reflector to stop; `run` returns within about a heartbeat.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
    }
    /// Counters and state.
    pub fn stats(&self) -> ReflectorStats {
        self.shared.stats()
    }
}

impl std::fmt::Debug for Reflector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reflector")
            .field("tables", &self.shared.tables)
            .field("stats", &self.shared.stats())
            .finish()
    }
}

impl Reflector {
    /// A reflector reading from the primary at `config` (a URL or [`Config`]) and writing to
    /// `cache`.
    pub fn builder(config: impl IntoConfig, cache: Cache) -> ReflectorBuilder {
        ReflectorBuilder {
            config: config.__into_config(),
            cache,
            tables: Vec::new(),
            batch: 500,
            heartbeat: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            standby_poll: Duration::from_millis(250),
            row_ttl: Duration::from_secs(60),
            tomb_ttl: Duration::from_secs(10),
            query_timeout: Duration::from_secs(10),
        }
    }

    /// A handle to stop it and read its counters.
    pub fn handle(&self) -> ReflectorHandle {
        ReflectorHandle {
            shared: self.shared.clone(),
        }
    }

    /// Counters and state.
    pub fn stats(&self) -> ReflectorStats {
        self.shared.stats()
    }

    /// Runs until stopped: standby, leader, back to standby when leadership is lost.
    /// Connection failures are retried with backoff, never returned; the result is `Ok`
    /// once [`ReflectorHandle::stop`] was called. From a plain thread it runs in a `may`
    /// coroutine (the cache client is coroutine-native) and waits for it.
    pub fn run(&self) -> Result<()> {
        if may::coroutine::is_coroutine() {
            self.shared.run();
            return Ok(());
        }
        let shared = self.shared.clone();
        let builder = may::coroutine::Builder::new()
            .name("lifeguard-reflector".into())
            .stack_size(0x4_0000);
        // SAFETY: the body blocks only through may's coroutine-aware I/O and sleeps.
        let h = unsafe { builder.spawn(move || shared.run()) }
            .map_err(|e| Error::new(ErrorKind::Usage, "spawning the reflector", Some(e.into())))?;
        h.join()
            .map_err(|_| Error::usage("the reflector coroutine panicked"))
    }
}

/// Why leading ended.
enum Stop {
    /// Stop was asked.
    Asked,
    /// A newer epoch exists: another leader writes now.
    Fenced,
    /// The lock session failed (or a read on it): leadership is gone or doubtful.
    Session(Error),
}

/// A failure while leading that the leader may survive.
enum Fault {
    Stop(Stop),
    /// Redis failed: back off, then resync.
    Redis(Error),
    /// The listener connection failed: reconnect, LISTEN, resync.
    Listener(Error),
}

impl From<Stop> for Fault {
    fn from(s: Stop) -> Fault {
        Fault::Stop(s)
    }
}

/// One installed table as the reflector reads it.
struct Table {
    name: String,
    /// `prefix` + key text = the row's cache key.
    prefix: String,
    pattern: String,
    key_columns: usize,
    /// `SELECT t.*, <key text> AS lifeguard_key FROM <t> t WHERE <key> matches $1..$n`.
    select: String,
}

/// A change notification, parsed.
enum Change {
    Row {
        table: usize,
        key: String,
        version: i64,
    },
    Truncate {
        table: usize,
    },
}

struct Backoff(Duration);

impl Backoff {
    fn new() -> Backoff {
        Backoff(Duration::from_millis(50))
    }
    fn wait(&mut self, shared: &Shared) {
        shared.sleep(self.0);
        self.0 = (self.0 * 2).min(Duration::from_secs(2));
    }
    fn reset(&mut self) {
        *self = Backoff::new();
    }
}

impl Shared {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps up to `d`, waking early when stop is asked.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            may::coroutine::sleep((end - now).min(Duration::from_millis(50)));
        }
    }

    fn stats(&self) -> ReflectorStats {
        let c = &self.counters;
        ReflectorStats {
            leader: self.leader.load(Ordering::SeqCst),
            notifications: c.notifications.load(Ordering::Relaxed),
            refreshes: c.refreshes.load(Ordering::Relaxed),
            ignored: c.ignored.load(Ordering::Relaxed),
            leader_changes: c.leader_changes.load(Ordering::Relaxed),
            resyncs: c.resyncs.load(Ordering::Relaxed),
            listener_reconnects: c.listener_reconnects.load(Ordering::Relaxed),
            redis_errors: c.redis_errors.load(Ordering::Relaxed),
            active_keys: c.active_keys.load(Ordering::Relaxed),
        }
    }

    fn connect(&self, app: &str) -> Result<Client> {
        let mut config = self.config.clone();
        config.application_name(&format!("{app} pid={}", std::process::id()));
        Client::connect_with(&config)
    }

    fn run(&self) {
        let mut backoff = Backoff::new();
        while !self.stopped() {
            let lock = match self.connect(LOCK_APPLICATION_NAME) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "reflector: cannot connect to Postgres");
                    backoff.wait(self);
                    continue;
                }
            };
            backoff.reset();
            // Standby: poll for the leader lock on this session.
            let got = loop {
                if self.stopped() {
                    return;
                }
                match lock.query_one("SELECT pg_try_advisory_lock($1)", &[&self.lock_key]) {
                    Ok(row) => match row.try_get::<_, bool>(0) {
                        Ok(true) => break true,
                        Ok(false) => self.sleep(self.standby_poll),
                        Err(_) => break false,
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "reflector: lock session failed");
                        break false;
                    }
                }
            };
            if !got {
                backoff.wait(self);
                continue;
            }
            self.counters.leader_changes.fetch_add(1, Ordering::Relaxed);
            crate::observe::counter!("reflector_leader_changes_total", 1);
            tracing::info!("reflector: leading");
            let end = self.lead(&lock);
            self.leader.store(false, Ordering::SeqCst);
            match end {
                Stop::Asked => return,
                Stop::Fenced => tracing::warn!("reflector: fenced by a newer leader"),
                Stop::Session(e) => tracing::warn!(error = %e, "reflector: lock session lost"),
            }
            // Dropping the session releases the lock, if it is still held.
            drop(lock);
            backoff.wait(self);
        }
    }

    /// Leads until stopped, fenced, or the lock session is lost.
    fn lead(&self, lock: &Client) -> Stop {
        let tables = match self.describe(lock) {
            Ok(t) => t,
            Err(e) => return Stop::Session(e),
        };
        let mut listener = None;
        let mut epoch = None;
        let mut need_resync = true;
        let mut backoff = Backoff::new();
        let nonce = format!("!heartbeat|{}|{:x}", std::process::id(), self.lock_key);
        let mut seq: u64 = 0;
        // (sequence number, sent at) of the heartbeat not yet seen back.
        let mut outstanding: Option<(u64, Instant)> = None;
        let mut last_sent = Instant::now() - self.heartbeat;
        loop {
            if self.stopped() {
                return Stop::Asked;
            }
            if lock.is_closed() {
                return Stop::Session(Error::closed("the lock session closed"));
            }
            // LISTEN first: everything committed after it is queued for us.
            if listener.is_none() {
                match self.listen() {
                    Ok(l) => {
                        listener = Some(l);
                        need_resync = true;
                        outstanding = None;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "reflector: cannot LISTEN");
                        backoff.wait(self);
                        continue;
                    }
                }
            }
            let Some((_, notes)) = &listener else {
                continue;
            };
            let result = (|| -> std::result::Result<(), Fault> {
                let epoch = match epoch {
                    Some(e) => e,
                    None => {
                        let e = self.timed_redis(|| self.cache.new_epoch())?;
                        epoch = Some(e);
                        self.leader.store(true, Ordering::SeqCst);
                        e
                    }
                };
                if need_resync {
                    self.resync(lock, &tables, None, epoch)?;
                    need_resync = false;
                }
                if last_sent.elapsed() >= self.heartbeat {
                    if let Some((_, at)) = outstanding {
                        if at.elapsed() > self.heartbeat_timeout {
                            return Err(Fault::Listener(Error::new(
                                ErrorKind::Timeout,
                                "the listener's heartbeat did not come back",
                                None,
                            )));
                        }
                    } else {
                        seq += 1;
                        let payload = format!("{nonce}|{seq}");
                        lock.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                            .map_err(|e| Fault::Stop(Stop::Session(e)))?;
                        outstanding = Some((seq, Instant::now()));
                    }
                    last_sent = Instant::now();
                }
                let wait = Duration::from_millis(100).min(self.heartbeat);
                let Some(first) = notes.recv_timeout(wait).map_err(Fault::Listener)? else {
                    return Ok(());
                };
                let mut batch = vec![first];
                while batch.len() < self.batch {
                    match notes.try_recv().map_err(Fault::Listener)? {
                        Some(n) => batch.push(n),
                        None => break,
                    }
                }
                let mut changes = Vec::with_capacity(batch.len());
                for n in &batch {
                    let p = n.payload();
                    if let Some(rest) = p.strip_prefix(nonce.as_str()) {
                        if outstanding.is_some_and(|(s, _)| rest == format!("|{s}")) {
                            outstanding = None;
                        }
                        continue;
                    }
                    if let Some(c) = parse(&tables, p) {
                        changes.push(c);
                    }
                }
                let n = changes.len() as u64;
                self.counters.notifications.fetch_add(n, Ordering::Relaxed);
                crate::observe::counter!("reflector_notifications_total", n);
                self.apply(lock, &tables, changes, epoch)
            })();
            match result {
                Ok(()) => backoff.reset(),
                Err(Fault::Stop(s)) => return s,
                Err(Fault::Redis(e)) => {
                    self.counters.redis_errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "reflector: Redis failed; resyncing once it answers");
                    need_resync = true;
                    backoff.wait(self);
                }
                Err(Fault::Listener(e)) => {
                    tracing::warn!(error = %e, "reflector: listener lost; reconnecting");
                    self.counters
                        .listener_reconnects
                        .fetch_add(1, Ordering::Relaxed);
                    listener = None;
                    need_resync = true;
                }
            }
        }
    }

    fn listen(&self) -> Result<(Client, Notifications)> {
        let c = self.connect(LISTENER_APPLICATION_NAME)?;
        c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        let n = c.notifications();
        Ok((c, n))
    }

    /// Each table's key columns (from `pg_index`) and the statement reading rows by key.
    fn describe(&self, pg: &Client) -> Result<Vec<Table>> {
        let mut out = Vec::new();
        for name in &self.tables {
            let rows = pg
                .query(
                    "SELECT $1::text::regclass::text, a.attname::text, \
                            format_type(a.atttypid, a.atttypmod) \
                     FROM pg_index i \
                     CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) \
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum \
                     WHERE i.indrelid = $1::text::regclass AND i.indisprimary \
                     ORDER BY k.ord",
                    &[name],
                )
                .map_err(|e| e.context(format!("reading the primary key of {name}")))?;
            if rows.is_empty() {
                return Err(Error::config(format!(
                    "reflector: table {name} has no primary key"
                )));
            }
            let from: String = rows[0].try_get(0)?;
            let mut key_expr = Vec::new();
            let mut columns = Vec::new();
            let mut casts = Vec::new();
            for (i, r) in rows.iter().enumerate() {
                let col = crate::testing::quote_ident(&r.try_get::<_, String>(1)?);
                let ty: String = r.try_get(2)?;
                key_expr.push(format!("lifeguard.key_part(t.{col}::text)"));
                columns.push(format!("t.{col}"));
                casts.push(format!("${}::text[]::{ty}[]", i + 1));
            }
            let filter = if rows.len() == 1 {
                format!("{} = ANY({})", columns[0], casts[0])
            } else {
                format!(
                    "({}) IN (SELECT * FROM unnest({}))",
                    columns.join(", "),
                    casts.join(", ")
                )
            };
            let select = format!(
                "SELECT t.*, {} AS lifeguard_key FROM {from} t WHERE {filter}",
                key_expr.join(" || ':' || ")
            );
            out.push(Table {
                name: name.clone(),
                prefix: self.cache.row_key(name, ""),
                pattern: self.cache.table_pattern(name),
                key_columns: rows.len(),
                select,
            });
        }
        Ok(out)
    }

    fn timed_redis<T>(&self, f: impl FnOnce() -> Result<T>) -> std::result::Result<T, Fault> {
        let started = Instant::now();
        let r = f();
        crate::observe::histogram!(
            "reflector_redis_latency_seconds",
            started.elapsed().as_secs_f64()
        );
        let _ = started;
        r.map_err(Fault::Redis)
    }

    /// Refreshes every cached key of `only` (or of all tables).
    fn resync(
        &self,
        pg: &Client,
        tables: &[Table],
        only: Option<usize>,
        epoch: i64,
    ) -> std::result::Result<(), Fault> {
        self.counters.resyncs.fetch_add(1, Ordering::Relaxed);
        let mut seen = 0u64;
        for (ti, t) in tables.iter().enumerate() {
            if only.is_some_and(|o| o != ti) {
                continue;
            }
            let mut cursor: u64 = 0;
            loop {
                if self.stopped() {
                    return Err(Stop::Asked.into());
                }
                let (next, keys) =
                    self.timed_redis(|| self.cache.scan(cursor, &t.pattern, 1000))?;
                let texts: Vec<String> = keys
                    .iter()
                    .filter_map(|k| k.strip_prefix(t.prefix.as_str()).map(str::to_owned))
                    .collect();
                seen += texts.len() as u64;
                for chunk in texts.chunks(self.batch) {
                    self.refresh_keys(pg, t, chunk, &HashMap::new(), epoch)?;
                }
                cursor = next;
                if cursor == 0 {
                    break;
                }
            }
        }
        if only.is_none() {
            self.counters.active_keys.store(seen, Ordering::Relaxed);
            crate::observe::gauge!("reflector_active_keys", seen as f64);
        }
        Ok(())
    }

    /// Handles one batch of changes.
    fn apply(
        &self,
        pg: &Client,
        tables: &[Table],
        changes: Vec<Change>,
        epoch: i64,
    ) -> std::result::Result<(), Fault> {
        // Per table: each key's highest notified version (a tombstone's, if the row is gone).
        let mut per_table: Vec<HashMap<String, i64>> = vec![HashMap::new(); tables.len()];
        let mut truncated = vec![false; tables.len()];
        for c in changes {
            match c {
                Change::Row {
                    table,
                    key,
                    version,
                } => {
                    let v = per_table[table].entry(key).or_insert(version);
                    *v = (*v).max(version);
                }
                Change::Truncate { table } => truncated[table] = true,
            }
        }
        // Which keys are cached: one pipelined EXISTS for the whole batch.
        let mut pipe = redis::pipe();
        let mut asked = Vec::new();
        for (ti, keys) in per_table.iter().enumerate() {
            if truncated[ti] {
                continue;
            }
            for k in keys.keys() {
                pipe.cmd("EXISTS").arg(format!("{}{k}", tables[ti].prefix));
                asked.push((ti, k.clone()));
            }
        }
        let mut cached: Vec<Vec<String>> = vec![Vec::new(); tables.len()];
        if !asked.is_empty() {
            let replies = self.timed_redis(|| self.cache.pipe(&pipe))?;
            let mut ignored = 0u64;
            for ((ti, k), v) in asked.into_iter().zip(replies) {
                match v {
                    Value::Int(1) => cached[ti].push(k),
                    Value::Int(_) => ignored += 1,
                    other => {
                        return Err(Fault::Redis(Error::new(
                            ErrorKind::Cache,
                            format!("EXISTS answered {other:?}"),
                            None,
                        )))
                    }
                }
            }
            self.count_ignored(ignored);
        }
        for (ti, t) in tables.iter().enumerate() {
            if truncated[ti] {
                self.resync(pg, tables, Some(ti), epoch)?;
                continue;
            }
            for chunk in cached[ti].chunks(self.batch) {
                self.refresh_keys(pg, t, chunk, &per_table[ti], epoch)?;
            }
        }
        Ok(())
    }

    fn count_ignored(&self, n: u64) {
        if n > 0 {
            self.counters.ignored.fetch_add(n, Ordering::Relaxed);
            crate::observe::counter!("reflector_ignored_total", n);
        }
    }

    /// Reads the rows of `keys` from the primary in one statement and writes them (absent
    /// rows as tombstones, at their notified version, else at a fresh one) through the
    /// compare-and-set.
    fn refresh_keys(
        &self,
        pg: &Client,
        t: &Table,
        keys: &[String],
        versions: &HashMap<String, i64>,
        epoch: i64,
    ) -> std::result::Result<(), Fault> {
        // Key parts per column; a key of the wrong shape is not one of ours and is skipped.
        let mut parts: Vec<Vec<String>> = vec![Vec::with_capacity(keys.len()); t.key_columns];
        let mut wanted = Vec::with_capacity(keys.len());
        for k in keys {
            let split = codec::split_key(k);
            if split.len() != t.key_columns {
                continue;
            }
            for (i, p) in split.into_iter().enumerate() {
                parts[i].push(p);
            }
            wanted.push(k.as_str());
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let params: Vec<&(dyn ToSql + Sync)> =
            parts.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let started = Instant::now();
        let rows = pg.query(t.select.as_str(), &params);
        crate::observe::histogram!(
            "reflector_pg_latency_seconds",
            started.elapsed().as_secs_f64()
        );
        let _ = started;
        let rows = match rows {
            Ok(rows) => rows,
            // A key text that does not parse as the key's type (class 22, data exception):
            // not a key the app filled. Halve the batch until the bad key is alone, and
            // skip it, rather than failing every resync.
            Err(e) if e.code().is_some_and(|c| c.class() == "22") => {
                if wanted.len() == 1 {
                    tracing::warn!(key = wanted[0], error = %e, "reflector: skipping a malformed key");
                    return Ok(());
                }
                let owned: Vec<String> = wanted.iter().map(|k| (*k).to_owned()).collect();
                let (a, b) = owned.split_at(owned.len() / 2);
                self.refresh_keys(pg, t, a, versions, epoch)?;
                return self.refresh_keys(pg, t, b, versions, epoch);
            }
            Err(e) => return Err(Stop::Session(e).into()),
        };
        let mut found: HashMap<String, &Row> = HashMap::with_capacity(rows.len());
        for r in &rows {
            let k: String = r
                .try_get(r.len() - 1)
                .map_err(|e| Fault::Stop(Stop::Session(e)))?;
            found.insert(k, r);
        }
        // A tombstone for a key gone at resync takes a version newer than any the row had.
        let mut fresh = None;
        if wanted
            .iter()
            .any(|k| !found.contains_key(*k) && !versions.contains_key(*k))
        {
            let v: i64 = pg
                .query_one("SELECT nextval('lifeguard.row_version')", &[])
                .and_then(|r| r.try_get(0))
                .map_err(|e| Fault::Stop(Stop::Session(e)))?;
            fresh = Some(v);
        }
        let full: Vec<String> = wanted.iter().map(|k| format!("{}{k}", t.prefix)).collect();
        let encoded: Vec<Option<(Vec<u8>, u64, i64)>> = wanted
            .iter()
            .map(|k| {
                found.get(*k).map(|r| {
                    let n = r.len() - 1;
                    (
                        codec::encode(r, n),
                        codec::fingerprint(r.columns(), n),
                        codec::version(r),
                    )
                })
            })
            .collect();
        let items: Vec<Refresh<'_>> = wanted
            .iter()
            .enumerate()
            .map(|(i, k)| match &encoded[i] {
                Some((bytes, fp, v)) => Refresh {
                    key: &full[i],
                    value: Some((bytes, *fp)),
                    version: *v,
                },
                None => Refresh {
                    key: &full[i],
                    value: None,
                    version: versions.get(*k).copied().or(fresh).unwrap_or(0),
                },
            })
            .collect();
        let outcomes = self.timed_redis(|| {
            self.cache
                .refresh(&items, epoch, self.row_ttl, self.tomb_ttl)
        })?;
        let (mut written, mut ignored) = (0u64, 0u64);
        for o in outcomes {
            match o {
                RefreshOutcome::Fenced => return Err(Stop::Fenced.into()),
                RefreshOutcome::Written => written += 1,
                RefreshOutcome::NotCached | RefreshOutcome::Unchanged => ignored += 1,
            }
        }
        self.counters
            .refreshes
            .fetch_add(written, Ordering::Relaxed);
        crate::observe::counter!("reflector_refreshes_total", written);
        self.count_ignored(ignored);
        Ok(())
    }
}

/// `table|key|version` → a change of one of `tables` (the longest table name that prefixes
/// the payload: keys and names may themselves hold `|`).
fn parse(tables: &[Table], payload: &str) -> Option<Change> {
    let (ti, rest) = tables
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            payload
                .strip_prefix(t.name.as_str())
                .and_then(|r| r.strip_prefix('|'))
                .map(|r| (i, t.name.len(), r))
        })
        .max_by_key(|&(_, len, _)| len)
        .map(|(i, _, r)| (i, r))?;
    let (key, version) = rest.rsplit_once('|')?;
    let version: i64 = version.parse().ok()?;
    if key == "*" {
        return Some(Change::Truncate { table: ti });
    }
    Some(Change::Row {
        table: ti,
        key: key.to_owned(),
        version,
    })
}

/// The leader lock's key: FNV-1a of the namespace, so reflectors of different namespaces
/// on one server do not exclude each other.
pub fn lock_key(namespace: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in "lifeguard-reflector:".bytes().chain(namespace.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Table {
        Table {
            name: name.into(),
            prefix: String::new(),
            pattern: String::new(),
            key_columns: 1,
            select: String::new(),
        }
    }

    #[test]
    fn parses_payloads() {
        let tables = [table("film"), table("film|x")];
        match parse(&tables, "film|a|b|42") {
            Some(Change::Row {
                table: 0,
                key,
                version: 42,
            }) => assert_eq!(key, "a|b"),
            _ => panic!("film row"),
        }
        assert!(matches!(
            parse(&tables, "film|x|7|3"),
            Some(Change::Row { table: 1, .. })
        ));
        assert!(matches!(
            parse(&tables, "film|*|9"),
            Some(Change::Truncate { table: 0 })
        ));
        assert!(parse(&tables, "actor|1|2").is_none());
        assert!(parse(&tables, "film|1|x").is_none());
        assert_ne!(lock_key("a"), lock_key("b"));
    }
}
