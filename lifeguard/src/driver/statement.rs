//! Prepared statements and the per-connection statement cache.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Weak};

use lru::LruCache;
use postgres_types::Type;

use crate::driver::conn::Conn;

/// A result column of a statement.
#[derive(Debug, Clone)]
pub struct Column {
    pub(crate) name: String,
    pub(crate) type_: Type,
    /// The type the values arrive in (a domain's base type), worked out once here rather
    /// than on every row.
    pub(crate) decode_as: Type,
    pub(crate) table_oid: Option<u32>,
    pub(crate) column_id: Option<i16>,
}

impl Column {
    pub(crate) fn new(name: String, type_: Type, table_oid: u32, column_id: i16) -> Column {
        Column {
            name,
            decode_as: crate::driver::row::base_type(&type_).into_owned(),
            type_,
            table_oid: (table_oid != 0).then_some(table_oid),
            column_id: (column_id != 0).then_some(column_id),
        }
    }
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
    /// Whether the statement may share a `Sync` (see `driver::share`): [`Sharing`] as a
    /// `u8`, decided from the text when prepared and from the catalog on first use.
    sharing: AtomicU8,
    /// The identifiers of the text that may name relations, for the catalog check while
    /// `sharing` is [`Sharing::Unchecked`].
    names: Box<[String]>,
}

/// What is known about a statement sharing a `Sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Sharing {
    /// The text allows it; the catalog has not been asked yet.
    Unchecked = 0,
    /// It may share.
    Yes = 1,
    /// It keeps its own `Sync`.
    No = 2,
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
        (sharing, names): (Sharing, Vec<String>),
    ) -> Statement {
        Statement(Arc::new(Inner {
            conn: Arc::downgrade(conn),
            name,
            params,
            columns,
            sharing: AtomicU8::new(sharing as u8),
            names: names.into_boxed_slice(),
        }))
    }

    /// A description with no server-side statement behind it (decodes cached rows).
    pub(crate) fn detached(columns: Vec<Column>) -> Statement {
        Statement(Arc::new(Inner {
            conn: Weak::new(),
            name: String::new(),
            params: Vec::new(),
            columns,
            sharing: AtomicU8::new(Sharing::No as u8),
            names: Box::default(),
        }))
    }

    /// The same server-side statement with its resolved types filled in.
    pub(crate) fn with_types(self, params: Vec<Type>, columns: Vec<Column>) -> Statement {
        match Arc::try_unwrap(self.0) {
            Ok(mut inner) => {
                // Move the name out so the old shell's drop does not close the statement.
                let name = std::mem::take(&mut inner.name);
                let conn = inner.conn.clone();
                let sharing = AtomicU8::new(inner.sharing.load(Ordering::Relaxed));
                Statement(Arc::new(Inner {
                    conn,
                    name,
                    params,
                    columns,
                    sharing,
                    names: std::mem::take(&mut inner.names),
                }))
            }
            Err(shared) => Statement(shared),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.0.name
    }

    /// What is known about the statement sharing a `Sync` with its neighbours.
    pub(crate) fn sharing(&self) -> Sharing {
        match self.0.sharing.load(Ordering::Relaxed) {
            0 => Sharing::Unchecked,
            1 => Sharing::Yes,
            _ => Sharing::No,
        }
    }

    /// The identifiers the catalog check looks up.
    pub(crate) fn names(&self) -> &[String] {
        &self.0.names
    }

    /// Records the catalog's answer.
    pub(crate) fn set_sharing(&self, sharing: Sharing) {
        self.0.sharing.store(sharing as u8, Ordering::Relaxed);
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

/// An entry of the cache, with when it was last used (one clock for both maps).
struct Entry {
    stmt: Statement,
    used: u64,
}

/// A hasher for `(address, length)` keys: one multiply-rotate per word, since the key
/// is already unique and well spread (the point is not to hash the SQL text).
#[derive(Default)]
pub(crate) struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(26) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type ByAddr = LruCache<(usize, usize), Entry, std::hash::BuildHasherDefault<AddrHasher>>;

struct Maps {
    /// Dynamic SQL, keyed (and hashed) by its text.
    text: LruCache<String, Entry>,
    /// `&'static str` SQL (the checked macros' literals), keyed by the text's address and
    /// length: a `'static` text never moves or changes, so the address identifies it. The
    /// same text reached both ways is two entries (two server-side statements), both valid.
    by_addr: ByAddr,
    clock: u64,
    capacity: usize,
}

impl Maps {
    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Evicts the least recently used entries, across both maps, down to the capacity.
    /// Returns them so they are dropped (and closed) outside the lock.
    fn evict(&mut self) -> Vec<Statement> {
        let mut out = Vec::new();
        while self.text.len() + self.by_addr.len() > self.capacity {
            let text_used = self.text.peek_lru().map(|(_, e)| e.used);
            let addr_used = self.by_addr.peek_lru().map(|(_, e)| e.used);
            let from_text = match (text_used, addr_used) {
                (Some(t), Some(a)) => t < a,
                (Some(_), None) => true,
                _ => false,
            };
            let popped = if from_text {
                self.text.pop_lru().map(|(_, e)| e.stmt)
            } else {
                self.by_addr.pop_lru().map(|(_, e)| e.stmt)
            };
            match popped {
                Some(stmt) => out.push(stmt),
                None => break,
            }
        }
        out
    }
}

/// Bounded LRU of statements keyed by SQL text, or by address for `'static` text. Evicted
/// statements are closed on the server (through their drop) once no caller still uses them.
pub(crate) struct StatementCache {
    map: Option<std::sync::Mutex<Maps>>,
}

impl StatementCache {
    pub(crate) fn new(capacity: usize) -> StatementCache {
        StatementCache {
            map: (capacity > 0).then(|| {
                std::sync::Mutex::new(Maps {
                    text: LruCache::unbounded(),
                    by_addr: LruCache::unbounded_with_hasher(Default::default()),
                    clock: 0,
                    capacity,
                })
            }),
        }
    }

    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Maps>> {
        // Panic-free critical sections: a poisoned lock still holds consistent maps.
        Some(self.map.as_ref()?.lock().unwrap_or_else(|p| p.into_inner()))
    }

    pub(crate) fn get(&self, sql: &str) -> Option<Statement> {
        let mut maps = self.lock()?;
        let now = maps.tick();
        let e = maps.text.get_mut(sql)?;
        e.used = now;
        Some(e.stmt.clone())
    }

    pub(crate) fn insert(&self, sql: &str, stmt: Statement) {
        let evicted = self.lock().map(|mut maps| {
            let used = maps.tick();
            let old = maps.text.put(sql.to_string(), Entry { stmt, used });
            (old, maps.evict())
        });
        // Dropped outside the lock: dropping schedules a server-side close.
        drop(evicted);
    }

    /// Looks up `'static` text by its address: no hashing or comparing of the text.
    pub(crate) fn get_static(&self, sql: &'static str) -> Option<Statement> {
        let mut maps = self.lock()?;
        let now = maps.tick();
        let e = maps.by_addr.get_mut(&addr(sql))?;
        e.used = now;
        Some(e.stmt.clone())
    }

    pub(crate) fn insert_static(&self, sql: &'static str, stmt: Statement) {
        let evicted = self.lock().map(|mut maps| {
            let used = maps.tick();
            let old = maps.by_addr.put(addr(sql), Entry { stmt, used });
            (old, maps.evict())
        });
        drop(evicted);
    }

    pub(crate) fn len(&self) -> usize {
        self.lock()
            .map(|m| m.text.len() + m.by_addr.len())
            .unwrap_or(0)
    }
}

fn addr(sql: &'static str) -> (usize, usize) {
    (sql.as_ptr() as usize, sql.len())
}
