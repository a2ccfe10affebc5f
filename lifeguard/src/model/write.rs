//! The dynamic writes: update by change set, bulk insert, update/delete by filter.

use std::fmt::Write as _;

use super::expr::Value;
use super::hooks::{refuse_bulk, Event};
use super::{soft, Column, Expr, Model, Nullable, Param};
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

/// The values at `indexes`, as parameters.
pub(crate) fn pick<'a>(values: &[Param<'a>], indexes: &[usize]) -> Vec<Param<'a>> {
    indexes.iter().map(|&i| values[i]).collect()
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

/// ` WHERE (filter)`, and ` AND deleted_at IS NULL` when `live` and `M` soft-deletes.
fn filter_clause<'a, M: Model>(
    filter: &'a Expr<M>,
    live: bool,
    sql: &mut String,
    params: &mut Vec<Param<'a>>,
) {
    sql.push_str(" WHERE (");
    filter.render(sql, params);
    sql.push(')');
    if live {
        soft::and_live::<M>(sql, "");
    }
}

/// The name of the `i`th old key column in [`update_many`]'s CTE form.
fn old_key_column(i: usize) -> String {
    format!("lifeguard_old_{i}")
}

pub(crate) fn update<M: Model>(
    exec: &(impl Executor + ?Sized),
    model: &M,
    mut changes: Changes<M>,
) -> Result<Option<M>> {
    if changes.is_empty() {
        return Ok(None);
    }
    model.__hook(exec, Event::BeforeUpdate(&mut changes))?;
    if changes.is_empty() {
        return Ok(None);
    }
    let values = model.values();
    let mut sql = format!("UPDATE {}", M::META.table);
    let mut params = Vec::with_capacity(changes.sets.len() + M::META.key.len());
    changes.render(&mut sql, &mut params);
    soft::touch::<M>(&mut sql, &changes.sets);
    key_clause::<M>(&values, &mut sql, &mut params);
    sql.push_str(" RETURNING ");
    sql.push_str(M::META.column_list);
    let stored = match exec.query_opt(sql.as_str(), &params)? {
        Some(row) => M::from_row(&row)?,
        None => return Err(not_found::<M>("update")),
    };
    stored.__hook(exec, Event::AfterUpdate)?;
    Ok(Some(stored))
}

pub(crate) fn force_delete<M: Model>(exec: &(impl Executor + ?Sized), model: &M) -> Result<()> {
    model.__hook(exec, Event::BeforeDelete)?;
    let values = model.values();
    let params = pick(&values, M::META.key);
    match exec.execute(M::META.force_delete, &params)? {
        0 => Err(not_found::<M>("force_delete")),
        _ => model.__hook(exec, Event::AfterDelete),
    }
}

pub(crate) fn update_many<M: Model>(
    exec: &(impl Executor + ?Sized),
    filter: &Expr<M>,
    changes: &Changes<M>,
) -> Result<u64> {
    refuse_bulk::<M>("update_many")?;
    if changes.is_empty() {
        return Ok(0);
    }
    let mut sql = String::new();
    let mut params = Vec::new();
    // A change to a key column moves each row to another cache key, and RETURNING sees only
    // the new values: the old keys are read (and locked) by a CTE of the same statement, so
    // both keys leave Redis. Only cached models pay for it.
    let moves_key = M::CACHE.is_some()
        && exec.__cache().is_some()
        && changes
            .sets
            .iter()
            .any(|(c, _)| M::META.key.iter().any(|&k| M::META.columns[k] == *c));
    let key_columns = || M::META.key.iter().map(|&k| M::META.columns[k]);
    let olds = || (0..M::META.key.len()).map(old_key_column);
    if moves_key {
        let (olds, keys) = (
            olds().collect::<Vec<_>>(),
            key_columns().collect::<Vec<_>>(),
        );
        let _ = write!(
            sql,
            "WITH lifeguard_old ({}) AS (SELECT {} FROM {}",
            olds.join(", "),
            keys.join(", "),
            M::META.table
        );
        filter_clause(filter, true, &mut sql, &mut params);
        sql.push_str(" FOR UPDATE) ");
    }
    let _ = write!(sql, "UPDATE {}", M::META.table);
    changes.render(&mut sql, &mut params);
    soft::touch::<M>(&mut sql, &changes.sets);
    if moves_key {
        let pairs: Vec<String> = key_columns()
            .zip(olds())
            .map(|(k, o)| format!("{k} = {o}"))
            .collect();
        let _ = write!(sql, " FROM lifeguard_old WHERE {}", pairs.join(" AND "));
    } else {
        filter_clause(filter, true, &mut sql, &mut params);
    }
    run_bulk::<M>(exec, sql, &params, moves_key)
}

/// Runs an update or delete by filter and returns the rows it wrote. On a cached model
/// (with a cache on the executor) the written rows come back (`RETURNING`) so each one's
/// key leaves Redis after the commit, as it does for a single-row write: without that, a
/// cached `find_by_id` would return the row as it was until its TTL or the reflector.
/// With `old_keys`, the statement is [`update_many`]'s CTE form and each row's old key
/// leaves Redis too.
fn run_bulk<M: Model>(
    exec: &(impl Executor + ?Sized),
    mut sql: String,
    params: &[Param<'_>],
    old_keys: bool,
) -> Result<u64> {
    if M::CACHE.is_none() || exec.__cache().is_none() {
        return exec.execute(sql.as_str(), params);
    }
    sql.push_str(" RETURNING ");
    sql.push_str(M::META.column_list);
    // The row as it was: the old key columns (after the model's own) in the key's places.
    let old_at = old_keys.then(|| {
        let n = M::META.columns.len();
        let mut at: Vec<usize> = (0..n).collect();
        for (i, &k) in M::META.key.iter().enumerate() {
            sql.push_str(", ");
            sql.push_str(&old_key_column(i));
            at[k] = n + i;
        }
        at
    });
    let rows = exec.query(sql.as_str(), params)?;
    // Every row that decodes is invalidated before a decode error is returned: the write
    // has happened either way.
    let mut failed = None;
    let mut keys = Vec::with_capacity(rows.len() * (1 + old_keys as usize));
    for row in &rows {
        match M::from_row(row) {
            Ok(m) => keys.push(m.__own_cache_key()),
            Err(e) => failed = failed.or(Some(e)),
        }
        if let Some(at) = &old_at {
            match M::__from_row_at(row, at) {
                Ok(m) => keys.push(m.__own_cache_key()),
                Err(e) => failed = failed.or(Some(e)),
            }
        }
    }
    crate::cache::model::after_writes::<M>(exec, keys);
    match failed {
        Some(e) => Err(e),
        None => Ok(rows.len() as u64),
    }
}

pub(crate) fn delete_many<M: Model>(
    exec: &(impl Executor + ?Sized),
    filter: &Expr<M>,
    force: bool,
) -> Result<u64> {
    refuse_bulk::<M>(if force {
        "force_delete_many"
    } else {
        "delete_many"
    })?;
    let mut sql = match M::META.deleted_at {
        Some(d) if !force => {
            let mut sql = format!(
                "UPDATE {} SET {} = now()",
                M::META.table,
                M::META.columns[d]
            );
            soft::touch::<M>(&mut sql, &[]);
            sql
        }
        _ => format!("DELETE FROM {}", M::META.table),
    };
    let mut params = Vec::new();
    filter_clause(filter, !force, &mut sql, &mut params);
    run_bulk::<M>(exec, sql, &params, false)
}

pub(crate) fn insert_many<M: Model>(exec: &(impl Executor + ?Sized), rows: &[M]) -> Result<u64> {
    // Hooks: every `before_insert` first (a refusal writes nothing), the stored rows come
    // back through RETURNING for `after_insert`.
    let hooks = M::META.hooks;
    if hooks {
        for row in rows {
            row.__hook(exec, Event::BeforeInsert)?;
        }
    }
    let cols = M::META.insert_columns;
    let now: Vec<usize> = [M::META.created_at, M::META.updated_at]
        .into_iter()
        .flatten()
        .collect();
    let returning = if hooks {
        format!(" RETURNING {}", M::META.column_list)
    } else {
        String::new()
    };
    let mut inserted = 0;
    let mut run = |sql: &str, params: &[Param<'_>]| -> Result<()> {
        if hooks {
            // Read the statement to its end before a hook may send one of its own.
            let stored = exec.query(sql, params)?;
            for row in &stored {
                M::from_row(row)?.__hook(exec, Event::AfterInsert)?;
            }
            inserted += stored.len() as u64;
        } else {
            inserted += exec.execute(sql, params)?;
        }
        Ok(())
    };
    if cols.is_empty() && now.is_empty() {
        // Every column has a server default: one DEFAULT VALUES row at a time.
        let sql = format!("INSERT INTO {} DEFAULT VALUES{returning}", M::META.table);
        for _ in rows {
            run(&sql, &[])?;
        }
        return Ok(inserted);
    }
    let mut head = format!("INSERT INTO {} (", M::META.table);
    for (i, &c) in cols.iter().chain(&now).enumerate() {
        if i > 0 {
            head.push_str(", ");
        }
        head.push_str(M::META.columns[c]);
    }
    head.push_str(") VALUES ");
    let per_statement = (MAX_PARAMS / cols.len().max(1)).max(1);
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
            for i in 0..now.len() {
                sql.push_str(if i == 0 && cols.is_empty() {
                    "now()"
                } else {
                    ", now()"
                });
            }
            sql.push(')');
        }
        sql.push_str(&returning);
        run(&sql, &params)?;
    }
    Ok(inserted)
}
