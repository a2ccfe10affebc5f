//! A bounded pool of pipelined connections.
//!
//! * **Two ways in.** Plain queries on the pool are pipelined: they go to the least-loaded
//!   connection that is not checked out, and many callers share it. `get` and `transaction`
//!   check a connection out exclusively until the guard drops.
//! * **The query path takes no lock.** The open connections are published as an immutable
//!   snapshot ([`arc_swap`]); a pipelined pick reads it and a few atomics. The pool's mutex
//!   is taken only when connections come and go, on checkouts, and when nothing is free.
//! * **Fair.** Checkouts wait in a FIFO queue and a returned connection is handed straight
//!   to the oldest waiter, so no caller can barge in ahead of one that waited longer.
//! * **Opening.** Connections are opened by a coroutine of the pool, never by a caller's
//!   query; a failed attempt is retried with exponential backoff and jitter while anybody
//!   waits (or `min_idle` is short), so a restarted server is reached within the backoff's
//!   maximum of accepting again. Every wait is bounded by the acquire timeout: a caller gets
//!   a result or a [`PoolTimeout`](crate::ErrorKind::PoolTimeout) naming the last connect error.
//! * **Upkeep.** A maintenance coroutine retires connections at their (jittered) lifetime,
//!   closes idle ones, tops up `min_idle` and warns of leaked checkouts. Retiring never
//!   disturbs a query in flight: the pool only stops handing the connection out, and it
//!   closes when its last query is done. Broken connections (a restart, a killed backend,
//!   a fatal error, a failed liveness check) are discarded; queries are never retried,
//!   since they may have run.

mod builder;
mod status;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use may::sync::{Condvar, Mutex, MutexGuard, Semphore};

pub use builder::{IntoConfig, PoolBuilder};
pub use status::{PoolCounters, PoolStatus};

use crate::driver::client::Client;
use crate::driver::config::Config;
use crate::driver::executor::{Executor, Target};
use crate::driver::transaction::{Transaction, TransactionBuilder};
use crate::driver::wait::parker_timeout;
use crate::driver::worker;
use crate::error::{Error, ErrorKind, Result};
use crate::observe;
use builder::Settings;
use status::{bump, CloseReason, Counters};

/// One open connection of the pool.
struct Slot {
    client: Client,
    /// Checked out by `get` / `transaction`: not picked for pipelined queries.
    exclusive: AtomicBool,
    /// When the pool retires it (`max_lifetime`, jittered).
    expires: Option<Instant>,
    /// Milliseconds since the pool's epoch when last handed out or returned.
    last_used: AtomicU64,
    /// Milliseconds since the pool's epoch when checked out (for leak warnings).
    checked_out_at: AtomicU64,
    leak_warned: AtomicBool,
}

impl Slot {
    /// Marks the slot used now; written only when the millisecond changed, so callers on
    /// different cores do not keep taking the cache line from each other.
    fn touch(&self, now_ms: u64) {
        if self.last_used.load(Ordering::Relaxed) != now_ms {
            self.last_used.store(now_ms, Ordering::Relaxed);
        }
    }

    fn shareable(&self) -> bool {
        !self.exclusive.load(Ordering::Acquire) && !self.client.is_broken()
    }
    /// Free for a checkout: shareable and running nothing.
    fn free(&self) -> bool {
        self.shareable() && self.client.in_flight() == 0
    }
}

/// A caller waiting for a checkout; the pool hands it a slot and wakes it.
struct Waiter {
    handed: std::sync::Mutex<Option<Arc<Slot>>>,
    wake: Semphore,
}

impl Waiter {
    fn take(&self) -> Option<Arc<Slot>> {
        self.handed.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

struct State {
    slots: Vec<Arc<Slot>>,
    opening: usize,
    /// Checkouts, oldest first.
    waiters: VecDeque<Arc<Waiter>>,
    /// Pipelined queries waiting for any connection (they share, so no queue).
    shared_waiting: usize,
    last_error: Option<String>,
}

struct Inner {
    /// This pool, for the coroutines it starts (they must not keep it alive).
    me: Weak<Inner>,
    config: Config,
    settings: Settings,
    epoch: Instant,
    state: Mutex<State>,
    /// Signalled when a connection becomes shareable (for `shared_waiting` callers).
    changed: Condvar,
    /// The open connections, for the lock-free pipelined pick.
    shared: ArcSwap<Vec<Arc<Slot>>>,
    next: AtomicUsize,
    growing: AtomicBool,
    counters: Counters,
    rng: AtomicU64,
}

/// A pool of connections. Cheap to clone; clones share the pool.
///
/// ```no_run
/// use lifeguard::{Executor, Pool};
/// use std::time::Duration;
///
/// let pool = Pool::builder("postgres://app@127.0.0.1/app")
///     .max_size(16)
///     .min_idle(2)
///     .acquire_timeout(Duration::from_secs(5))
///     .build()?;
/// let n: i64 = pool.query_one("SELECT count(*) FROM pg_class", &[])?.get(0);
/// println!("{:?}", pool.status());
/// # Ok::<(), lifeguard::Error>(())
/// ```
#[derive(Clone)]
pub struct Pool(Arc<Inner>);

impl Pool {
    /// Starts configuring a pool for a URL (`&str` or `String`) or a [`Config`].
    pub fn builder(config: impl IntoConfig) -> PoolBuilder {
        PoolBuilder {
            config: config.__into_config(),
            settings: Settings::default(),
        }
    }

    fn start(config: Config, settings: Settings) -> Result<Pool> {
        let epoch = Instant::now();
        let seed = epoch.elapsed().as_nanos() as u64 ^ (&epoch as *const Instant as u64);
        let up_front = settings.open_up_front.min(settings.max_size);
        let pool = Pool(Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            config,
            settings,
            epoch,
            state: Mutex::new(State {
                slots: Vec::new(),
                opening: 0,
                waiters: VecDeque::new(),
                shared_waiting: 0,
                last_error: None,
            }),
            changed: Condvar::new(),
            shared: ArcSwap::from_pointee(Vec::new()),
            next: AtomicUsize::new(0),
            growing: AtomicBool::new(false),
            counters: Counters::default(),
            rng: AtomicU64::new(seed | 1),
        }));
        for _ in 0..up_front {
            let client = Client::connect_with(&pool.0.config)?;
            bump(&pool.0.counters.opened);
            let mut st = pool.0.lock();
            let slot = pool.0.new_slot(client);
            st.slots.push(slot);
            pool.0.publish(&st);
        }
        let weak = Arc::downgrade(&pool.0);
        let mut interval = pool.0.settings.maintenance_interval;
        if let Some(leak) = pool.0.settings.leak_threshold {
            interval = interval.min(leak / 2).max(Duration::from_millis(10));
        }
        may::go!(move || maintenance_loop(weak, interval));
        pool.0.lock_and_top_up();
        Ok(pool)
    }

    /// Checks a connection out exclusively until the returned guard is dropped.
    ///
    /// Waiters are served first come, first served. A connection idle for longer than the
    /// alive-bypass window is pinged first; a dead one is discarded and another taken,
    /// all within the acquire timeout.
    pub fn get(&self) -> Result<PooledConnection> {
        let span = tracing::debug_span!(
            "lifeguard.acquire",
            "db.system.name" = "postgresql",
            exclusive = true
        );
        let _enter = span.enter();
        let started = Instant::now();
        let deadline = started + self.0.settings.acquire_timeout;
        loop {
            let slot = self.0.checkout(deadline)?;
            let idle_ms = self
                .0
                .now_ms()
                .saturating_sub(slot.last_used.load(Ordering::Relaxed));
            if Duration::from_millis(idle_ms) > self.0.settings.alive_bypass {
                let left = deadline.saturating_duration_since(Instant::now());
                // Half of what is left, so a failed ping leaves time to open another.
                let timeout = (left / 2).clamp(Duration::from_millis(100), Duration::from_secs(5));
                if let Err(e) = crate::driver::query::ping(&slot.client.conn, timeout) {
                    tracing::debug!(error = %e, "liveness check failed; discarding the connection");
                    slot.client.conn.mark_broken();
                    self.0.give_back(&slot);
                    continue;
                }
            }
            slot.checked_out_at
                .store(self.0.now_ms().max(1), Ordering::Relaxed);
            slot.leak_warned.store(false, Ordering::Relaxed);
            observe::histogram!(
                "lifeguard_connection_wait_time",
                started.elapsed().as_secs_f64()
            );
            self.0.report_gauges();
            return Ok(PooledConnection {
                pool: self.clone(),
                slot,
            });
        }
    }

    /// Begins a transaction on an exclusively checked-out connection.
    pub fn transaction(&self) -> Result<Transaction<'static>> {
        self.build_transaction()?.start()
    }

    /// Begins a transaction with options on an exclusively checked-out connection.
    pub fn build_transaction(&self) -> Result<TransactionBuilder<'static>> {
        let conn = self.get()?;
        Ok(TransactionBuilder::new(
            conn.slot.client.clone(),
            Some(conn),
        ))
    }

    /// The pool's size, use and counters.
    pub fn status(&self) -> PoolStatus {
        let st = self.0.lock();
        let in_use = st
            .slots
            .iter()
            .filter(|s| s.exclusive.load(Ordering::Relaxed))
            .count();
        PoolStatus {
            size: st.slots.len(),
            max_size: self.0.settings.max_size,
            idle: st.slots.len() - in_use,
            in_use,
            waiting: st.waiters.len() + st.shared_waiting,
            opening: st.opening,
            counters: self.0.counters.snapshot(),
        }
    }

    /// Runs the maintenance pass now (retire, close idle, top up `min_idle`), as the
    /// maintenance coroutine does every `maintenance_interval`.
    pub fn maintain(&self) {
        self.0.maintain();
    }

    /// Picks a connection for a pipelined query: the snapshot and a few atomics, no lock.
    fn pick_shared(&self) -> Result<Client> {
        let inner = &*self.0;
        let snapshot = inner.shared.load();
        let n = snapshot.len();
        if n > 0 {
            let here = if inner.settings.worker_affine {
                worker::current()
            } else {
                None
            };
            let start = inner.next.fetch_add(1, Ordering::Relaxed);
            // The least-loaded connection, and the least-loaded one read on this worker.
            let mut best: Option<(&Arc<Slot>, usize)> = None;
            let mut near: Option<(&Arc<Slot>, usize)> = None;
            for i in 0..n {
                let slot = &snapshot[(start + i) % n];
                if !slot.shareable() {
                    continue;
                }
                let load = slot.client.in_flight();
                if best.is_none_or(|(_, l)| load < l) {
                    best = Some((slot, load));
                }
                if here == Some(slot.client.reader_worker()) && near.is_none_or(|(_, l)| load < l) {
                    near = Some((slot, load));
                }
                let done = match here {
                    Some(_) => near.is_some_and(|(_, l)| l == 0),
                    None => load == 0,
                };
                if done {
                    break;
                }
            }
            if let Some((least, min)) = best {
                let slot = match near {
                    Some((slot, load)) if near_enough(load, min) => slot,
                    _ => least,
                };
                // Every connection busy and room for more: open one in the background.
                if min > 0 && n < inner.settings.max_size {
                    inner.grow();
                }
                slot.touch(inner.now_ms());
                return Ok(slot.client.clone());
            }
        }
        drop(snapshot);
        inner.pick_shared_slow()
    }
}

/// Whether the connection read on the caller's worker, with `load` queries in flight, is
/// preferred to the least-loaded one with `min`: staying on one worker saves two thread
/// crossings per query, but not at the price of queueing behind twice the work.
fn near_enough(load: usize, min: usize) -> bool {
    load <= 2 * min + 2
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A pseudo-random number (splitmix64) for jitter; no cryptographic use.
    fn random(&self) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn new_slot(&self, client: Client) -> Arc<Slot> {
        let expires = self.settings.max_lifetime.map(|life| {
            // Up to 2.5 % shorter, so connections opened together do not expire together.
            let jitter_ms = (life.as_millis() as u64 / 40).max(1);
            Instant::now() + life - Duration::from_millis(self.random() % jitter_ms)
        });
        Arc::new(Slot {
            client,
            exclusive: AtomicBool::new(false),
            expires,
            last_used: AtomicU64::new(self.now_ms()),
            checked_out_at: AtomicU64::new(0),
            leak_warned: AtomicBool::new(false),
        })
    }

    /// Publishes the open connections for the lock-free pick (after any change).
    fn publish(&self, st: &State) {
        self.shared.store(Arc::new(st.slots.clone()));
    }

    fn timeout_error(&self, st: &State, what: &str) -> Error {
        bump(&self.counters.timed_out);
        let mut msg = format!(
            "{what}: no connection available within {:?} (max_size {}, {} open, {} checked out)",
            self.settings.acquire_timeout,
            self.settings.max_size,
            st.slots.len(),
            st.slots
                .iter()
                .filter(|s| s.exclusive.load(Ordering::Relaxed))
                .count()
        );
        if let Some(e) = &st.last_error {
            msg.push_str("; the last attempt to connect failed: ");
            msg.push_str(e);
        }
        Error::new(ErrorKind::PoolTimeout, msg, None)
    }

    /// Drops broken connections from the pool (their users already got errors).
    fn reap_broken(&self, st: &mut State) {
        let before = st.slots.len();
        st.slots.retain(|s| {
            // A checked-out connection is judged when it comes back.
            let gone = !s.exclusive.load(Ordering::Relaxed) && s.client.is_broken();
            if gone {
                self.counters.closed(CloseReason::Broken);
            }
            !gone
        });
        if st.slots.len() != before {
            self.publish(st);
        }
    }

    /// Opens one more connection in the background if there is room and none is opening.
    fn grow(&self) {
        if self.growing.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut st = self.lock();
        if st.opening == 0 && st.slots.len() < self.settings.max_size {
            self.start_open(&mut st);
        }
        drop(st);
        self.growing.store(false, Ordering::Release);
    }

    /// The slow path of a pipelined pick: nothing shareable is open.
    fn pick_shared_slow(&self) -> Result<Client> {
        let started = Instant::now();
        let deadline = started + self.settings.acquire_timeout;
        let mut st = self.lock();
        let mut waited = false;
        loop {
            self.reap_broken(&mut st);
            let best = st
                .slots
                .iter()
                .filter(|s| s.shareable())
                .min_by_key(|s| s.client.in_flight());
            if let Some(slot) = best {
                slot.touch(self.now_ms());
                let client = slot.client.clone();
                if waited {
                    bump(&self.counters.acquired_after_wait);
                    observe::histogram!(
                        "lifeguard_connection_wait_time",
                        started.elapsed().as_secs_f64()
                    );
                }
                return Ok(client);
            }
            if st.opening == 0 && st.slots.len() < self.settings.max_size {
                self.start_open(&mut st);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timeout_error(&st, "acquiring a connection"));
            }
            st.shared_waiting += 1;
            st = self
                .changed
                .wait_timeout(st, parker_timeout(left))
                .unwrap_or_else(|p| p.into_inner())
                .0;
            st.shared_waiting -= 1;
            waited = true;
        }
    }

    /// Takes a connection exclusively: queue up, get handed one, or time out.
    fn checkout(self: &Arc<Inner>, deadline: Instant) -> Result<Arc<Slot>> {
        let waiter = Arc::new(Waiter {
            handed: std::sync::Mutex::new(None),
            wake: Semphore::new(0),
        });
        let mut st = self.lock();
        self.reap_broken(&mut st);
        st.waiters.push_back(waiter.clone());
        self.dispatch(&mut st);
        if let Some(slot) = waiter.take() {
            bump(&self.counters.acquired_directly);
            return Ok(slot);
        }
        drop(st);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !left.is_zero() {
                waiter.wake.wait_timeout(parker_timeout(left));
            }
            let mut st = self.lock();
            if let Some(slot) = waiter.take() {
                bump(&self.counters.acquired_after_wait);
                return Ok(slot);
            }
            if Instant::now() >= deadline {
                st.waiters.retain(|w| !Arc::ptr_eq(w, &waiter));
                return Err(self.timeout_error(&st, "checking out a connection"));
            }
        }
    }

    /// Serves the checkout queue in order from what is free; opens connections for the
    /// waiters nothing can serve while there is room.
    fn dispatch(&self, st: &mut State) {
        while let Some(waiter) = st.waiters.front() {
            let slot = match st.slots.iter().find(|s| s.free()) {
                Some(free) => free.clone(),
                None if st.slots.len() + st.opening < self.settings.max_size => {
                    while st.opening < st.waiters.len()
                        && st.slots.len() + st.opening < self.settings.max_size
                    {
                        self.start_open(st);
                    }
                    return;
                }
                // No room: share-loaded connections are taken too; their pipelined queries
                // finish first (the connection answers in order).
                None => match st
                    .slots
                    .iter()
                    .filter(|s| s.shareable())
                    .min_by_key(|s| s.client.in_flight())
                {
                    Some(busy) => busy.clone(),
                    None => return,
                },
            };
            slot.exclusive.store(true, Ordering::Release);
            *waiter.handed.lock().unwrap_or_else(|p| p.into_inner()) = Some(slot);
            waiter.wake.post();
            st.waiters.pop_front();
        }
    }

    /// Returns a checked-out connection: discarded if broken or past its lifetime, else
    /// handed to the oldest waiter or shared again.
    fn give_back(&self, slot: &Arc<Slot>) {
        let mut st = self.lock();
        let reason = if slot.client.is_broken() {
            Some(CloseReason::Broken)
        } else if slot.expires.is_some_and(|e| Instant::now() >= e) {
            Some(CloseReason::Lifetime)
        } else {
            None
        };
        slot.checked_out_at.store(0, Ordering::Relaxed);
        slot.last_used.store(self.now_ms(), Ordering::Relaxed);
        match reason {
            Some(reason) => {
                if let Some(i) = st.slots.iter().position(|s| Arc::ptr_eq(s, slot)) {
                    st.slots.swap_remove(i);
                    self.counters.closed(reason);
                    self.publish(&st);
                }
            }
            None => slot.exclusive.store(false, Ordering::Release),
        }
        self.dispatch(&mut st);
        drop(st);
        self.changed.notify_all();
        self.report_gauges();
    }

    /// Starts a coroutine that opens one connection (retrying with backoff while it is
    /// wanted). The caller holds the lock.
    fn start_open(&self, st: &mut State) {
        st.opening += 1;
        let weak = self.me.clone();
        may::go!(move || open_loop(weak));
    }

    /// Whether connections are still wanted while opening fails.
    fn wants_connections(&self, st: &State) -> bool {
        let idle = st
            .slots
            .iter()
            .filter(|s| !s.exclusive.load(Ordering::Relaxed))
            .count();
        !st.waiters.is_empty() || st.shared_waiting > 0 || idle < self.settings.min_idle
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let s = &self.settings;
        let exp = s
            .backoff_min
            .saturating_mul(1u32 << attempt.min(16))
            .min(s.backoff_max);
        // Full jitter in the upper half: [exp/2, exp].
        let half = exp / 2;
        let spread = half.as_micros().max(1) as u64;
        half + Duration::from_micros(self.random() % spread)
    }

    fn lock_and_top_up(&self) {
        let mut st = self.lock();
        self.top_up(&mut st);
    }

    /// Opens connections until `min_idle` are open and not checked out.
    fn top_up(&self, st: &mut State) {
        loop {
            let idle = st
                .slots
                .iter()
                .filter(|s| !s.exclusive.load(Ordering::Relaxed))
                .count();
            if idle + st.opening >= self.settings.min_idle
                || st.slots.len() + st.opening >= self.settings.max_size
            {
                return;
            }
            self.start_open(st);
        }
    }

    fn maintain(&self) {
        let now = Instant::now();
        let now_ms = self.now_ms();
        let mut st = self.lock();
        let before = st.slots.len();
        let mut shareable = st
            .slots
            .iter()
            .filter(|s| !s.exclusive.load(Ordering::Relaxed))
            .count();
        let min_idle = self.settings.min_idle;
        let idle_timeout = self.settings.idle_timeout;
        let mut closed = Vec::new();
        st.slots.retain(|s| {
            if s.exclusive.load(Ordering::Relaxed) {
                if let (Some(limit), at) = (
                    self.settings.leak_threshold,
                    s.checked_out_at.load(Ordering::Relaxed),
                ) {
                    let held = Duration::from_millis(now_ms.saturating_sub(at));
                    if at != 0 && held > limit && !s.leak_warned.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            backend_pid = s.client.backend_pid(),
                            held_ms = held.as_millis() as u64,
                            "a pool connection has been checked out longer than the leak \
                             detection threshold; is a guard or transaction being kept?"
                        );
                    }
                }
                return true;
            }
            let reason = if s.client.is_broken() {
                Some(CloseReason::Broken)
            } else if s.expires.is_some_and(|e| now >= e) {
                Some(CloseReason::Lifetime)
            } else if idle_timeout.is_some_and(|t| {
                Duration::from_millis(now_ms.saturating_sub(s.last_used.load(Ordering::Relaxed)))
                    > t
            }) && s.client.in_flight() == 0
                && shareable > min_idle
            {
                Some(CloseReason::Idle)
            } else {
                None
            };
            if let Some(r) = reason {
                shareable -= 1;
                closed.push(r);
            }
            reason.is_none()
        });
        for r in closed {
            self.counters.closed(r);
        }
        if st.slots.len() != before {
            self.publish(&st);
        }
        self.top_up(&mut st);
        self.dispatch(&mut st);
        drop(st);
        self.report_gauges();
    }

    /// Sets the pool gauges (a no-op without the `metrics` feature).
    fn report_gauges(&self) {
        #[cfg(feature = "metrics")]
        {
            let snapshot = self.shared.load();
            let active = snapshot
                .iter()
                .filter(|s| s.exclusive.load(Ordering::Relaxed) || s.client.in_flight() > 0)
                .count();
            observe::gauge!("lifeguard_pool_size", snapshot.len() as f64);
            observe::gauge!("lifeguard_active_connections", active as f64);
        }
    }
}

/// Opens one connection for the pool, retrying with backoff while one is wanted.
fn open_loop(weak: Weak<Inner>) {
    let mut attempt = 0u32;
    loop {
        let Some(inner) = weak.upgrade() else { return };
        let res = Client::connect_with(&inner.config);
        let mut st = inner.lock();
        match res {
            Ok(client) => {
                st.opening -= 1;
                bump(&inner.counters.opened);
                st.last_error = None;
                let slot = inner.new_slot(client);
                st.slots.push(slot);
                inner.publish(&st);
                inner.dispatch(&mut st);
                drop(st);
                inner.changed.notify_all();
                inner.report_gauges();
                return;
            }
            Err(e) => {
                bump(&inner.counters.open_failures);
                tracing::debug!(error = %e, attempt, "opening a pool connection failed");
                st.last_error = Some(e.to_string());
                if !inner.wants_connections(&st) {
                    st.opening -= 1;
                    return;
                }
                attempt += 1;
                let delay = inner.backoff(attempt);
                drop(st);
                drop(inner);
                may::coroutine::sleep(delay);
            }
        }
    }
}

fn maintenance_loop(weak: Weak<Inner>, interval: Duration) {
    loop {
        may::coroutine::sleep(interval);
        let Some(inner) = weak.upgrade() else { return };
        inner.maintain();
    }
}

impl Executor for Pool {
    fn __target(&self) -> Result<Target<'_>> {
        Ok(Target {
            client: std::borrow::Cow::Owned(self.pick_shared()?),
            token: None,
        })
    }
    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.0.settings.cache.as_ref()
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pool").field(&self.status()).finish()
    }
}

/// A connection checked out of a [`Pool`]; it goes back when dropped (or is discarded if it
/// broke or outlived `max_lifetime`).
pub struct PooledConnection {
    pool: Pool,
    slot: Arc<Slot>,
}

impl std::ops::Deref for PooledConnection {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.slot.client
    }
}

impl Executor for PooledConnection {
    fn __target(&self) -> Result<Target<'_>> {
        Ok(Target {
            client: std::borrow::Cow::Borrowed(&self.slot.client),
            token: None,
        })
    }
    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.pool.0.settings.cache.as_ref()
    }
}

impl std::fmt::Debug for PooledConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PooledConnection")
            .field(&self.slot.client)
            .finish()
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        self.pool.0.give_back(&self.slot);
    }
}
