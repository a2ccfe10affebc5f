//! Filter expressions over typed columns.
//!
//! A small builder of our own rather than sea-query: every identifier here is already a
//! quoted constant from the derive and every value is already a `postgres_types::ToSql`
//! (the driver's parameter type, PgEnum enums included), so all that is left to build is
//! "fragments and `$n` placeholders, numbered at render time". sea-query would convert each
//! value into its own `Value` enum (which has no place for user enum types) and back.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::marker::PhantomData;

use super::{Column, Nullable, Param};
use crate::ToSql;

/// A boxed parameter value owned by an expression.
pub(crate) type Value = Box<dyn ToSql + Sync + Send>;

enum Frag {
    Sql(Cow<'static, str>),
    Param(Value),
}

/// A boolean condition on model `M` (a `WHERE` clause), built from its [`Column`]s and
/// combined with [`and`](Expr::and), [`or`](Expr::or) and [`not`](Expr::not).
pub struct Expr<M> {
    frags: Vec<Frag>,
    _marker: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for Expr<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut sql = String::new();
        self.render(&mut sql, &mut Vec::new());
        f.debug_tuple("Expr").field(&sql).finish()
    }
}

impl<M> Expr<M> {
    fn new(frags: Vec<Frag>) -> Self {
        Expr {
            frags,
            _marker: PhantomData,
        }
    }

    fn combine(self, op: &'static str, other: Expr<M>) -> Expr<M> {
        let mut frags = Vec::with_capacity(self.frags.len() + other.frags.len() + 3);
        frags.push(Frag::Sql("(".into()));
        frags.extend(self.frags);
        frags.push(Frag::Sql(op.into()));
        frags.extend(other.frags);
        frags.push(Frag::Sql(")".into()));
        Expr::new(frags)
    }

    /// Both conditions.
    pub fn and(self, other: Expr<M>) -> Expr<M> {
        self.combine(") AND (", other)
    }

    /// Either condition.
    pub fn or(self, other: Expr<M>) -> Expr<M> {
        self.combine(") OR (", other)
    }

    /// The negation (SQL `NOT`: a NULL comparison stays NULL, so stays excluded).
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr<M> {
        let mut frags = Vec::with_capacity(self.frags.len() + 2);
        frags.push(Frag::Sql("NOT (".into()));
        frags.extend(self.frags);
        frags.push(Frag::Sql(")".into()));
        Expr::new(frags)
    }

    /// Appends the SQL to `sql`, numbering placeholders after those already in `params`,
    /// and the values to `params`.
    pub(crate) fn render<'a>(&'a self, sql: &mut String, params: &mut Vec<Param<'a>>) {
        for frag in &self.frags {
            match frag {
                Frag::Sql(s) => sql.push_str(s),
                Frag::Param(v) => {
                    params.push(&**v as Param<'a>);
                    let _ = write!(sql, "${}", params.len());
                }
            }
        }
    }
}

fn cmp<M>(col: &'static str, op: &'static str, v: Value) -> Expr<M> {
    Expr::new(vec![
        Frag::Sql(col.into()),
        Frag::Sql(op.into()),
        Frag::Param(v),
    ])
}

impl<M, T, N> Column<M, T, N>
where
    T: ToSql + Sync + Send + 'static,
{
    /// `column = value`.
    pub fn eq(self, value: impl Into<T>) -> Expr<M> {
        cmp(self.name, " = ", Box::new(value.into()))
    }
    /// `column <> value`.
    pub fn ne(self, value: impl Into<T>) -> Expr<M> {
        cmp(self.name, " <> ", Box::new(value.into()))
    }
    /// `column < value`.
    pub fn lt(self, value: impl Into<T>) -> Expr<M> {
        cmp(self.name, " < ", Box::new(value.into()))
    }
    /// `column <= value`.
    pub fn le(self, value: impl Into<T>) -> Expr<M> {
        cmp(self.name, " <= ", Box::new(value.into()))
    }
    /// `column > value`.
    pub fn gt(self, value: impl Into<T>) -> Expr<M> {
        cmp(self.name, " > ", Box::new(value.into()))
    }
    /// `column >= value`.
    pub fn ge(self, value: impl Into<T>) -> Expr<M> {
        cmp(self.name, " >= ", Box::new(value.into()))
    }
    /// `column BETWEEN low AND high` (both ends included).
    pub fn between(self, low: impl Into<T>, high: impl Into<T>) -> Expr<M> {
        Expr::new(vec![
            Frag::Sql(self.name.into()),
            Frag::Sql(" BETWEEN ".into()),
            Frag::Param(Box::new(low.into())),
            Frag::Sql(" AND ".into()),
            Frag::Param(Box::new(high.into())),
        ])
    }
    /// `column = ANY($n)`: the values travel as one array parameter, however many there are
    /// (an empty list matches nothing).
    pub fn in_<I>(self, values: I) -> Expr<M>
    where
        I: IntoIterator,
        I::Item: Into<T>,
    {
        let values: Vec<T> = values.into_iter().map(Into::into).collect();
        Expr::new(vec![
            Frag::Sql(self.name.into()),
            Frag::Sql(" = ANY(".into()),
            Frag::Param(Box::new(values)),
            Frag::Sql(")".into()),
        ])
    }

    /// Ascending order on this column.
    pub fn asc(self) -> Order<M> {
        Order::new(self.name, " ASC")
    }
    /// Descending order on this column.
    pub fn desc(self) -> Order<M> {
        Order::new(self.name, " DESC")
    }
}

impl<M, T> Column<M, T, Nullable> {
    /// `column IS NULL`.
    pub fn is_null(self) -> Expr<M> {
        Expr::new(vec![
            Frag::Sql(self.name.into()),
            Frag::Sql(" IS NULL".into()),
        ])
    }
    /// `column IS NOT NULL`.
    pub fn is_not_null(self) -> Expr<M> {
        Expr::new(vec![
            Frag::Sql(self.name.into()),
            Frag::Sql(" IS NOT NULL".into()),
        ])
    }
}

impl<M, N> Column<M, String, N> {
    /// `column LIKE pattern` (case-sensitive; `%` and `_` are wildcards).
    pub fn like(self, pattern: impl Into<String>) -> Expr<M> {
        cmp(self.name, " LIKE ", Box::new(pattern.into()))
    }
    /// `column ILIKE pattern` (case-insensitive).
    pub fn ilike(self, pattern: impl Into<String>) -> Expr<M> {
        cmp(self.name, " ILIKE ", Box::new(pattern.into()))
    }
}

/// One `ORDER BY` term, from [`Column::asc`] or [`Column::desc`].
pub struct Order<M> {
    pub(crate) column: &'static str,
    pub(crate) dir: &'static str,
    _marker: PhantomData<fn() -> M>,
}

impl<M> std::fmt::Debug for Order<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Order({}{})", self.column, self.dir)
    }
}

impl<M> Order<M> {
    fn new(column: &'static str, dir: &'static str) -> Self {
        Order {
            column,
            dir,
            _marker: PhantomData,
        }
    }
}
