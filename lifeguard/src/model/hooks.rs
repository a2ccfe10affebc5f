//! Hooks: code a model runs around its writes, enabled by `#[lifeguard(hooks)]`.

use super::{Changes, Model};
use crate::{Error, Executor, Result};

/// Code run around a model's writes; every method defaults to doing nothing. Implement it
/// for a model derived with `#[lifeguard(hooks)]`.
///
/// ```ignore
/// #[derive(lifeguard::Model)]
/// #[lifeguard(table = "post", hooks)]
/// struct Post { #[lifeguard(primary_key, default)] post_id: i64, title: String }
///
/// impl lifeguard::model::Hooks for Post {
///     fn before_insert(&self, _exec: &(impl lifeguard::Executor + ?Sized)) -> lifeguard::Result<()> {
///         if self.title.is_empty() {
///             return Err(lifeguard::Error::hook("a post needs a title"));
///         }
///         Ok(())
///     }
/// }
/// ```
///
/// Which write runs which hooks:
///
/// | write | hooks |
/// |---|---|
/// | `insert`, `upsert` | `before_insert` on the row, `after_insert` on the stored row |
/// | `insert_many` | `before_insert` on every row before any statement, then each statement (with `RETURNING`) followed by `after_insert` on the rows it stored |
/// | `update` | `before_update` (may change the change set), `after_update` on the stored row; neither when nothing changes |
/// | `delete`, `force_delete` | `before_delete`, `after_delete` |
/// | `update_many`, `delete_many`, `force_delete_many` | refused with [`ErrorKind::Hook`](crate::ErrorKind::Hook) before any statement: they change rows the program never sees, so no per-row hook could run |
///
/// A hook's error ends the write and is returned as it is ([`Error::hook`](crate::Error::hook)
/// makes an [`ErrorKind::Hook`](crate::ErrorKind::Hook) one). A `before_*` error comes before
/// the write's statement, so nothing is written; an `after_*` error comes after it, so run
/// hooked writes in a transaction and roll back on error to keep them all-or-nothing. Hooks
/// get the write's executor: what they run through it is part of the same transaction.
pub trait Hooks: Model {
    /// Before `insert`, `upsert` and `insert_many` (for each row); an error refuses the row.
    fn before_insert(&self, exec: &(impl Executor + ?Sized)) -> Result<()> {
        let _ = exec;
        Ok(())
    }
    /// After the row is stored; `self` is the stored row (server defaults filled in).
    fn after_insert(&self, exec: &(impl Executor + ?Sized)) -> Result<()> {
        let _ = exec;
        Ok(())
    }
    /// Before `update` writes `changes` to `self` (the row as the program has it); may add
    /// or replace changes. An error refuses the update.
    fn before_update(
        &self,
        changes: &mut Changes<Self>,
        exec: &(impl Executor + ?Sized),
    ) -> Result<()> {
        let _ = (changes, exec);
        Ok(())
    }
    /// After `update`; `self` is the stored row.
    fn after_update(&self, exec: &(impl Executor + ?Sized)) -> Result<()> {
        let _ = exec;
        Ok(())
    }
    /// Before `delete` or `force_delete`; an error refuses it.
    fn before_delete(&self, exec: &(impl Executor + ?Sized)) -> Result<()> {
        let _ = exec;
        Ok(())
    }
    /// After `delete` or `force_delete`.
    fn after_delete(&self, exec: &(impl Executor + ?Sized)) -> Result<()> {
        let _ = exec;
        Ok(())
    }
}

/// Which hook to run; the derive's `Model::__hook` of a `hooks` model dispatches it to
/// [`Hooks`].
#[doc(hidden)]
pub enum Event<'a, M> {
    BeforeInsert,
    AfterInsert,
    BeforeUpdate(&'a mut Changes<M>),
    AfterUpdate,
    BeforeDelete,
    AfterDelete,
}

/// Runs the [`Hooks`] method for `event`.
#[doc(hidden)]
pub fn __run<M: Hooks>(
    model: &M,
    exec: &(impl Executor + ?Sized),
    event: Event<'_, M>,
) -> Result<()> {
    match event {
        Event::BeforeInsert => model.before_insert(exec),
        Event::AfterInsert => model.after_insert(exec),
        Event::BeforeUpdate(changes) => model.before_update(changes, exec),
        Event::AfterUpdate => model.after_update(exec),
        Event::BeforeDelete => model.before_delete(exec),
        Event::AfterDelete => model.after_delete(exec),
    }
}

/// The refusal of a bulk write that cannot run `M`'s hooks.
pub(crate) fn refuse_bulk<M: Model>(what: &'static str) -> Result<()> {
    if M::META.hooks {
        return Err(Error::hook(format!(
            "{what} on {}: the model has hooks and {what} cannot run them per row; \
             load the rows and write each (find().all, then update/delete), or use plain SQL",
            M::META.table
        )));
    }
    Ok(())
}
