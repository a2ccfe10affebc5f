//! Transactions and savepoints.

use std::borrow::Cow;
use std::marker::PhantomData;

use crate::driver::client::Client;
use crate::driver::conn::{Responder, Token};
use crate::driver::copy::{CopyInWriter, CopyOutReader};
use crate::driver::executor::{Executor, Target};
use crate::driver::query;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::PooledConnection;

/// Work to run after the outermost commit (cache invalidations), shared with savepoints.
type Deferred = std::sync::Arc<std::sync::Mutex<Vec<Box<dyn FnOnce() + Send>>>>;

/// Transaction isolation levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    /// `READ UNCOMMITTED` (behaves as READ COMMITTED in PostgreSQL).
    ReadUncommitted,
    /// `READ COMMITTED`
    ReadCommitted,
    /// `REPEATABLE READ`
    RepeatableRead,
    /// `SERIALIZABLE`
    Serializable,
}

/// Options for a new transaction.
pub struct TransactionBuilder<'a> {
    client: Client,
    pooled: Option<PooledConnection>,
    isolation: Option<IsolationLevel>,
    read_only: Option<bool>,
    deferrable: Option<bool>,
    _borrow: PhantomData<&'a Client>,
}

impl<'a> TransactionBuilder<'a> {
    pub(crate) fn new(client: Client, pooled: Option<PooledConnection>) -> TransactionBuilder<'a> {
        TransactionBuilder {
            client,
            pooled,
            isolation: None,
            read_only: None,
            deferrable: None,
            _borrow: PhantomData,
        }
    }
    /// Sets the isolation level.
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }
    /// Makes the transaction `READ ONLY` (or explicitly `READ WRITE`).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = Some(read_only);
        self
    }
    /// Makes the transaction `DEFERRABLE` (meaningful for serializable read-only ones).
    pub fn deferrable(mut self, deferrable: bool) -> Self {
        self.deferrable = Some(deferrable);
        self
    }

    fn begin_sql(&self) -> String {
        let mut sql = String::from("BEGIN");
        let mut modes = Vec::new();
        if let Some(level) = self.isolation {
            modes.push(match level {
                IsolationLevel::ReadUncommitted => "ISOLATION LEVEL READ UNCOMMITTED",
                IsolationLevel::ReadCommitted => "ISOLATION LEVEL READ COMMITTED",
                IsolationLevel::RepeatableRead => "ISOLATION LEVEL REPEATABLE READ",
                IsolationLevel::Serializable => "ISOLATION LEVEL SERIALIZABLE",
            });
        }
        match self.read_only {
            Some(true) => modes.push("READ ONLY"),
            Some(false) => modes.push("READ WRITE"),
            None => {}
        }
        match self.deferrable {
            Some(true) => modes.push("DEFERRABLE"),
            Some(false) => modes.push("NOT DEFERRABLE"),
            None => {}
        }
        if !modes.is_empty() {
            sql.push(' ');
            sql.push_str(&modes.join(", "));
        }
        sql
    }

    /// Takes the connection exclusively and sends `BEGIN`.
    pub fn start(self) -> Result<Transaction<'a>> {
        let sql = self.begin_sql();
        let conn = &self.client.conn;
        let token = conn.acquire_exclusive(conn.config.query_timeout)?;
        if let Err(e) = query::simple(conn, Some(token), &sql) {
            conn.release_exclusive(token);
            return Err(e);
        }
        let cache = self.pooled.as_ref().and_then(|p| p.__cache().cloned());
        Ok(Transaction {
            client: self.client,
            token,
            savepoint: None,
            owns_gate: true,
            done: false,
            cache,
            deferred: Deferred::default(),
            _pooled: self.pooled,
            _borrow: PhantomData,
        })
    }
}

/// A connection held exclusively outside any transaction, for work that spans several
/// transactions on one session (the migration runner: its advisory lock belongs to the
/// session, and other handles' queries must not run between its statements). The gate
/// opens when it is dropped.
pub(crate) struct Session {
    client: Client,
    token: Token,
}

impl Session {
    /// Waits (without a deadline: like a lock, for as long as the current holder needs) for
    /// the connection's exclusive gate.
    pub(crate) fn begin(client: &Client) -> Result<Session> {
        let token = client.conn.acquire_exclusive(None)?;
        Ok(Session {
            client: client.clone(),
            token,
        })
    }

    /// Begins a transaction on this session; the gate stays with the session.
    pub(crate) fn transaction(&self) -> Result<Transaction<'_>> {
        query::simple(&self.client.conn, Some(self.token), "BEGIN")?;
        Ok(Transaction {
            client: self.client.clone(),
            token: self.token,
            savepoint: None,
            owns_gate: false,
            done: false,
            cache: None,
            deferred: Deferred::default(),
            _pooled: None,
            _borrow: PhantomData,
        })
    }

    /// The connection.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.client.conn.release_exclusive(self.token);
    }
}

impl Executor for Session {
    fn __target(&self) -> Result<Target<'_>> {
        Ok(Target {
            client: Cow::Borrowed(&self.client),
            token: Some(self.token),
        })
    }
}

/// An open transaction (or savepoint). Dropping it without `commit` rolls it back.
/// While it lives, its connection runs nothing else.
pub struct Transaction<'a> {
    client: Client,
    token: Token,
    savepoint: Option<String>,
    // False for savepoints and for transactions of a `Session`, whose gate outlives them.
    owns_gate: bool,
    done: bool,
    /// The pool's cache, for model writes' invalidations.
    cache: Option<crate::cache::Cache>,
    /// Run after the outermost COMMIT; a rollback drops them.
    deferred: Deferred,
    // Keeps a pooled connection checked out until the transaction is over; dropped after
    // `Drop::drop` has rolled back and released the gate.
    _pooled: Option<PooledConnection>,
    _borrow: PhantomData<&'a mut ()>,
}

impl<'a> Transaction<'a> {
    /// Commits (or releases the savepoint). Fails if the server rolled the transaction back
    /// instead, which it does when an earlier statement in it failed.
    pub fn commit(mut self) -> Result<()> {
        self.done = true;
        let sql = match &self.savepoint {
            Some(name) => format!("RELEASE SAVEPOINT {name}"),
            None => "COMMIT".to_string(),
        };
        let tags = query::simple(&self.client.conn, Some(self.token), &sql)?;
        if tags.iter().any(|t| t == "ROLLBACK") {
            return Err(Error::new(
                ErrorKind::Db,
                "COMMIT rolled the transaction back because an earlier statement in it failed",
                None,
            ));
        }
        if self.savepoint.is_none() {
            let work =
                std::mem::take(&mut *self.deferred.lock().unwrap_or_else(|e| e.into_inner()));
            for f in work {
                f();
            }
        }
        Ok(())
    }

    /// Rolls back (to the savepoint, for a nested transaction).
    pub fn rollback(mut self) -> Result<()> {
        self.done = true;
        let sql = match &self.savepoint {
            Some(name) => format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
            None => "ROLLBACK".to_string(),
        };
        query::simple(&self.client.conn, Some(self.token), &sql).map(|_| ())
    }

    /// Opens a savepoint with the given name: a nested transaction.
    pub fn savepoint(&mut self, name: &str) -> Result<Transaction<'_>> {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        query::simple(
            &self.client.conn,
            Some(self.token),
            &format!("SAVEPOINT {quoted}"),
        )?;
        Ok(Transaction {
            client: self.client.clone(),
            token: self.token,
            savepoint: Some(quoted),
            owns_gate: false,
            done: false,
            cache: self.cache.clone(),
            deferred: self.deferred.clone(),
            _pooled: None,
            _borrow: PhantomData,
        })
    }

    /// Opens a nested transaction with a generated savepoint name.
    pub fn transaction(&mut self) -> Result<Transaction<'_>> {
        let name = format!("lg_sp_{}", self.client.conn.next_id());
        self.savepoint(&name)
    }

    /// `COPY … FROM STDIN` inside this transaction.
    pub fn copy_in(&self, sql: &str) -> Result<CopyInWriter<'_>> {
        CopyInWriter::start(self.client.conn.clone(), Some(self.token), sql)
    }

    /// `COPY … TO STDOUT` inside this transaction.
    pub fn copy_out(&self, sql: &str) -> Result<CopyOutReader> {
        CopyOutReader::start(self.client.conn.clone(), Some(self.token), sql)
    }

    /// The client this transaction runs on.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if !self.done {
            let sql = match &self.savepoint {
                Some(name) => format!("ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}"),
                None => "ROLLBACK".to_string(),
            };
            // Queued before the gate opens, so nothing else can slip in first; nobody waits
            // for the answer.
            let _ =
                self.client
                    .conn
                    .send(Some(self.token), false, Some(Responder::Discard), |buf| {
                        postgres_protocol::message::frontend::query(&sql, buf)
                            .map_err(|e| Error::io("encoding ROLLBACK", e))
                    });
        }
        if self.owns_gate {
            self.client.conn.release_exclusive(self.token);
        }
    }
}

impl Executor for Transaction<'_> {
    fn __target(&self) -> Result<Target<'_>> {
        Ok(Target {
            client: Cow::Borrowed(&self.client),
            token: Some(self.token),
        })
    }
    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.cache.as_ref()
    }
    fn __in_transaction(&self) -> bool {
        true
    }
    fn __after_commit(&self, f: Box<dyn FnOnce() + Send>) {
        self.deferred
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(f);
    }
}
