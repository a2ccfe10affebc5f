//! `Model::find()`: a SELECT over the model's table with filters, order and paging.

use crate::checked::On;
use std::fmt::Write as _;

use super::{Expr, Model, Order, Param};
use crate::{Executor, Result};

/// A query over model `M`'s table, from [`Model::find`]. Nothing runs until one of
/// [`all`](Select::all), [`one`](Select::one), [`optional`](Select::optional),
/// [`count`](Select::count) or [`exists`](Select::exists) is called.
#[must_use = "a query does nothing until all/one/optional/count/exists runs it"]
pub struct Select<M> {
    filter: Option<Expr<M>>,
    pub(super) order: Vec<Order<M>>,
    pub(super) limit: Option<i64>,
    pub(super) offset: Option<i64>,
    /// Soft-deleted rows too (`with_deleted`).
    pub(super) with_deleted: bool,
    /// Keyset pagination: rows after this one in the select's order (`after`).
    pub(super) after: Option<Box<M>>,
    /// Keyset order: the key columns end the order, so it is total (`after`, `paginate`).
    pub(super) keyset: bool,
}

impl<M> std::fmt::Debug for Select<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("filter", &self.filter)
            .field("order", &self.order)
            .field("limit", &self.limit)
            .field("offset", &self.offset)
            .field("with_deleted", &self.with_deleted)
            .field("after", &self.after.is_some())
            .finish()
    }
}

impl<M: Model> Select<M> {
    pub(crate) fn new() -> Self {
        Select {
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            with_deleted: false,
            after: None,
            keyset: false,
        }
    }

    /// Keeps the rows matching `expr` (several calls combine with AND).
    pub fn filter(mut self, expr: Expr<M>) -> Self {
        self.filter = Some(match self.filter.take() {
            Some(f) => f.and(expr),
            None => expr,
        });
        self
    }

    /// Adds an `ORDER BY` term (earlier calls sort first).
    pub fn order_by(mut self, order: Order<M>) -> Self {
        self.order.push(order);
        self
    }

    /// At most `n` rows.
    pub fn limit(mut self, n: u32) -> Self {
        self.limit = Some(i64::from(n));
        self
    }

    /// Skips the first `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = Some(i64::try_from(n).unwrap_or(i64::MAX));
        self
    }

    /// Soft-deleted rows too, for a model with a `soft_delete` field (which `find`, `count`
    /// and `exists` otherwise skip); no effect on other models.
    pub fn with_deleted(mut self) -> Self {
        self.with_deleted = true;
        self
    }

    /// The statement text after `SELECT …`/`FROM`, and its parameters: the conditions
    /// (the soft-delete one, the filter, the keyset one) joined by AND, then with `paging`
    /// the order, limit and offset.
    pub(super) fn tail<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>, paging: bool) {
        let live = if self.with_deleted {
            None
        } else {
            super::soft::live::<M>("")
        };
        let keyset = paging && self.after.is_some();
        let parts =
            usize::from(live.is_some()) + usize::from(self.filter.is_some()) + usize::from(keyset);
        let mut first = true;
        let mut next = |sql: &mut String| {
            sql.push_str(if std::mem::take(&mut first) {
                " WHERE "
            } else {
                " AND "
            });
        };
        if let Some(live) = &live {
            next(sql);
            sql.push_str(live);
        }
        if let Some(f) = &self.filter {
            next(sql);
            // Parenthesized when combined: the filter may be an OR.
            if parts > 1 {
                sql.push('(');
            }
            f.render(sql, params);
            if parts > 1 {
                sql.push(')');
            }
        }
        if !paging {
            return;
        }
        let order = self.keyset_order();
        if let Some(after) = &self.after {
            next(sql);
            super::page::keyset_predicate(&**after, &order, sql, params);
        }
        for (i, o) in order.iter().enumerate() {
            sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
            sql.push_str(o.0);
            sql.push_str(o.1);
        }
        if let Some(n) = &self.limit {
            params.push(n);
            let _ = write!(sql, " LIMIT ${}", params.len());
        }
        if let Some(n) = &self.offset {
            params.push(n);
            let _ = write!(sql, " OFFSET ${}", params.len());
        }
    }

    pub(super) fn statement(&self) -> (String, Vec<Param<'_>>) {
        let mut sql = String::from(M::META.select);
        let mut params = Vec::new();
        self.tail(&mut sql, &mut params, true);
        (sql, params)
    }

    /// The SQL this query runs (for logs and tests).
    pub fn sql(&self) -> String {
        self.statement().0
    }

    /// Every matching row (see [`stream`](Select::stream) to take them one at a time).
    pub fn all(&self, exec: &(impl Executor + ?Sized)) -> Result<Vec<M>> {
        let (sql, params) = self.statement();
        On::reads(exec)
            .query_stream(sql.as_str(), &params)?
            .map(|row| row.and_then(|row| M::from_row(&row)))
            .collect()
    }

    /// Exactly one matching row; none or several is an
    /// [`ErrorKind::RowCount`](crate::ErrorKind::RowCount) error.
    pub fn one(&self, exec: &(impl Executor + ?Sized)) -> Result<M> {
        let (sql, params) = self.statement();
        M::from_row(&On::reads(exec).query_one(sql.as_str(), &params)?)
    }

    /// At most one matching row; several is an
    /// [`ErrorKind::RowCount`](crate::ErrorKind::RowCount) error.
    pub fn optional(&self, exec: &(impl Executor + ?Sized)) -> Result<Option<M>> {
        let (sql, params) = self.statement();
        On::reads(exec)
            .query_opt(sql.as_str(), &params)?
            .as_ref()
            .map(M::from_row)
            .transpose()
    }

    /// How many rows match the filter (order, limit and offset are ignored).
    pub fn count(&self, exec: &(impl Executor + ?Sized)) -> Result<i64> {
        let mut sql = format!("SELECT count(*) FROM {}", M::META.table);
        let mut params = Vec::new();
        self.tail(&mut sql, &mut params, false);
        On::reads(exec).query_one(sql.as_str(), &params)?.try_get(0)
    }

    /// Whether any row matches the filter.
    pub fn exists(&self, exec: &(impl Executor + ?Sized)) -> Result<bool> {
        let mut sql = format!("SELECT EXISTS (SELECT 1 FROM {}", M::META.table);
        let mut params = Vec::new();
        self.tail(&mut sql, &mut params, false);
        sql.push(')');
        On::reads(exec).query_one(sql.as_str(), &params)?.try_get(0)
    }
}
