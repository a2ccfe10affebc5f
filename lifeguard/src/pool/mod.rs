//! A bounded pool of pipelined connections.
//!
//! Plain queries are spread over the pool's connections and pipelined (many callers share a
//! connection); `get` and `transaction` check a connection out exclusively. A semaphore of
//! `max_size` permits bounds exclusive checkouts, and the pool never opens more than
//! `max_size` connections. Every wait is bounded by the acquire timeout (on by default).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use may::sync::{Condvar, Mutex, Semphore};

use crate::driver::client::Client;
use crate::driver::config::Config;
use crate::driver::executor::{Executor, Target};
use crate::driver::transaction::{Transaction, TransactionBuilder};
use crate::error::{Error, ErrorKind, Result};

struct Entry {
    client: Client,
    exclusive: bool,
}

struct State {
    entries: Vec<Entry>,
    /// Connections being opened (counted against `max_size`).
    opening: usize,
}

struct Inner {
    config: Config,
    max_size: usize,
    acquire_timeout: Duration,
    permits: Semphore,
    state: Mutex<State>,
    changed: Condvar,
}

/// A pool of connections. Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Pool(Arc<Inner>);

/// Configures a [`Pool`].
pub struct PoolBuilder {
    config: Result<Config>,
    max_size: usize,
    min_size: usize,
    acquire_timeout: Duration,
}

/// Where a pool's configuration comes from.
pub trait IntoConfig {
    #[doc(hidden)]
    fn __into_config(self) -> Result<Config>;
}
impl IntoConfig for &str {
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

impl PoolBuilder {
    /// At most this many connections (default 10).
    pub fn max_size(mut self, n: usize) -> Self {
        self.max_size = n;
        self
    }
    /// Open this many connections up front, in `build` (default 0: open on demand).
    pub fn min_size(mut self, n: usize) -> Self {
        self.min_size = n;
        self
    }
    /// How long `get`, `transaction` and queries wait for a connection (default 30 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }
    /// Creates the pool, opening `min_size` connections.
    pub fn build(self) -> Result<Pool> {
        let config = self.config?;
        if self.max_size == 0 {
            return Err(Error::config("pool max_size must be at least 1"));
        }
        let pool = Pool(Arc::new(Inner {
            config,
            max_size: self.max_size,
            acquire_timeout: self.acquire_timeout,
            permits: Semphore::new(self.max_size),
            state: Mutex::new(State {
                entries: Vec::new(),
                opening: 0,
            }),
            changed: Condvar::new(),
        }));
        for _ in 0..self.min_size.min(self.max_size) {
            let client = Client::connect_with(&pool.0.config)?;
            pool.lock().entries.push(Entry {
                client,
                exclusive: false,
            });
        }
        Ok(pool)
    }
}

/// A snapshot of the pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Open connections.
    pub size: usize,
    /// The bound.
    pub max_size: usize,
    /// Connections checked out exclusively.
    pub in_use: usize,
}

impl Pool {
    /// Starts configuring a pool for a URL or a [`Config`].
    pub fn builder(config: impl IntoConfig) -> PoolBuilder {
        PoolBuilder {
            config: config.__into_config(),
            max_size: 10,
            min_size: 0,
            acquire_timeout: Duration::from_secs(30),
        }
    }

    fn lock(&self) -> may::sync::MutexGuard<'_, State> {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn timeout_error(&self, what: &str) -> Error {
        Error::new(
            ErrorKind::PoolTimeout,
            format!(
                "{what}: no connection available within {:?} (max_size {})",
                self.0.acquire_timeout, self.0.max_size
            ),
            None,
        )
    }

    /// Picks a connection for a pipelined query (or, with `exclusive`, checks one out).
    fn pick(&self, exclusive: bool, deadline: Instant) -> Result<Client> {
        let mut st = self.lock();
        loop {
            // Dead connections leave the pool here; their users already got errors.
            st.entries.retain(|e| e.exclusive || !e.client.is_broken());
            let best = st
                .entries
                .iter_mut()
                .filter(|e| !e.exclusive)
                .min_by_key(|e| e.client.in_flight());
            let load = best.as_ref().map(|e| e.client.in_flight());
            let room = st.entries.len() + st.opening < self.0.max_size;
            // Open another connection while every existing one is busy and there is room.
            if room && load.is_none_or(|l| l > 0) {
                st.opening += 1;
                drop(st);
                let res = Client::connect_with(&self.0.config);
                st = self.lock();
                st.opening -= 1;
                match res {
                    Ok(client) => {
                        st.entries.push(Entry {
                            client: client.clone(),
                            exclusive,
                        });
                        drop(st);
                        self.0.changed.notify_all();
                        return Ok(client);
                    }
                    Err(e) => {
                        drop(st);
                        self.0.changed.notify_all();
                        return Err(e.context("opening a pool connection"));
                    }
                }
            }
            if let Some(entry) = st
                .entries
                .iter_mut()
                .filter(|e| !e.exclusive)
                .min_by_key(|e| e.client.in_flight())
            {
                entry.exclusive = exclusive;
                return Ok(entry.client.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.timeout_error("acquiring a connection"));
            }
            st = self
                .0
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Checks a connection out exclusively until the returned guard is dropped.
    pub fn get(&self) -> Result<PooledConnection> {
        let deadline = Instant::now() + self.0.acquire_timeout;
        if !self.0.permits.wait_timeout(self.0.acquire_timeout) {
            return Err(self.timeout_error("checking out a connection"));
        }
        match self.pick(true, deadline) {
            Ok(client) => Ok(PooledConnection {
                pool: self.clone(),
                client,
            }),
            Err(e) => {
                self.0.permits.post();
                Err(e)
            }
        }
    }

    /// Begins a transaction on an exclusively checked-out connection.
    pub fn transaction(&self) -> Result<Transaction<'static>> {
        self.build_transaction()?.start()
    }

    /// Begins a transaction with options on an exclusively checked-out connection.
    pub fn build_transaction(&self) -> Result<TransactionBuilder<'static>> {
        let conn = self.get()?;
        Ok(TransactionBuilder::new(conn.client.clone(), Some(conn)))
    }

    /// The pool's current size and use.
    pub fn status(&self) -> PoolStatus {
        let st = self.lock();
        PoolStatus {
            size: st.entries.len(),
            max_size: self.0.max_size,
            in_use: st.entries.iter().filter(|e| e.exclusive).count(),
        }
    }

    fn give_back(&self, client: &Client) {
        let mut st = self.lock();
        if let Some(i) = st
            .entries
            .iter()
            .position(|e| e.client.same_connection(client))
        {
            if client.is_broken() {
                st.entries.swap_remove(i);
            } else {
                st.entries[i].exclusive = false;
            }
        }
        drop(st);
        self.0.permits.post();
        self.0.changed.notify_all();
    }
}

impl Executor for Pool {
    fn __target(&self) -> Result<Target<'_>> {
        let client = self.pick(false, Instant::now() + self.0.acquire_timeout)?;
        Ok(Target {
            client: Cow::Owned(client),
            token: None,
        })
    }
}

/// A connection checked out of a [`Pool`]; it goes back when dropped (or is discarded if it
/// broke).
pub struct PooledConnection {
    pool: Pool,
    client: Client,
}

impl std::ops::Deref for PooledConnection {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Executor for PooledConnection {
    fn __target(&self) -> Result<Target<'_>> {
        Ok(Target {
            client: Cow::Borrowed(&self.client),
            token: None,
        })
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        self.pool.give_back(&self.client);
    }
}
