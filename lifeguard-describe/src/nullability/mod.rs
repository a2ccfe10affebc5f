//! Plan-independent nullability of a statement's result columns.
//!
//! The answer comes from the statement's text (parsed with `sqlparser`), the column origins
//! the server reports in RowDescription and the catalog — never from the query plan, table
//! statistics or data. When unsure, a column is nullable.
//!
//! [`analyze`] walks the parse tree (FROM items, joins, CTEs, set operations, views) and
//! [`exprs`] holds the per-expression rules and the function lists they rely on.

mod analyze;
mod exprs;
#[cfg(test)]
mod tests;

/// What the analysis needs to know about the database's schema.
pub trait Catalog {
    /// A relation visible under `name`: schema-qualified when `schema` is given, otherwise
    /// resolved through the connection's `search_path` (like the server would).
    fn relation(&self, schema: Option<&str>, name: &str) -> Option<Relation>;
    /// A relation by OID (the table OID of a RowDescription field).
    fn relation_by_oid(&self, oid: u32) -> Option<Relation>;
    /// Whether a function (or aggregate) of this name exists outside `pg_catalog`: an
    /// unqualified call may then reach it instead of the built-in the analysis trusts.
    fn user_function(&self, name: &str) -> bool;
    /// Whether a cast is implemented by a function outside `pg_catalog` (which may return
    /// NULL for a value).
    fn user_casts(&self) -> bool;
}

/// A table, view, materialized view, partitioned or foreign table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// `pg_class.oid`.
    pub oid: u32,
    /// Schema name.
    pub schema: String,
    /// Relation name.
    pub name: String,
    /// What kind of relation it is.
    pub kind: RelKind,
    /// Live (non-dropped, `attnum > 0`) columns in `attnum` order.
    pub columns: Vec<RelColumn>,
    /// For views and materialized views: `pg_get_viewdef(oid)`.
    pub view_definition: Option<String>,
    /// `pg_class.relhasrules` (besides a view's own): a `DO INSTEAD` rule decides what an
    /// INSERT, UPDATE or DELETE on it returns.
    pub has_rules: bool,
}

/// `pg_class.relkind`, as far as the analysis cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelKind {
    /// `r`: ordinary table.
    Table,
    /// `p`: partitioned table.
    PartitionedTable,
    /// `v`: view.
    View,
    /// `m`: materialized view.
    MaterializedView,
    /// `f`: foreign table.
    ForeignTable,
    /// Anything else.
    Other,
}

/// One column of a [`Relation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelColumn {
    /// Column name.
    pub name: String,
    /// `pg_attribute.attnum`.
    pub attnum: i16,
    /// `pg_attribute.attnotnull` (a NOT NULL constraint; domain constraints do not count),
    /// and so for every inheritance child and partition: a foreign partition, or a child
    /// that dropped the constraint, can hold NULLs the parent's scan returns.
    pub not_null: bool,
    /// Its type may be a range, multirange, geometric or user-defined type (anything but a
    /// built-in of a category the analysis knows, domains included): `lower`/`upper` and
    /// arithmetic on those can yield NULL.
    pub exotic: bool,
}

/// One result column as the server described it (RowDescription).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputColumn {
    /// Column name (after aliasing).
    pub name: String,
    /// Table OID of the column's origin, 0 when it is not a plain table column.
    pub table_oid: u32,
    /// Attribute number of the origin, 0 when none.
    pub column_id: i16,
}

/// Nullability of each of `columns` (same length, `true` = may be NULL) for the statement
/// `sql`.
///
/// The statement is parsed and its result columns are derived from the parse tree; the
/// catalog supplies `NOT NULL` constraints and view definitions. When the statement cannot
/// be parsed, or the derived column list does not line up with what the server described,
/// every column is nullable.
pub fn infer(sql: &str, columns: &[OutputColumn], catalog: &dyn Catalog) -> Vec<bool> {
    let all_nullable = vec![true; columns.len()];
    let Some(derived) = analyze::statement_columns(sql, catalog) else {
        return all_nullable;
    };
    // The derived list must line up with the server's, by count, by every name the
    // analysis is sure of and by every table column both sides name as a column's origin;
    // otherwise a nullable column could be paired with another's answer.
    let lined_up = derived.len() == columns.len()
        && derived.iter().zip(columns).all(|(d, c)| {
            (!d.certain || same_name(&d.name, &c.name))
                && match d.origin {
                    Some(origin) if c.table_oid != 0 => origin == (c.table_oid, c.column_id),
                    _ => true,
                }
        });
    if !lined_up {
        return all_nullable;
    }
    derived.iter().map(|c| c.nullable).collect()
}

/// Postgres truncates identifiers to 63 bytes (NAMEDATALEN - 1).
fn same_name(derived: &str, described: &str) -> bool {
    derived == described
        || (derived.len() > analyze::MAX_IDENTIFIER
            && derived.as_bytes().starts_with(described.as_bytes()))
}
