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
pub use description::{file_name, hash_query, ColumnDesc, Description, TypeDesc};
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
    })
}
