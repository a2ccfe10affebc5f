//! The model side: `find_by_id` through the cache, and invalidation after a model write.
//!
//! A hit is one `HMGET`. A miss leases the key, reads the row from the primary (a replica
//! could hand back a row older than a change the reflector has already handled, and the
//! fill would then keep it until the TTL), and fills through the compare-and-set. A write
//! deletes the key after its transaction commits, which also voids any reader's lease, so a
//! reader that read before the commit cannot fill.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};

use redis::Value;

use super::{codec, Cache};
use crate::driver::statement::Statement;
use crate::model::Model;
use crate::{Executor, Result};

/// What `#[lifeguard(cache(ttl = "60s"))]` generates for a model.
#[derive(Debug)]
pub struct CacheSpec {
    /// The table as written in `table = ".."` (the key's `<table>` part, and the name
    /// the reflector's notifications carry).
    pub table: &'static str,
    /// How long a filled row stays cached, in milliseconds.
    pub ttl_ms: u64,
    /// `SELECT * FROM <table> WHERE <key> = $1 …`: every column, so the app's bytes are
    /// the reflector's bytes.
    pub select_row: &'static str,
}

/// One part of a cache key, as Postgres' `::text` of the column writes it.
pub trait KeyPart {
    /// Appends the part, escaped ([`codec::escape_part`]).
    fn push_part(&self, out: &mut String);
}

macro_rules! display_part {
    ($($t:ty),*) => {$(
        impl KeyPart for $t {
            fn push_part(&self, out: &mut String) {
                // Numbers and UUIDs print as Postgres prints them, with nothing to escape.
                let _ = write!(out, "{self}");
            }
        }
    )*};
}
display_part!(i16, i32, i64);
#[cfg(feature = "uuid")]
display_part!(uuid::Uuid);

impl KeyPart for str {
    fn push_part(&self, out: &mut String) {
        codec::escape_part(self, out);
    }
}
impl KeyPart for String {
    fn push_part(&self, out: &mut String) {
        codec::escape_part(self, out);
    }
}
impl KeyPart for bool {
    fn push_part(&self, out: &mut String) {
        out.push_str(if *self { "true" } else { "false" });
    }
}

/// A model key that names a cache key: one [`KeyPart`], or a tuple of them (composite
/// keys, parts joined with `:`).
pub trait CacheKey {
    /// The key text (the `<key>` of `<ns>:model:<table>:<key>`).
    fn key_text(&self) -> String;
}

macro_rules! single_key {
    ($($t:ty),*) => {$(
        impl CacheKey for $t {
            fn key_text(&self) -> String {
                let mut s = String::new();
                self.push_part(&mut s);
                s
            }
        }
    )*};
}
single_key!(i16, i32, i64, String, str, bool);
#[cfg(feature = "uuid")]
single_key!(uuid::Uuid);

macro_rules! tuple_key {
    ($($n:tt $t:ident),+) => {
        impl<$($t: KeyPart),+> CacheKey for ($($t,)+) {
            fn key_text(&self) -> String {
                let mut s = String::new();
                $(
                    if $n > 0 { s.push(':'); }
                    self.$n.push_part(&mut s);
                )+
                s
            }
        }
    };
}
tuple_key!(0 A, 1 B);
tuple_key!(0 A, 1 B, 2 C);
tuple_key!(0 A, 1 B, 2 C, 3 D);

/// How to decode a hit of one model: the `SELECT *` columns, their fingerprint, and where
/// each model field's column is among them.
pub(crate) struct Decoder {
    statement: Statement,
    fingerprint: u64,
    fields: Vec<usize>,
}

/// Per model (by its `ModelMeta`'s address).
#[derive(Default)]
pub(crate) struct Decoders(RwLock<HashMap<usize, Arc<Decoder>>>);

fn meta_id<M: Model>() -> usize {
    M::META as *const _ as usize
}

/// Where each of the model's columns is in `row_columns`.
fn field_positions<M: Model>(row_columns: &[crate::Column]) -> Option<Vec<usize>> {
    M::META
        .columns
        .iter()
        .map(|quoted| {
            let name = unquote(quoted);
            row_columns.iter().position(|c| c.name() == name)
        })
        .collect()
}

fn unquote(quoted: &str) -> String {
    match quoted.strip_prefix('"').and_then(|q| q.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => quoted.to_owned(),
    }
}

impl Decoders {
    fn get<M: Model>(&self) -> Option<Arc<Decoder>> {
        self.0.read().ok()?.get(&meta_id::<M>()).cloned()
    }

    fn learn<M: Model>(&self, columns: &[crate::Column]) -> Option<Arc<Decoder>> {
        let fields = field_positions::<M>(columns)?;
        let d = Arc::new(Decoder {
            statement: Statement::detached(columns.to_vec()),
            fingerprint: codec::fingerprint(columns, columns.len()),
            fields,
        });
        if let Ok(mut map) = self.0.write() {
            map.insert(meta_id::<M>(), d.clone());
        }
        Some(d)
    }
}

fn bulk(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        _ => None,
    }
}

fn miss(cache: &Cache) {
    cache.0.stats.misses.fetch_add(1, Ordering::Relaxed);
    crate::observe::counter!("lifeguard_cache_misses_total", 1);
}

/// `find_by_id` for a model with a [`CacheSpec`], when the executor has a cache.
pub(crate) fn find_by_id<M: Model>(
    exec: &(impl Executor + ?Sized),
    cache: &Cache,
    spec: &CacheSpec,
    key: &M::Key,
) -> Result<Option<M>> {
    let stats = &cache.0.stats;
    let rkey = cache.row_key(spec.table, &M::__cache_key(key));
    // Sized up front: `redis::cmd` grows its argument and data vectors per `arg`.
    let mut hmget = redis::Cmd::with_capacity(5, rkey.len() + 8);
    hmget.arg("HMGET").arg(&rkey).arg("k").arg("f").arg("d");
    let got = cache.cmd(&hmget);
    let fields = match got {
        Ok(Value::Array(f)) if f.len() == 3 => f,
        // Redis is down or slow (counted, and the breaker heard of it): the database.
        _ => {
            miss(cache);
            return crate::model::find_uncached::<M>(exec, key);
        }
    };
    match bulk(&fields[0]) {
        Some(b"r") => {
            if let Some(m) = decode_hit::<M>(exec, cache, &fields)? {
                stats.hits.fetch_add(1, Ordering::Relaxed);
                crate::observe::counter!("lifeguard_cache_hits_total", 1);
                return Ok(Some(m));
            }
            miss(cache);
            crate::model::find_uncached::<M>(exec, key)
        }
        // Another reader's lease, or a tombstone: read, but do not fill.
        Some(_) => {
            miss(cache);
            crate::model::find_uncached::<M>(exec, key)
        }
        None => {
            miss(cache);
            fill::<M>(exec, cache, spec, key, &rkey)
        }
    }
}

/// Decodes a hit; `None` when it cannot be used (its columns changed since it was cached).
fn decode_hit<M: Model>(
    exec: &(impl Executor + ?Sized),
    cache: &Cache,
    fields: &[Value],
) -> Result<Option<M>> {
    let (Some(fp), Some(body)) = (bulk(&fields[1]), bulk(&fields[2])) else {
        return Ok(None);
    };
    let decoders = &cache.0.decoders;
    let decoder = match decoders.get::<M>() {
        Some(d) => d,
        None => {
            let spec = M::CACHE.expect("a cached model has a spec");
            let stmt = match exec.prepare(spec.select_row) {
                Ok(s) => s,
                Err(_) => return Ok(None),
            };
            match decoders.learn::<M>(stmt.columns()) {
                Some(d) => d,
                None => return Ok(None),
            }
        }
    };
    if std::str::from_utf8(fp)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        != Some(decoder.fingerprint)
    {
        return Ok(None);
    }
    match codec::decode(&decoder.statement, body) {
        Ok(row) => M::__from_row_at(&row, &decoder.fields).map(Some),
        Err(_) => Ok(None),
    }
}

/// A miss: lease, read the primary, fill if the lease still holds.
fn fill<M: Model>(
    exec: &(impl Executor + ?Sized),
    cache: &Cache,
    spec: &CacheSpec,
    key: &M::Key,
    rkey: &str,
) -> Result<Option<M>> {
    // A Redis error here only means no fill.
    let lease = cache.lease(rkey).ok().flatten();
    let Some(row) = M::__with_key(key, |params| exec.query_opt(spec.select_row, params))? else {
        return Ok(None);
    };
    let positions = field_positions::<M>(row.columns()).ok_or_else(|| {
        crate::Error::usage(format!(
            "{}: a model column is missing from `SELECT *`",
            M::META.table
        ))
    })?;
    let model = M::__from_row_at(&row, &positions)?;
    if let Some(lease) = lease {
        if cache.0.decoders.get::<M>().is_none() {
            cache.0.decoders.learn::<M>(row.columns());
        }
        let n = row.len();
        let body = codec::encode(&row, n);
        let fp = codec::fingerprint(row.columns(), n);
        let ttl = std::time::Duration::from_millis(spec.ttl_ms);
        let _ = cache.fill(&lease, codec::version(&row), (&body, fp), ttl);
    }
    Ok(Some(model))
}

/// After a model write: delete the row's key once the write is committed (at once outside
/// a transaction). A Redis that cannot be reached then leaves the key to its TTL and the
/// reflector.
pub(crate) fn after_write<M: Model>(exec: &(impl Executor + ?Sized), key_text: String) {
    after_writes::<M>(exec, vec![key_text]);
}

/// [`after_write`] for many rows (a bulk write): one `DEL` per 1,000 keys.
pub(crate) fn after_writes<M: Model>(exec: &(impl Executor + ?Sized), key_texts: Vec<String>) {
    let (Some(spec), Some(cache)) = (M::CACHE, exec.__cache()) else {
        return;
    };
    if key_texts.is_empty() {
        return;
    }
    let keys: Vec<String> = key_texts
        .iter()
        .map(|k| cache.row_key(spec.table, k))
        .collect();
    let cache = cache.clone();
    exec.__after_commit(Box::new(move || {
        for chunk in keys.chunks(1000) {
            let _ = cache.cmd(redis::cmd("DEL").arg(chunk));
        }
    }));
}
