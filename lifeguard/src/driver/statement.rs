//! Prepared statements and the per-connection statement cache.

use std::num::NonZeroUsize;
use std::sync::{Arc, Weak};

use lru::LruCache;
use postgres_types::Type;

use crate::driver::conn::Conn;

/// A result column of a statement.
#[derive(Debug, Clone)]
pub struct Column {
    pub(crate) name: String,
    pub(crate) type_: Type,
    pub(crate) table_oid: Option<u32>,
    pub(crate) column_id: Option<i16>,
}

impl Column {
    /// The column name (or alias).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The column's Postgres type.
    pub fn type_(&self) -> &Type {
        &self.type_
    }
    /// The OID of the table the column comes from, if it is a plain table column.
    pub fn table_oid(&self) -> Option<u32> {
        self.table_oid
    }
    /// The column's attribute number in that table.
    pub fn column_id(&self) -> Option<i16> {
        self.column_id
    }
}

struct Inner {
    conn: Weak<Conn>,
    name: String,
    params: Vec<Type>,
    columns: Vec<Column>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.name.is_empty() {
            return;
        }
        if let Some(conn) = self.conn.upgrade() {
            conn.schedule_close(std::mem::take(&mut self.name));
        }
    }
}

/// A statement prepared on one connection. Cheap to clone; the server-side statement is
/// closed once the last clone (and the cache entry) is gone.
#[derive(Clone)]
pub struct Statement(Arc<Inner>);

impl Statement {
    pub(crate) fn new(
        conn: &Arc<Conn>,
        name: String,
        params: Vec<Type>,
        columns: Vec<Column>,
    ) -> Statement {
        Statement(Arc::new(Inner {
            conn: Arc::downgrade(conn),
            name,
            params,
            columns,
        }))
    }

    /// The same server-side statement with its resolved types filled in.
    pub(crate) fn with_types(self, params: Vec<Type>, columns: Vec<Column>) -> Statement {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                // Move the name out so the old shell's drop does not close the statement.
                let name = std::mem::take(&mut inner.name);
                let conn = inner.conn.clone();
                Statement(Arc::new(Inner {
                    conn,
                    name,
                    params,
                    columns,
                }))
            }
            Err(shared) => Statement(shared),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    pub(crate) fn belongs_to(&self, conn: &Arc<Conn>) -> bool {
        std::ptr::eq(self.0.conn.as_ptr(), Arc::as_ptr(conn))
    }

    /// The parameter types the server inferred.
    pub fn params(&self) -> &[Type] {
        &self.0.params
    }

    /// The result columns (empty for statements that return no rows).
    pub fn columns(&self) -> &[Column] {
        &self.0.columns
    }
}

impl std::fmt::Debug for Statement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statement")
            .field("name", &self.0.name)
            .field("params", &self.0.params)
            .field("columns", &self.0.columns)
            .finish()
    }
}

/// Bounded LRU of statements keyed by SQL text. Evicted statements are closed on the server
/// (through their drop) once no caller still uses them.
pub(crate) struct StatementCache {
    map: Option<std::sync::Mutex<LruCache<String, Statement>>>,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> StatementCache {
        StatementCache {
            map: NonZeroUsize::new(capacity).map(|c| std::sync::Mutex::new(LruCache::new(c))),
        }
    }

    pub(crate) fn get(&self, sql: &str) -> Option<Statement> {
        let map = self.map.as_ref()?;
        map.lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(sql)
            .cloned()
    }

    pub(crate) fn insert(&self, sql: &str, stmt: Statement) {
        if let Some(map) = &self.map {
            let evicted = map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(sql.to_string(), stmt);
            // Dropped outside the lock: dropping schedules a server-side close.
            drop(evicted);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|p| p.into_inner()).len())
            .unwrap_or(0)
    }
}
