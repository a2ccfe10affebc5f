//! Build-time half of Lifeguard's checked SQL, shared by `lifeguard-macros` and the
//! `lifeguard prepare` command.
//!
//! Data flows one way: SQL text → [`describe`] (prepare on the server, read the catalog,
//! infer nullability from the statement) → [`Description`] (what the offline cache stores) →
//! the macros' typed plan.
#![warn(missing_docs)]

mod catalog;
mod conn;
mod description;
mod error;
pub mod nullability;
pub mod offline;
mod reads;

use std::collections::BTreeMap;

pub use conn::{ConnectOptions, DescribeConn, Field, Prepared};
pub use description::{file_name, hash_query, ColumnDesc, Description, ModelTable, TypeDesc};
pub use error::{Error, Result};
pub use reads::reads_only;

use catalog::PgCatalog;

/// Describes `sql` on the server: parameter and column types, and each column's
/// nullability from [`nullability::infer`].
pub fn describe(conn: &mut DescribeConn, sql: &str) -> Result<Description> {
    let prepared = conn.prepare(sql)?;
    let catalog = PgCatalog::new(conn);
    let mut types = BTreeMap::new();
    let mut type_name = |oid: u32| -> Result<String> {
        let mut next = Some(oid);
        let mut first = None;
        // Record the type and what it refers to (array element, domain base), transitively.
        while let Some(oid) = next.take() {
            let t = catalog.pg_type(oid)?;
            first.get_or_insert_with(|| t.name.clone());
            if let Some(desc) = t.desc {
                if types.insert(t.name, desc).is_none() {
                    next = t.refers_to;
                }
            }
        }
        Ok(first.unwrap_or_default())
    };
    let params = prepared
        .params
        .iter()
        .map(|&oid| type_name(oid))
        .collect::<Result<Vec<_>>>()?;
    let type_names = prepared
        .fields
        .iter()
        .map(|f| type_name(f.type_oid))
        .collect::<Result<Vec<_>>>()?;
    let outputs: Vec<nullability::OutputColumn> = prepared
        .fields
        .iter()
        .map(|f| nullability::OutputColumn {
            name: f.name.clone(),
            table_oid: f.table_oid,
            column_id: f.column_id,
        })
        .collect();
    let nullable = nullability::infer(sql, &outputs, &catalog);
    let columns = prepared
        .fields
        .iter()
        .zip(type_names)
        .enumerate()
        .map(|(i, (f, type_name))| ColumnDesc {
            name: f.name.clone(),
            type_name,
            // A length mismatch would be an analysis bug: stay sound.
            nullable: nullable.get(i).copied().unwrap_or(true),
        })
        .collect();
    Ok(Description {
        query: sql.to_owned(),
        hash: hash_query(sql),
        params,
        columns,
        types,
        model_table: None,
    })
}

/// The columns of `table` an insert must set: NOT NULL without a default, identity or
/// generation expression. None when the table has an enabled BEFORE INSERT row trigger,
/// which may fill any column (pagila's `film.fulltext` is one).
const INSERT_REQUIRED_SQL: &str = "SELECT a.attname::text FROM pg_attribute a \
     WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped \
       AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = '' \
       AND NOT EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = a.attrelid \
         AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgtype::int & 7 = 7) \
     ORDER BY a.attnum";

/// The column lists (JSON arrays, in index order) of `table`'s unique indexes that an
/// `ON CONFLICT (<columns>)` can use: no predicate, no expression; primary key first.
const UNIQUE_KEYS_SQL: &str = "SELECT array_to_json(ARRAY(SELECT a.attname::text \
       FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
       JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n))::text \
     FROM pg_index i WHERE i.indrelid = $1::regclass AND i.indisunique \
       AND i.indpred IS NULL AND i.indexprs IS NULL \
     ORDER BY i.indisprimary DESC, i.indexrelid::regclass::text";

/// Describes a model's table statement `sql` (the derive's `SELECT * FROM <table> …`) like
/// [`describe`], and adds [`Description::model_table`] for `table` (a quoted, possibly
/// schema-qualified name), so the derive can check its insert and key offline too.
pub fn describe_model_table(
    conn: &mut DescribeConn,
    sql: &str,
    table: &str,
) -> Result<Description> {
    let mut desc = describe(conn, sql)?;
    let first = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    };
    let insert_required = first(conn.query(INSERT_REQUIRED_SQL, &[table])?);
    let unique_keys = first(conn.query(UNIQUE_KEYS_SQL, &[table])?)
        .iter()
        .map(|json| serde_json::from_str(json))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::msg(format!("cannot read the unique keys of {table}: {e}")))?;
    desc.model_table = Some(ModelTable {
        insert_required,
        unique_keys,
    });
    Ok(desc)
}
