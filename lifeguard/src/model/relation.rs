//! Relations between models, declared on the derive (`belongs_to` on a foreign key field,
//! `has_many` / `has_one` on the struct) and loaded eagerly: one statement per relation for
//! any number of rows (`WHERE <key> = ANY($1)` with every key in one array parameter), never
//! one per row. Soft-deleted rows of a related model are not loaded.
//!
//! ```ignore
//! let films = Film::find().filter(Film::Title.like("A%")).all(&pool)?;   // 1 statement
//! let languages = Film::language().load(&pool, &films)?;                // +1: Vec<Option<Language>>
//! let actors = Film::actors().load(&pool, &films)?;                     // +1: Vec<Vec<Actor>>
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::marker::PhantomData;

use super::{Column, Model};
use crate::checked::On;
use crate::{Error, ErrorKind, Executor, FromSql, Result, ToSql};

/// What a key must be to group rows by it: bindable as an array element, comparable,
/// hashable and cloneable (every integer, text and uuid key is).
pub trait RelationKey: ToSql + Eq + Hash + Clone + Sync + Send + 'static {}
impl<K: ToSql + Eq + Hash + Clone + Sync + Send + 'static> RelationKey for K {}

/// A field holding a key, `K` or `Option<K>` (a nullable foreign key); what the derive
/// reads foreign keys through.
#[doc(hidden)]
pub trait AsKey<K> {
    /// The key, if set.
    fn as_key(&self) -> Option<&K>;
}
impl<K> AsKey<K> for K {
    fn as_key(&self) -> Option<&K> {
        Some(self)
    }
}
impl<K> AsKey<K> for Option<K> {
    fn as_key(&self) -> Option<&K> {
        self.as_ref()
    }
}

/// The distinct keys, in first-seen order.
fn distinct<K: RelationKey>(keys: impl Iterator<Item = Option<K>>) -> Vec<K> {
    let mut seen = std::collections::HashSet::new();
    keys.flatten().filter(|k| seen.insert(k.clone())).collect()
}

/// The single key column of `M`, for the `= ANY($1)` side of a relation.
fn single_key<M: Model>() -> Result<&'static str> {
    match M::META.key {
        [k] => Ok(M::META.columns[*k]),
        _ => Err(Error::new(
            ErrorKind::Usage,
            format!(
                "a relation to {} needs a single-column primary key",
                M::META.table
            ),
            None,
        )),
    }
}

/// `C` belongs to `P`: a field of `C` holds `P`'s primary key. From a field's
/// `#[lifeguard(belongs_to = P)]`; the derive names the relation after the field without
/// its `_id` (`language_id` → `Film::language()`).
pub struct BelongsTo<C, P: Model> {
    fk: fn(&C) -> Option<&P::Key>,
}

impl<C, P: Model> std::fmt::Debug for BelongsTo<C, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BelongsTo({})", P::META.table)
    }
}

impl<C: Model, P: Model + Clone> BelongsTo<C, P>
where
    P::Key: RelationKey,
{
    /// Used by the derive.
    #[doc(hidden)]
    pub fn __new(fk: fn(&C) -> Option<&P::Key>) -> Self {
        BelongsTo { fk }
    }

    /// The parent of each of `children`, in their order (`None` for a NULL foreign key or a
    /// missing row), in one statement; none when no child has a key.
    pub fn load(&self, exec: &(impl Executor + ?Sized), children: &[C]) -> Result<Vec<Option<P>>> {
        let keys = distinct(children.iter().map(|c| (self.fk)(c).cloned()));
        let mut parents: HashMap<P::Key, P> = HashMap::with_capacity(keys.len());
        if !keys.is_empty() {
            let mut sql = format!("{} WHERE {} = ANY($1)", P::META.select, single_key::<P>()?);
            super::soft::and_live::<P>(&mut sql, "");
            for row in On::reads(exec).query_stream(sql.as_str(), &[&keys])? {
                let parent = P::from_row(&row?)?;
                parents.insert(parent.key(), parent);
            }
        }
        Ok(children
            .iter()
            .map(|c| (self.fk)(c).and_then(|k| parents.get(k).cloned()))
            .collect())
    }
}

/// Children of `P` grouped by their foreign key, for [`HasMany`] and [`HasOne`].
fn load_children<P: Model, C: Model>(
    exec: &(impl Executor + ?Sized),
    parents: &[P],
    fk_column: &'static str,
    fk: fn(&C) -> Option<&P::Key>,
) -> Result<HashMap<P::Key, Vec<C>>>
where
    P::Key: RelationKey,
{
    let keys = distinct(parents.iter().map(|p| Some(p.key())));
    let mut groups: HashMap<P::Key, Vec<C>> = HashMap::with_capacity(keys.len());
    if keys.is_empty() {
        return Ok(groups);
    }
    let mut sql = format!("{} WHERE {fk_column} = ANY($1)", C::META.select);
    super::soft::and_live::<C>(&mut sql, "");
    order_by_key::<C>(&mut sql, "");
    for row in On::reads(exec).query_stream(sql.as_str(), &[&keys])? {
        let child = C::from_row(&row?)?;
        if let Some(k) = fk(&child).cloned() {
            groups.entry(k).or_default().push(child);
        }
    }
    Ok(groups)
}

/// ` ORDER BY` `M`'s key columns (prefixed by `alias.`), so related rows come in a stable
/// order.
fn order_by_key<M: Model>(sql: &mut String, alias: &str) {
    for (i, &k) in M::META.key.iter().enumerate() {
        let _ = write!(
            sql,
            "{}{alias}{}",
            if i == 0 { " ORDER BY " } else { ", " },
            M::META.columns[k]
        );
    }
}

/// `P` has many `C`: a field of `C` holds `P`'s primary key. From the struct's
/// `#[lifeguard(has_many(name = films, model = Film, fk = language_id))]`.
pub struct HasMany<P: Model, C> {
    fk_column: &'static str,
    fk: fn(&C) -> Option<&P::Key>,
}

impl<P: Model, C> std::fmt::Debug for HasMany<P, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HasMany({})", self.fk_column)
    }
}

impl<P: Model, C: Model + Clone> HasMany<P, C>
where
    P::Key: RelationKey,
{
    /// Used by the derive: the child's foreign key column, typed by `P`'s key, and how to
    /// read it from a child.
    #[doc(hidden)]
    pub fn __new<N>(column: Column<C, P::Key, N>, fk: fn(&C) -> Option<&P::Key>) -> Self {
        HasMany {
            fk_column: column.name(),
            fk,
        }
    }

    /// The children of each of `parents`, in their order (each list ordered by the child's
    /// key), in one statement.
    pub fn load(&self, exec: &(impl Executor + ?Sized), parents: &[P]) -> Result<Vec<Vec<C>>> {
        let groups = load_children(exec, parents, self.fk_column, self.fk)?;
        Ok(parents
            .iter()
            .map(|p| groups.get(&p.key()).cloned().unwrap_or_default())
            .collect())
    }
}

/// `P` has at most one `C`: like [`HasMany`] with a unique foreign key. From the struct's
/// `#[lifeguard(has_one(name = .., model = .., fk = ..))]`.
pub struct HasOne<P: Model, C>(HasMany<P, C>);

impl<P: Model, C> std::fmt::Debug for HasOne<P, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HasOne({})", self.0.fk_column)
    }
}

impl<P: Model, C: Model + Clone> HasOne<P, C>
where
    P::Key: RelationKey,
{
    /// Used by the derive (see [`HasMany`]).
    #[doc(hidden)]
    pub fn __new<N>(column: Column<C, P::Key, N>, fk: fn(&C) -> Option<&P::Key>) -> Self {
        HasOne(HasMany::__new(column, fk))
    }

    /// The child of each of `parents` (the one with the lowest key if the foreign key is
    /// not unique after all), in one statement.
    pub fn load(&self, exec: &(impl Executor + ?Sized), parents: &[P]) -> Result<Vec<Option<C>>> {
        let groups = load_children(exec, parents, self.0.fk_column, self.0.fk)?;
        Ok(parents
            .iter()
            .map(|p| groups.get(&p.key()).and_then(|g| g.first().cloned()))
            .collect())
    }
}

/// `P` has many `C` through the join model `J`, whose two columns hold `P`'s and `C`'s
/// keys (film ↔ actor through film_actor). From the struct's
/// `#[lifeguard(has_many(name = actors, model = Actor, through = FilmActor, fk = film_id, other = actor_id))]`.
pub struct Through<P: Model, C, J> {
    fk_column: &'static str,
    other_column: &'static str,
    _marker: PhantomData<Models<P, C, J>>,
}

/// The three models of a [`Through`], without owning any (so it is `Send` and `Sync`).
type Models<P, C, J> = fn() -> (P, C, J);

impl<P: Model, C, J> std::fmt::Debug for Through<P, C, J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Through({}, {})", self.fk_column, self.other_column)
    }
}

impl<P: Model, C: Model + Clone, J: Model> Through<P, C, J>
where
    P::Key: RelationKey + for<'a> FromSql<'a>,
{
    /// Used by the derive: `J`'s column holding `P`'s key, and the one holding `C`'s.
    #[doc(hidden)]
    pub fn __new<N1, N2>(fk: Column<J, P::Key, N1>, other: Column<J, C::Key, N2>) -> Self {
        Through {
            fk_column: fk.name(),
            other_column: other.name(),
            _marker: PhantomData,
        }
    }

    /// The related rows of each of `parents`, in their order (each list ordered by `C`'s
    /// key), in one statement joining `J`.
    pub fn load(&self, exec: &(impl Executor + ?Sized), parents: &[P]) -> Result<Vec<Vec<C>>> {
        let keys = distinct(parents.iter().map(|p| Some(p.key())));
        let mut groups: HashMap<P::Key, Vec<C>> = HashMap::with_capacity(keys.len());
        if !keys.is_empty() {
            // `C`'s columns first (so `C::from_row` reads them by position), then the key of
            // the parent each row belongs to.
            let mut sql = String::from("SELECT ");
            for c in C::META.columns {
                let _ = write!(sql, "\"t\".{c}, ");
            }
            let _ = write!(
                sql,
                "\"j\".{fk} FROM {} AS \"t\" JOIN {} AS \"j\" ON \"j\".{other} = \"t\".{ckey} WHERE \"j\".{fk} = ANY($1)",
                C::META.table,
                J::META.table,
                fk = self.fk_column,
                other = self.other_column,
                ckey = single_key::<C>()?,
            );
            super::soft::and_live::<C>(&mut sql, "\"t\".");
            order_by_key::<C>(&mut sql, "\"t\".");
            let at = C::META.columns.len();
            for row in On::reads(exec).query_stream(sql.as_str(), &[&keys])? {
                let row = row?;
                let key: P::Key = row.try_get(at)?;
                groups.entry(key).or_default().push(C::from_row(&row)?);
            }
        }
        Ok(parents
            .iter()
            .map(|p| groups.get(&p.key()).cloned().unwrap_or_default())
            .collect())
    }
}
