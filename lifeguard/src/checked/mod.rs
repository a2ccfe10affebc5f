//! What the checked-SQL macros (`query!`, `query_as!`, `query_scalar!`, …) expand to: a
//! [`Query`] holding the statement text, the borrowed arguments and a row-mapping function
//! generated from the statement's description.

pub(crate) mod args;
pub(crate) mod compat;

use crate::driver::executor::{StaticSql, Target};
use crate::{Executor, PendingQuery, Result, Row, RowStream};

pub use args::Args;

/// A statement checked at compile time, ready to run on a [`Pool`](crate::Pool), a
/// [`Client`](crate::Client), a [`PooledConnection`](crate::PooledConnection) or a
/// [`Transaction`](crate::Transaction). Built by the macros; `O` is the row type.
#[must_use = "a query does nothing until one of its fetch methods or `execute` runs it"]
pub struct Query<A, F> {
    sql: &'static str,
    args: A,
    map: F,
    /// Set by the macros for a statement that only reads: it runs where the executor sends
    /// reads (a router's replica).
    reads_only: bool,
}

/// The executor a query runs on, with reads sent where the executor sends reads.
pub(crate) struct On<'e, E: ?Sized> {
    executor: &'e E,
    reads_only: bool,
}

impl<'e, E: ?Sized> On<'e, E> {
    /// `executor`, with every statement sent where it sends reads (the model layer's
    /// selects, which only read).
    pub(crate) fn reads(executor: &'e E) -> On<'e, E> {
        On {
            executor,
            reads_only: true,
        }
    }
}

impl<E: Executor + ?Sized> Executor for On<'_, E> {
    fn __target(&self) -> Result<Target<'_>> {
        if self.reads_only {
            self.executor.__target_read()
        } else {
            self.executor.__target()
        }
    }
    fn __cache(&self) -> Option<&crate::cache::Cache> {
        self.executor.__cache()
    }
    fn __in_transaction(&self) -> bool {
        self.executor.__in_transaction()
    }
    fn __after_commit(&self, f: Box<dyn FnOnce() + Send>) {
        self.executor.__after_commit(f)
    }
}

impl<A, F, O> Query<A, F>
where
    A: Args,
    F: Fn(&Row) -> Result<O>,
{
    #[doc(hidden)]
    pub fn __new(sql: &'static str, args: A, map: F) -> Query<A, F> {
        Query {
            sql,
            args,
            map,
            reads_only: false,
        }
    }

    #[doc(hidden)]
    pub fn __reads_only(mut self) -> Query<A, F> {
        self.reads_only = true;
        self
    }

    /// Whether the statement only reads (decided at build time from its parse tree): a
    /// [`Router`](crate::Router) runs such a query on a replica.
    pub fn is_read_only(&self) -> bool {
        self.reads_only
    }

    fn on<'e, E: Executor + ?Sized>(&self, executor: &'e E) -> On<'e, E> {
        On {
            executor,
            reads_only: self.reads_only,
        }
    }

    /// The SQL text.
    pub fn sql(&self) -> &'static str {
        self.sql
    }

    /// The text as a statement key: the connection's cache finds it by the literal's
    /// address, without hashing the text.
    fn key(&self) -> StaticSql {
        StaticSql(self.sql)
    }

    fn stream(&self, executor: &(impl Executor + ?Sized)) -> Result<RowStream> {
        self.args
            .with_params(|params| self.on(executor).query_stream(&self.key(), params))
    }

    /// Runs the query; it must return exactly one row.
    pub fn fetch_one(self, executor: &(impl Executor + ?Sized)) -> Result<O> {
        let row = self
            .args
            .with_params(|params| self.on(executor).query_one(&self.key(), params))?;
        (self.map)(&row)
    }

    /// Runs the query; it must return at most one row.
    pub fn fetch_optional(self, executor: &(impl Executor + ?Sized)) -> Result<Option<O>> {
        let row = self
            .args
            .with_params(|params| self.on(executor).query_opt(&self.key(), params))?;
        row.as_ref().map(&self.map).transpose()
    }

    /// Writes the query now and returns a handle that reads its results later, so one
    /// caller can have many queries in flight before reading any (pipelined: on a pool each
    /// goes to a shared connection, none is checked out). The arguments are encoded here,
    /// so the handle borrows nothing.
    ///
    /// ```no_run
    /// # use lifeguard::{query_scalar, Pool};
    /// # let pool = Pool::builder("postgres://app@127.0.0.1/app").build()?;
    /// let pending = (1..=20)
    ///     .map(|id: i32| query_scalar!("SELECT title FROM film WHERE film_id = $1", id).send(&pool))
    ///     .collect::<lifeguard::Result<Vec<_>>>()?;
    /// let titles: Vec<String> = pending.into_iter().map(|p| p.one()).collect::<Result<_, _>>()?;
    /// # Ok::<(), lifeguard::Error>(())
    /// ```
    pub fn send(self, executor: &(impl Executor + ?Sized)) -> Result<Pending<F>> {
        let query = self
            .args
            .with_params(|params| self.on(executor).send(&self.key(), params))?;
        Ok(Pending {
            query,
            map: self.map,
        })
    }

    /// Runs the query and collects every row.
    pub fn fetch_all(self, executor: &(impl Executor + ?Sized)) -> Result<Vec<O>> {
        self.stream(executor)?
            .map(|row| row.and_then(|row| (self.map)(&row)))
            .collect()
    }

    /// Runs the query and yields rows as they arrive. Dropping the iterator early is fine.
    pub fn fetch(self, executor: &(impl Executor + ?Sized)) -> Fetch<F> {
        let state = match self.stream(executor) {
            Ok(rows) => FetchState::Rows(rows),
            Err(e) => FetchState::Failed(e),
        };
        Fetch {
            state,
            map: self.map,
        }
    }

    /// Runs the statement and returns the number of rows it affected.
    pub fn execute(self, executor: &(impl Executor + ?Sized)) -> Result<u64> {
        self.args
            .with_params(|params| self.on(executor).execute(&self.key(), params))
    }
}

/// A checked query already written to the connection ([`Query::send`]); its results are
/// read, and mapped to the macro's row type, when one of these methods is called. Dropping
/// it unread is fine: the connection discards the rest of its answer.
#[must_use = "the query runs regardless; read its result with `one`, `opt`, `all` or `affected`"]
pub struct Pending<F> {
    query: PendingQuery,
    map: F,
}

impl<F, O> Pending<F>
where
    F: Fn(&Row) -> Result<O>,
{
    /// Waits for the one row the query must return (a [`RowCount`](crate::ErrorKind::RowCount)
    /// error for none or several).
    pub fn one(self) -> Result<O> {
        (self.map)(&self.query.one()?)
    }

    /// Waits for the row the query returns, if any (an error for several).
    pub fn opt(self) -> Result<Option<O>> {
        self.query.opt()?.as_ref().map(&self.map).transpose()
    }

    /// Waits for and maps every row.
    pub fn all(self) -> Result<Vec<O>> {
        let map = self.map;
        self.query
            .stream()
            .map(|row| row.and_then(|row| map(&row)))
            .collect()
    }

    /// Waits for completion and returns the number of rows affected.
    pub fn affected(self) -> Result<u64> {
        self.query.affected()
    }
}

/// Row-by-row results of [`Query::fetch`]: an iterator of `Result<O>`. A failure to start
/// the query comes out as the first item.
pub struct Fetch<F> {
    state: FetchState,
    map: F,
}

enum FetchState {
    Rows(RowStream),
    Failed(crate::Error),
    Done,
}

impl<F, O> Iterator for Fetch<F>
where
    F: Fn(&Row) -> Result<O>,
{
    type Item = Result<O>;

    fn next(&mut self) -> Option<Result<O>> {
        match std::mem::replace(&mut self.state, FetchState::Done) {
            FetchState::Rows(mut rows) => {
                let item = rows.next()?;
                self.state = FetchState::Rows(rows);
                Some(item.and_then(|row| (self.map)(&row)))
            }
            FetchState::Failed(e) => Some(Err(e)),
            FetchState::Done => None,
        }
    }
}
