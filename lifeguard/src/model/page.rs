//! Reading a select piece by piece: a row stream, keyset pagination (`after`) and a
//! paginator with a page count.
//!
//! ```ignore
//! for film in Film::find().order_by(Film::Title.asc()).stream(&pool)? { let film = film?; /* … */ }
//! let next = Film::find().order_by(Film::Title.asc()).after(&last).limit(20).all(&pool)?;
//! let mut pages = Film::find().paginate(100);
//! let count = pages.num_pages(&pool)?;                 // one COUNT statement
//! while let Some(page) = pages.next_page(&pool)? { /* … */ } // one statement a page
//! ```

use std::fmt::Write as _;
use std::marker::PhantomData;

use super::{Model, Param, Select};
use crate::checked::On;
use crate::{Executor, Result, RowStream};

/// The rows of a [`Select::stream`], decoded one at a time as they arrive.
pub struct RowsOf<M> {
    rows: RowStream,
    _marker: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for RowsOf<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowsOf")
    }
}

impl<M: Model> Iterator for RowsOf<M> {
    type Item = Result<M>;

    fn next(&mut self) -> Option<Result<M>> {
        self.rows
            .next()
            .map(|row| row.and_then(|row| M::from_row(&row)))
    }
}

impl<M: Model> Select<M> {
    /// The matching rows one at a time, over the driver's row stream (one statement; rows
    /// are decoded as they are read, never all held at once). Dropping it early is fine.
    pub fn stream(&self, exec: &(impl Executor + ?Sized)) -> Result<RowsOf<M>> {
        let (sql, params) = self.statement();
        Ok(RowsOf {
            rows: On::reads(exec).query_stream(sql.as_str(), &params)?,
            _marker: PhantomData,
        })
    }

    /// Keyset pagination: only the rows after `last` in this select's order, with the
    /// primary key appended to the order (so it is total) and no order meaning the key's.
    /// One predicate, `(a, b) > ($1, $2)` (or the expanded form when the directions
    /// differ), which an index on the order columns serves without reading the skipped
    /// rows as `OFFSET` does. The order columns should be NOT NULL: a NULL compares to
    /// nothing, so its row would be skipped.
    pub fn after(mut self, last: &M) -> Self
    where
        M: Clone,
    {
        self.after = Some(Box::new(last.clone()));
        self.keyset = true;
        self
    }

    /// Pages of `page_size` rows (at least 1) in this select's order (the key appended, as
    /// for [`after`](Select::after)); the select's limit and offset are replaced.
    pub fn paginate(mut self, page_size: u32) -> Paginator<M> {
        let size = page_size.max(1);
        self.keyset = true;
        self.limit = Some(i64::from(size));
        self.offset = None;
        self.after = None;
        Paginator {
            select: self,
            page_size: size,
            done: false,
        }
    }

    /// The order terms (column, direction): the select's, then with keyset pagination every
    /// key column not already in it, in the first term's direction.
    pub(super) fn keyset_order(&self) -> Vec<(&'static str, &'static str)> {
        let mut order: Vec<_> = self.order.iter().map(|o| (o.column, o.dir)).collect();
        if self.keyset {
            let dir = order.first().map_or(" ASC", |o| o.1);
            for &k in M::META.key {
                let column = M::META.columns[k];
                if !order.iter().any(|o| o.0 == column) {
                    order.push((column, dir));
                }
            }
        }
        order
    }
}

/// `(a, b) > ($1, $2)` for the values of `after` in `order` (`<` for a descending order);
/// with mixed directions `(a > $1 OR (a = $1 AND b < $2))`, each value bound once.
pub(super) fn keyset_predicate<'a, M: Model>(
    after: &'a M,
    order: &[(&'static str, &'static str)],
    sql: &mut String,
    params: &mut Vec<Param<'a>>,
) {
    let values = after.values();
    let first = params.len() + 1;
    for (column, _) in order {
        let i = M::META
            .columns
            .iter()
            .position(|c| c == column)
            .expect("an order column is one of the model's");
        params.push(values[i]);
    }
    let op = |dir: &str| if dir == " DESC" { " < " } else { " > " };
    if order.iter().all(|o| o.1 == order[0].1) {
        let cols: Vec<&str> = order.iter().map(|o| o.0).collect();
        let ps: Vec<String> = (0..order.len())
            .map(|i| format!("${}", first + i))
            .collect();
        let _ = write!(
            sql,
            "({}){}({})",
            cols.join(", "),
            op(order[0].1),
            ps.join(", ")
        );
        return;
    }
    sql.push('(');
    for (i, (column, dir)) in order.iter().enumerate() {
        if i > 0 {
            sql.push_str(" OR ");
        }
        sql.push('(');
        for (j, (eq, _)) in order[..i].iter().enumerate() {
            let _ = write!(sql, "{eq} = ${} AND ", first + j);
        }
        let _ = write!(sql, "{column}{}${})", op(dir), first + i);
    }
    sql.push(')');
}

/// Pages of a select, from [`Select::paginate`]: [`next_page`](Paginator::next_page) walks
/// them by keyset (one statement a page), [`page`](Paginator::page) jumps to one by
/// offset, [`num_pages`](Paginator::num_pages) counts them (one `COUNT` statement).
#[must_use = "a paginator does nothing until a page is fetched"]
pub struct Paginator<M> {
    select: Select<M>,
    page_size: u32,
    done: bool,
}

impl<M> std::fmt::Debug for Paginator<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Paginator")
            .field("select", &self.select)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl<M: Model + Clone> Paginator<M> {
    /// The rows per page.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// How many rows the select matches (one `COUNT` statement).
    pub fn num_items(&self, exec: &(impl Executor + ?Sized)) -> Result<u64> {
        Ok(u64::try_from(self.select.count(exec)?).unwrap_or(0))
    }

    /// How many pages there are (one `COUNT` statement; 0 when nothing matches).
    pub fn num_pages(&self, exec: &(impl Executor + ?Sized)) -> Result<u64> {
        Ok(self.num_items(exec)?.div_ceil(u64::from(self.page_size)))
    }

    /// The next page, after the last row of the previous one (the first page first); `None`
    /// once a page came back short or empty. One statement a page.
    pub fn next_page(&mut self, exec: &(impl Executor + ?Sized)) -> Result<Option<Vec<M>>> {
        if self.done {
            return Ok(None);
        }
        let rows = self.select.all(exec)?;
        if rows.len() < self.page_size as usize {
            self.done = true;
        }
        match rows.last() {
            Some(last) => {
                self.select.after = Some(Box::new(last.clone()));
                Ok(Some(rows))
            }
            None => Ok(None),
        }
    }

    /// Page `n` (from 0) by `OFFSET`, whatever `next_page` has walked; empty past the end.
    pub fn page(&mut self, exec: &(impl Executor + ?Sized), n: u64) -> Result<Vec<M>> {
        let after = self.select.after.take();
        self.select.offset =
            Some(i64::try_from(n.saturating_mul(u64::from(self.page_size))).unwrap_or(i64::MAX));
        let rows = self.select.all(exec);
        self.select.offset = None;
        self.select.after = after;
        rows
    }
}
