//! Catalog reads over the describe connection: type details for codegen and relation
//! details for the nullability analysis. Cached per connection.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::conn::DescribeConn;
use crate::description::TypeDesc;
use crate::error::Result;
use crate::nullability::{Catalog, RelColumn, RelKind, Relation};

/// A type as read from `pg_type`.
#[derive(Debug, Clone)]
pub(crate) struct PgType {
    pub name: String,
    /// `None` for built-in scalars (nothing to record in the description).
    pub desc: Option<TypeDesc>,
    /// Types this one refers to (array element, domain base).
    pub refers_to: Option<u32>,
}

/// Catalog access with per-connection caches. Lookup failures count as "unknown", which
/// the analysis treats as nullable.
pub(crate) struct PgCatalog<'c> {
    conn: RefCell<&'c mut DescribeConn>,
    relations: RefCell<HashMap<String, Option<Relation>>>,
}

const TYPE_SQL: &str = "SELECT t.typname, n.nspname, t.typtype::text, t.typcategory::text, \
     t.typelem::int8::text, t.typbasetype::int8::text, \
     (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)::text FROM pg_enum e WHERE e.enumtypid = t.oid) \
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1::int8::oid";

const REL_SQL: &str = "SELECT c.oid::int8::text, n.nspname, c.relname, c.relkind::text, \
     CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ";

const COLS_SQL: &str = "SELECT a.attname, a.attnum::text, a.attnotnull::text, \
     (t.typcategory NOT IN ('R', 'G'))::text \
     FROM pg_attribute a LEFT JOIN pg_type t ON t.oid = a.atttypid \
     WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

impl<'c> PgCatalog<'c> {
    pub fn new(conn: &'c mut DescribeConn) -> PgCatalog<'c> {
        PgCatalog {
            conn: RefCell::new(conn),
            relations: RefCell::new(HashMap::new()),
        }
    }

    pub fn pg_type(&self, oid: u32) -> Result<PgType> {
        let rows = self
            .conn
            .borrow_mut()
            .query(TYPE_SQL, &[&oid.to_string()])?;
        let row = rows
            .into_iter()
            .next()
            .ok_or_else(|| crate::Error::msg(format!("type with OID {oid} not found")))?;
        let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let (name, schema, typtype, category) = (text(0), text(1), text(2), text(3));
        let elem: u32 = text(4).parse().unwrap_or(0);
        let base: u32 = text(5).parse().unwrap_or(0);
        let builtin = schema == "pg_catalog";
        let (desc, refers_to) = if category == "A" && elem != 0 {
            (
                Some(TypeDesc::Array {
                    element: self.pg_type(elem)?.name,
                }),
                Some(elem),
            )
        } else {
            match typtype.as_str() {
                "d" => (
                    Some(TypeDesc::Domain {
                        base: self.pg_type(base)?.name,
                    }),
                    Some(base),
                ),
                "e" => {
                    let labels = serde_json::from_str(&text(6)).unwrap_or_default();
                    (Some(TypeDesc::Enum { schema, labels }), None)
                }
                "c" => (Some(TypeDesc::Composite { schema }), None),
                "r" | "m" => (Some(TypeDesc::Range { schema }), None),
                "p" => (Some(TypeDesc::Pseudo), None),
                _ if builtin => (None, None),
                _ => (Some(TypeDesc::Base { schema }), None),
            }
        };
        Ok(PgType {
            name,
            desc,
            refers_to,
        })
    }

    fn load_relation(&self, condition: &str, param: &str) -> Option<Relation> {
        let mut conn = self.conn.borrow_mut();
        let sql = format!("{REL_SQL}{condition}");
        let row = conn.query(&sql, &[param]).ok()?.into_iter().next()?;
        let text = |i: usize| row.get(i).cloned().flatten();
        let oid: u32 = text(0)?.parse().ok()?;
        let kind = match text(3)?.as_str() {
            "r" => RelKind::Table,
            "p" => RelKind::PartitionedTable,
            "v" => RelKind::View,
            "m" => RelKind::MaterializedView,
            "f" => RelKind::ForeignTable,
            _ => RelKind::Other,
        };
        let columns = conn
            .query(COLS_SQL, &[&oid.to_string()])
            .ok()?
            .into_iter()
            .filter_map(|c| {
                Some(RelColumn {
                    name: c.first()?.clone()?,
                    attnum: c.get(1)?.as_deref()?.parse().ok()?,
                    not_null: c.get(2)?.as_deref()? == "true",
                    exotic: c.get(3)?.as_deref()? != "true",
                })
            })
            .collect();
        Some(Relation {
            oid,
            schema: text(1)?,
            name: text(2)?,
            kind,
            columns,
            view_definition: text(4),
        })
    }

    fn cached(&self, condition: &str, param: String) -> Option<Relation> {
        let key = format!("{condition}{param}");
        if let Some(hit) = self.relations.borrow().get(&key) {
            return hit.clone();
        }
        let rel = self.load_relation(condition, &param);
        self.relations.borrow_mut().insert(key, rel.clone());
        rel
    }
}

fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

impl Catalog for PgCatalog<'_> {
    fn relation(&self, schema: Option<&str>, name: &str) -> Option<Relation> {
        // `to_regclass` resolves through search_path exactly as the server does. The parser
        // may hand over an unquoted identifier in its written case, which Postgres folds.
        let lookup = |name: &str| {
            let qualified = match schema {
                Some(s) => format!("{}.{}", quote_ident(s), quote_ident(name)),
                None => quote_ident(name),
            };
            self.cached("to_regclass($1)", qualified)
        };
        lookup(name).or_else(|| {
            let lower = name.to_ascii_lowercase();
            (lower != name).then(|| lookup(&lower)).flatten()
        })
    }

    fn relation_by_oid(&self, oid: u32) -> Option<Relation> {
        self.cached("$1::int8::oid", oid.to_string())
    }
}
