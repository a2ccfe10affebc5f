//! The description of one statement: what the offline cache stores and what codegen reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Everything the macros need to know about one statement; the content of
/// `.lifeguard-offline/query-<hash>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Description {
    /// The SQL text, exactly as written in the macro.
    pub query: String,
    /// Hex SHA-256 of `query`.
    pub hash: String,
    /// Parameter types (`pg_type.typname`), `$1` first.
    pub params: Vec<String>,
    /// Result columns in order.
    pub columns: Vec<ColumnDesc>,
    /// Every non-built-in or array type named in `params` or `columns`, by type name, with
    /// what codegen needs to map it (enum labels, domain base types, array elements).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub types: BTreeMap<String, TypeDesc>,
    /// Only for a model's table statement ([`describe_model_table`](crate::describe_model_table)):
    /// the catalog facts the derive checks the model against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_table: Option<ModelTable>,
}

/// Catalog facts about a model's table that no statement description carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelTable {
    /// The columns an insert must set (NOT NULL, no default, identity or generation, and no
    /// enabled BEFORE INSERT row trigger on the table that could fill them), in column order.
    pub insert_required: Vec<String>,
    /// The column lists of the primary key and every unique constraint or index without a
    /// predicate or expression (primary key first): what a model's key may be.
    pub unique_keys: Vec<Vec<String>>,
}

/// One result column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnDesc {
    /// Column name as the server reports it (overrides such as `"id!"` included).
    pub name: String,
    /// `pg_type.typname` of the column.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Whether the column may be NULL.
    pub nullable: bool,
}

/// A type that is not a built-in scalar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TypeDesc {
    /// An array of `element`.
    Array {
        /// Element type name.
        element: String,
    },
    /// A domain over `base`.
    Domain {
        /// Base type name.
        base: String,
    },
    /// An enum with its labels in sort order.
    Enum {
        /// Schema of the type.
        schema: String,
        /// Labels in `enumsortorder` order.
        labels: Vec<String>,
    },
    /// A composite (row) type.
    Composite {
        /// Schema of the type.
        schema: String,
    },
    /// A range type.
    Range {
        /// Schema of the type.
        schema: String,
    },
    /// Another base type that is not built in (e.g. from an extension).
    Base {
        /// Schema of the type.
        schema: String,
    },
    /// A pseudo-type (`record`, `void`, …).
    Pseudo,
}

impl Description {
    /// Pretty JSON, as stored in the offline folder (with a trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("a Description always serializes");
        s.push('\n');
        s
    }

    /// Reads a stored description.
    pub fn from_json(text: &str) -> Result<Description, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Resolves domains to their base type name (arrays are left alone).
    pub fn base_type<'a>(&'a self, mut name: &'a str) -> &'a str {
        for _ in 0..16 {
            match self.types.get(name) {
                Some(TypeDesc::Domain { base }) => name = base,
                _ => break,
            }
        }
        name
    }
}

/// Hex SHA-256 of a statement's text: the key of its offline entry.
pub fn hash_query(sql: &str) -> String {
    let digest = Sha256::digest(sql.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The offline file name for a statement's hash.
pub fn file_name(hash: &str) -> String {
    format!("query-{hash}.json")
}
