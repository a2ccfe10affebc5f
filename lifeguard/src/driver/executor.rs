//! The query methods shared by clients, transactions and pools.

use crate::driver::client::Client;
use crate::driver::conn::Token;
use crate::driver::query::{self, Params, PendingQuery, RowStream};
use crate::driver::row::Row;
use crate::driver::statement::Statement;
use crate::error::Result;
use crate::observe::query::QueryObserver;
use std::borrow::Cow;

/// Where a query runs: a connection, and the gate token if inside a transaction.
#[doc(hidden)]
pub struct Target<'a> {
    pub(crate) client: Cow<'a, Client>,
    pub(crate) token: Option<Token>,
}

mod sealed {
    pub trait Sealed {}
}

/// SQL text or a prepared [`Statement`].
pub trait ToStatement: sealed::Sealed {
    #[doc(hidden)]
    fn __statement(&self, client: &Client, token: Option<u64>) -> Result<Statement>;
    /// The SQL text, when known (for tracing's `db.query.text`).
    #[doc(hidden)]
    fn __sql(&self) -> Option<&str> {
        None
    }
}

impl sealed::Sealed for str {}
impl ToStatement for str {
    fn __sql(&self) -> Option<&str> {
        Some(self)
    }
    /// Looks the text up in the connection's statement cache, preparing it on a miss.
    fn __statement(&self, client: &Client, token: Option<u64>) -> Result<Statement> {
        let conn = &client.conn;
        if let Some(s) = conn.statements.get(self) {
            return Ok(s);
        }
        let s = query::prepare(conn, token, self)?;
        conn.statements.insert(self, s.clone());
        Ok(s)
    }
}

/// SQL text that lives for the whole program (the checked macros' literals): cached by its
/// address, so a steady-state lookup neither hashes nor compares the text.
pub(crate) struct StaticSql(pub(crate) &'static str);

impl sealed::Sealed for StaticSql {}
impl ToStatement for StaticSql {
    fn __sql(&self) -> Option<&str> {
        Some(self.0)
    }
    fn __statement(&self, client: &Client, token: Option<u64>) -> Result<Statement> {
        let conn = &client.conn;
        if let Some(s) = conn.statements.get_static(self.0) {
            return Ok(s);
        }
        let s = query::prepare(conn, token, self.0)?;
        conn.statements.insert_static(self.0, s.clone());
        Ok(s)
    }
}

impl sealed::Sealed for String {}
impl ToStatement for String {
    fn __sql(&self) -> Option<&str> {
        Some(self)
    }
    fn __statement(&self, client: &Client, token: Option<u64>) -> Result<Statement> {
        self.as_str().__statement(client, token)
    }
}

impl sealed::Sealed for Statement {}
impl ToStatement for Statement {
    fn __statement(&self, _: &Client, _: Option<u64>) -> Result<Statement> {
        Ok(self.clone())
    }
}

/// Runs queries. Implemented by [`Client`], [`Transaction`](crate::Transaction),
/// [`Pool`](crate::Pool) and [`PooledConnection`](crate::PooledConnection), so code can
/// take `&impl Executor` and run on any of them.
pub trait Executor {
    #[doc(hidden)]
    fn __target(&self) -> Result<Target<'_>>;

    /// Where a statement known to only read runs (the checked macros decide that at build
    /// time). A [`Router`](crate::Router) sends it to a replica; everything else runs it
    /// like any other statement.
    #[doc(hidden)]
    fn __target_read(&self) -> Result<Target<'_>> {
        self.__target()
    }

    /// The Redis cache models read through (a pool's or router's `.cache(..)`).
    #[doc(hidden)]
    fn __cache(&self) -> Option<&crate::cache::Cache> {
        None
    }

    /// Inside a transaction: model reads skip the cache (they must see the transaction's
    /// own writes and snapshot), and cache invalidations wait for the commit.
    #[doc(hidden)]
    fn __in_transaction(&self) -> bool {
        false
    }

    /// Runs `f` once what this executor wrote is committed: now, outside a transaction;
    /// after the outermost `COMMIT` inside one (dropped on rollback).
    #[doc(hidden)]
    fn __after_commit(&self, f: Box<dyn FnOnce() + Send>) {
        f()
    }

    /// Runs a statement and returns all rows.
    fn query<S: ?Sized + ToStatement>(&self, stmt: &S, params: Params<'_>) -> Result<Vec<Row>> {
        self.query_stream(stmt, params)?.collect()
    }

    /// Runs a statement that must return exactly one row.
    fn query_one<S: ?Sized + ToStatement>(&self, stmt: &S, params: Params<'_>) -> Result<Row> {
        self.query_stream(stmt, params)?.one()
    }

    /// Runs a statement that returns at most one row.
    fn query_opt<S: ?Sized + ToStatement>(
        &self,
        stmt: &S,
        params: Params<'_>,
    ) -> Result<Option<Row>> {
        self.query_stream(stmt, params)?.opt()
    }

    /// Runs a statement and returns the number of rows it affected.
    fn execute<S: ?Sized + ToStatement>(&self, stmt: &S, params: Params<'_>) -> Result<u64> {
        let mut rows = self.query_stream(stmt, params)?;
        for r in rows.by_ref() {
            r?;
        }
        Ok(rows.rows_affected().unwrap_or(0))
    }

    /// Runs a statement and streams its rows as they arrive.
    fn query_stream<S: ?Sized + ToStatement>(
        &self,
        stmt: &S,
        params: Params<'_>,
    ) -> Result<RowStream> {
        let target = self.__target()?;
        let conn = &target.client.conn;
        let mut observer = QueryObserver::start(stmt.__sql(), &conn.config.dbname);
        let sent = stmt
            .__statement(&target.client, target.token)
            .and_then(|stmt| Ok((query::start(conn, target.token, &stmt, params)?, stmt)));
        match sent {
            Ok((resp, stmt)) => Ok(RowStream::new(resp, stmt, observer)),
            Err(e) => {
                observer.finish(false);
                Err(e)
            }
        }
    }

    /// Writes a query now and returns a handle to read its results later, so one caller
    /// can keep several queries in flight before reading any (on a pool, each may go to a
    /// different connection; on a transaction, they pipeline inside it).
    ///
    /// ```no_run
    /// # use lifeguard::{Executor, Pool};
    /// # let pool = Pool::builder("postgres://app@127.0.0.1/app").build()?;
    /// let pending: Vec<_> = (1..=20i32)
    ///     .map(|id| pool.send("SELECT title FROM film WHERE film_id = $1", &[&id]))
    ///     .collect::<Result<_, _>>()?;
    /// for p in pending {
    ///     let title: String = p.one()?.get(0);
    /// }
    /// # Ok::<(), lifeguard::Error>(())
    /// ```
    fn send<S: ?Sized + ToStatement>(&self, stmt: &S, params: Params<'_>) -> Result<PendingQuery> {
        Ok(PendingQuery::from_stream(self.query_stream(stmt, params)?))
    }

    /// Runs one or more `;`-separated statements with the simple protocol (no parameters,
    /// no results).
    fn batch_execute(&self, sql: &str) -> Result<()> {
        let target = self.__target()?;
        query::simple(&target.client.conn, target.token, sql).map(|_| ())
    }

    /// Prepares a statement (through the connection's statement cache).
    fn prepare(&self, sql: &str) -> Result<Statement> {
        let target = self.__target()?;
        sql.__statement(&target.client, target.token)
    }
}
