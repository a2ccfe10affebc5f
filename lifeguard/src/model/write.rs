//! The dynamic writes: update by change set, bulk insert, update/delete by filter.

use std::fmt::Write as _;

use super::expr::Value;
use super::{Column, Expr, Model, Nullable, Param};
use crate::{Error, ErrorKind, Executor, Result, ToSql};

/// The most parameters one statement may carry (the protocol counts them in an `i16`…
/// unsigned: 65 535).
const MAX_PARAMS: usize = 65_535;

/// A set of column assignments for [`Model::update`] and [`Model::update_many`]: only the
/// columns set here are written, so an empty change set writes nothing.
pub struct Changes<M> {
    sets: Vec<(&'static str, Value)>,
    _marker: std::marker::PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for Changes<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.sets.iter().map(|(c, _)| c))
            .finish()
    }
}

impl<M> Default for Changes<M> {
    fn default() -> Self {
        Changes {
            sets: Vec::new(),
            _marker: std::marker::PhantomData,
        }
    }
}

impl<M> Changes<M> {
    /// No changes yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, column: &'static str, value: Value) {
        // Setting a column twice keeps the last value (one assignment per column in SQL).
        self.sets.retain(|(c, _)| *c != column);
        self.sets.push((column, value));
    }

    /// Sets `column` to `value` (typed by the column, like the filters).
    pub fn set<T, N>(mut self, column: Column<M, T, N>, value: impl Into<T>) -> Self
    where
        T: ToSql + Sync + Send + 'static,
    {
        self.push(column.name(), Box::new(value.into()));
        self
    }

    /// Sets a nullable column to NULL.
    pub fn set_null<T>(mut self, column: Column<M, T, Nullable>) -> Self
    where
        T: ToSql + Sync + Send + 'static,
    {
        self.push(column.name(), Box::new(None::<T>));
        self
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self.sets.is_empty()
    }

    /// `SET a = $1, b = $2` into `sql`, values into `params`.
    fn render<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        for (i, (col, value)) in self.sets.iter().enumerate() {
            params.push(&**value as Param<'a>);
            let _ = write!(
                sql,
                "{}{col} = ${}",
                if i == 0 { " SET " } else { ", " },
                params.len()
            );
        }
    }
}

/// The error for an update or delete whose row is gone.
pub(crate) fn not_found<M: Model>(what: &'static str) -> Error {
    Error::new(
        ErrorKind::NotFound,
        format!("{what}: no row of {} has this key", M::META.table),
        None,
    )
}

/// `WHERE k1 = $n AND k2 = $m` for the key of `model`.
fn key_clause<'a, M: Model>(values: &[Param<'a>], sql: &mut String, params: &mut Vec<Param<'a>>) {
    for (i, &k) in M::META.key.iter().enumerate() {
        params.push(values[k]);
        let _ = write!(
            sql,
            "{}{} = ${}",
            if i == 0 { " WHERE " } else { " AND " },
            M::META.columns[k],
            params.len()
        );
    }
}

pub(crate) fn update<M: Model>(
    exec: &(impl Executor + ?Sized),
    model: &M,
    changes: Changes<M>,
) -> Result<Option<M>> {
    if changes.is_empty() {
        return Ok(None);
    }
    let values = model.values();
    let mut sql = format!("UPDATE {}", M::META.table);
    let mut params = Vec::with_capacity(changes.sets.len() + M::META.key.len());
    changes.render(&mut sql, &mut params);
    key_clause::<M>(&values, &mut sql, &mut params);
    sql.push_str(" RETURNING ");
    sql.push_str(M::META.column_list);
    match exec.query_opt(sql.as_str(), &params)? {
        Some(row) => M::from_row(&row).map(Some),
        None => Err(not_found::<M>("update")),
    }
}

pub(crate) fn update_many<M: Model>(
    exec: &(impl Executor + ?Sized),
    filter: &Expr<M>,
    changes: &Changes<M>,
) -> Result<u64> {
    if changes.is_empty() {
        return Ok(0);
    }
    let mut sql = format!("UPDATE {}", M::META.table);
    let mut params = Vec::new();
    changes.render(&mut sql, &mut params);
    sql.push_str(" WHERE ");
    filter.render(&mut sql, &mut params);
    exec.execute(sql.as_str(), &params)
}

pub(crate) fn delete_many<M: Model>(
    exec: &(impl Executor + ?Sized),
    filter: &Expr<M>,
) -> Result<u64> {
    let mut sql = format!("DELETE FROM {} WHERE ", M::META.table);
    let mut params = Vec::new();
    filter.render(&mut sql, &mut params);
    exec.execute(sql.as_str(), &params)
}

pub(crate) fn insert_many<M: Model>(exec: &(impl Executor + ?Sized), rows: &[M]) -> Result<u64> {
    let cols = M::META.insert_columns;
    if cols.is_empty() {
        // Every column has a server default: one DEFAULT VALUES row at a time.
        let sql = format!("INSERT INTO {} DEFAULT VALUES", M::META.table);
        let mut n = 0;
        for _ in rows {
            n += exec.execute(sql.as_str(), &[])?;
        }
        return Ok(n);
    }
    let mut head = format!("INSERT INTO {} (", M::META.table);
    for (i, &c) in cols.iter().enumerate() {
        if i > 0 {
            head.push_str(", ");
        }
        head.push_str(M::META.columns[c]);
    }
    head.push_str(") VALUES ");
    let per_statement = (MAX_PARAMS / cols.len()).max(1);
    let mut inserted = 0;
    for chunk in rows.chunks(per_statement) {
        let mut sql = head.clone();
        let mut params: Vec<Param<'_>> = Vec::with_capacity(chunk.len() * cols.len());
        for (r, row) in chunk.iter().enumerate() {
            let values = row.values();
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for (i, &c) in cols.iter().enumerate() {
                params.push(values[c]);
                let _ = write!(sql, "{}${}", if i == 0 { "" } else { ", " }, params.len());
            }
            sql.push(')');
        }
        inserted += exec.execute(sql.as_str(), &params)?;
    }
    Ok(inserted)
}
