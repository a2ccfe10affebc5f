//! Server-managed timestamps and soft delete in the dynamic statements (the fixed ones get
//! theirs from the derive, as constant SQL).
//!
//! A field marked `created_at` / `updated_at` (or the struct's `timestamps`) is never bound:
//! inserts and upserts write `now()`, and every update (`update`, `update_many`, a soft
//! delete) sets `updated_at = now()` in the same statement. `now()` is the transaction's
//! start time, as PostgreSQL defines it. A `soft_delete` field marks deleted rows: reads
//! (`find_by_id`, `find`, `count`, `exists`, relation loads, `update_many`) skip them unless
//! the select says [`with_deleted`](super::Select::with_deleted); `delete` / `delete_many`
//! set it, `force_delete` / `force_delete_many` remove the row.

use super::Model;

/// `, "updated_at" = now()` for an update of `M`, unless the update sets it itself.
pub(crate) fn touch<M: Model>(sql: &mut String, sets: &[(&'static str, super::expr::Value)]) {
    if let Some(u) = M::META.updated_at {
        let column = M::META.columns[u];
        if !sets.iter().any(|(c, _)| *c == column) {
            sql.push_str(", ");
            sql.push_str(column);
            sql.push_str(" = now()");
        }
    }
}

/// `"deleted_at" IS NULL` for a soft-deleting `M` (`prefix` qualifies the column).
pub(crate) fn live<M: Model>(prefix: &str) -> Option<String> {
    M::META
        .deleted_at
        .map(|d| format!("{prefix}{} IS NULL", M::META.columns[d]))
}

/// ` AND "deleted_at" IS NULL` after an existing `WHERE`, or nothing.
pub(crate) fn and_live<M: Model>(sql: &mut String, prefix: &str) {
    if let Some(clause) = live::<M>(prefix) {
        sql.push_str(" AND ");
        sql.push_str(&clause);
    }
}
