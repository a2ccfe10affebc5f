//! `Client`: a handle on one connection, shared by as many coroutines as you like.

use std::borrow::Cow;
use std::sync::Arc;

use crate::driver::cancel::CancelToken;
use crate::driver::config::Config;
use crate::driver::conn::Conn;
use crate::driver::copy::{CopyInWriter, CopyOutReader};
use crate::driver::executor::{Executor, Target};
use crate::driver::notify::Notifications;
use crate::driver::transaction::{Transaction, TransactionBuilder};
use crate::error::Result;

/// A connection to PostgreSQL. `Clone` gives another handle on the *same* connection; all
/// handles pipeline their queries over it. The connection closes when the last handle (and
/// the last statement, stream or notification handle using it) is dropped.
#[derive(Clone)]
pub struct Client {
    pub(crate) conn: Arc<Conn>,
}

impl Client {
    /// Connects using a `postgres://` URL (see [`Config::from_url`]).
    pub fn connect(url: &str) -> Result<Client> {
        Client::connect_with(&url.parse()?)
    }

    /// Connects using a prepared configuration.
    pub fn connect_with(config: &Config) -> Result<Client> {
        let conn = crate::driver::connect::connect(&Arc::new(config.clone()))?;
        Ok(Client { conn })
    }

    /// Begins a transaction with the server's defaults. The transaction holds the connection
    /// exclusively: other handles' queries wait until it commits or rolls back.
    pub fn transaction(&self) -> Result<Transaction<'_>> {
        self.build_transaction().start()
    }

    /// Begins a transaction with options (isolation level, read-only, deferrable).
    pub fn build_transaction(&self) -> TransactionBuilder<'_> {
        TransactionBuilder::new(self.clone(), None)
    }

    /// Starts `COPY … FROM STDIN`; write the data, then call `finish`. The connection is held
    /// exclusively while the copy runs.
    pub fn copy_in(&self, sql: &str) -> Result<CopyInWriter<'_>> {
        CopyInWriter::start(self.conn.clone(), None, sql)
    }

    /// Starts `COPY … TO STDOUT` and streams its data.
    pub fn copy_out(&self, sql: &str) -> Result<CopyOutReader> {
        CopyOutReader::start(self.conn.clone(), None, sql)
    }

    /// The notifications delivered to this connection (after `LISTEN`).
    pub fn notifications(&self) -> Notifications {
        Notifications {
            conn: self.conn.clone(),
        }
    }

    /// A token that can cancel the query this connection is running, from anywhere.
    pub fn cancel_token(&self) -> CancelToken {
        self.conn.cancel.clone()
    }

    /// True once the connection is closed; every query on it will fail.
    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// The server process id of this connection.
    pub fn backend_pid(&self) -> i32 {
        self.conn.cancel.process_id()
    }

    /// A server parameter as last reported (e.g. `server_version`, `TimeZone`).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.conn.parameter(name)
    }

    /// How this connection's pipelined reads shared `Sync`s (see
    /// [`PoolBuilder::share_sync`](crate::PoolBuilder::share_sync)).
    pub fn sync_stats(&self) -> crate::SyncStats {
        self.conn.sync_stats()
    }

    /// Number of statements in this connection's cache.
    pub fn cached_statements(&self) -> usize {
        self.conn.statements.len()
    }

    /// The `may` worker thread (`0..may::config().get_workers()`) that polls this
    /// connection's socket: its reader runs there and wakes its callers there. Connections
    /// are spread over the workers as they open; a caller on this worker saves two thread
    /// crossings per query (the pool's [`worker_affine`](crate::PoolBuilder::worker_affine)
    /// pick uses it).
    pub fn reader_worker(&self) -> usize {
        self.conn.reader_worker()
    }

    /// Queries written and not yet fully answered.
    pub fn in_flight(&self) -> usize {
        self.conn.inflight()
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.conn.is_broken()
    }
}

impl Executor for Client {
    fn __target(&self) -> Result<Target<'_>> {
        Ok(Target {
            client: Cow::Borrowed(self),
            token: None,
        })
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("backend_pid", &self.backend_pid())
            .field("closed", &self.is_closed())
            .finish()
    }
}
