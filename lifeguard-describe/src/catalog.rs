//! Catalog reads over the describe connection: type details for codegen and relation
//! details for the nullability analysis. Cached per connection.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

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

/// How long the catalog cache outlives the last statement described with it. A compiler
/// process expands its macros one after another, well within this; a long-lived one (an
/// editor's proc-macro server, where a migration may run between two expansions) reads the
/// catalog again after a pause.
const CACHE_IDLE: Duration = Duration::from_secs(1);

/// What [`PgCatalog`] has read, kept on the connection between statements described in
/// quick succession (see [`CACHE_IDLE`]).
#[derive(Default)]
pub(crate) struct CatalogCache {
    /// When the last statement was described with it.
    used: Option<Instant>,
    types: HashMap<u32, PgType>,
    relations: HashMap<String, Option<Relation>>,
    /// Loaded on first use; `Some(None)` when it could not be read.
    user: Option<Option<UserRoutines>>,
}

/// What users added to the catalog that can stand in for a built-in.
struct UserRoutines {
    /// Names of the functions outside `pg_catalog` and `information_schema`.
    functions: HashSet<String>,
    /// Whether a cast is implemented by one of them.
    casts: bool,
}

/// Catalog access, cached per connection. Lookup failures count as "unknown", which the
/// analysis treats as nullable.
pub(crate) struct PgCatalog<'c> {
    conn: RefCell<&'c mut DescribeConn>,
    /// Taken from the connection while this lives, given back when dropped.
    cache: RefCell<CatalogCache>,
}

impl Drop for PgCatalog<'_> {
    fn drop(&mut self) {
        let mut cache = self.cache.take();
        cache.used = Some(Instant::now());
        self.conn.get_mut().catalog_cache = cache;
    }
}

const TYPE_SQL: &str = "SELECT t.typname, n.nspname, t.typtype::text, t.typcategory::text, \
     t.typelem::int8::text, t.typbasetype::int8::text, \
     (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder)::text FROM pg_enum e WHERE e.enumtypid = t.oid) \
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid = $1::int8::oid";

const REL_SQL: &str = "SELECT c.oid::int8::text, n.nspname, c.relname, c.relkind::text, \
     CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END, \
     (c.relhasrules AND c.relkind <> 'v')::text \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = ";

/// A column is NOT NULL when it and the same column of every descendant (inheritance child,
/// partition) are, and no descendant is a foreign table. Its type is plain when its
/// category is one whose operators and functions the analysis's lists describe, or it is
/// another built-in that is neither geometric nor a range (jsonb, uuid, bytea…: their
/// built-in `+ - * /` never return NULL for values).
const COLS_SQL: &str = "WITH RECURSIVE d(oid) AS ( \
       SELECT inhrelid FROM pg_inherits WHERE inhparent = $1::int8::oid \
       UNION SELECT i.inhrelid FROM pg_inherits i JOIN d ON i.inhparent = d.oid) \
     SELECT a.attname, a.attnum::text, \
       (a.attnotnull AND NOT EXISTS (SELECT FROM d JOIN pg_class c ON c.oid = d.oid \
          LEFT JOIN pg_attribute ca ON ca.attrelid = d.oid AND ca.attname = a.attname \
          WHERE c.relkind = 'f' OR NOT coalesce(ca.attnotnull, false)))::text, \
       coalesce(t.typcategory IN ('A', 'B', 'D', 'E', 'I', 'N', 'S', 'T', 'V') \
         OR (t.typnamespace = 'pg_catalog'::regnamespace AND t.typcategory NOT IN ('G', 'R')), \
         false)::text \
     FROM pg_attribute a LEFT JOIN pg_type t ON t.oid = a.atttypid \
     WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum";

/// [`UserRoutines`]: one row per function name, each also saying whether any cast uses
/// a user's function.
const USER_ROUTINES_SQL: &str = "WITH f AS (SELECT p.oid, p.proname::text AS name FROM pg_proc p \
       JOIN pg_namespace n ON n.oid = p.pronamespace \
       WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')) \
     SELECT DISTINCT f.name, \
       EXISTS (SELECT FROM pg_cast c JOIN f g ON g.oid = c.castfunc)::text FROM f";

impl<'c> PgCatalog<'c> {
    pub fn new(conn: &'c mut DescribeConn) -> PgCatalog<'c> {
        let mut cache = std::mem::take(&mut conn.catalog_cache);
        if cache.used.is_none_or(|t| t.elapsed() > CACHE_IDLE) {
            cache = CatalogCache::default();
        }
        PgCatalog {
            conn: RefCell::new(conn),
            cache: RefCell::new(cache),
        }
    }

    pub fn pg_type(&self, oid: u32) -> Result<PgType> {
        if let Some(hit) = self.cache.borrow().types.get(&oid) {
            return Ok(hit.clone());
        }
        let t = self.load_type(oid)?;
        self.cache.borrow_mut().types.insert(oid, t.clone());
        Ok(t)
    }

    fn load_type(&self, oid: u32) -> Result<PgType> {
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
            has_rules: text(5).as_deref() != Some("false"),
        })
    }

    /// `f` of the user's routines, read on first use; `true` when they cannot be read.
    fn with_user(&self, f: impl FnOnce(&UserRoutines) -> bool) -> bool {
        let mut cache = self.cache.borrow_mut();
        let user = cache.user.get_or_insert_with(|| {
            let rows = self.conn.borrow_mut().query(USER_ROUTINES_SQL, &[]).ok()?;
            let casts = rows
                .first()
                .is_some_and(|r| r.get(1).cloned().flatten().as_deref() == Some("true"));
            let functions = rows
                .into_iter()
                .filter_map(|r| r.into_iter().next().flatten())
                .collect();
            Some(UserRoutines { functions, casts })
        });
        user.as_ref().is_none_or(f)
    }

    fn cached(&self, condition: &str, param: String) -> Option<Relation> {
        let key = format!("{condition}{param}");
        if let Some(hit) = self.cache.borrow().relations.get(&key) {
            return hit.clone();
        }
        let rel = self.load_relation(condition, &param);
        self.cache.borrow_mut().relations.insert(key, rel.clone());
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

    fn user_function(&self, name: &str) -> bool {
        self.with_user(|u| u.functions.contains(name))
    }

    fn user_casts(&self) -> bool {
        self.with_user(|u| u.casts)
    }
}
