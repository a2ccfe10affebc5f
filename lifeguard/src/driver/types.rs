//! Resolving type OIDs the client does not know (enums, domains, composites, ranges and
//! arrays of them) from the catalog, cached per connection.

use std::sync::Arc;

use postgres_types::{Field, Kind, Oid, Type};

use crate::driver::conn::{Conn, Token};
use crate::driver::query;
use crate::driver::row::Row;
use crate::error::Result;

const TYPEINFO: &str = "SELECT t.typname, t.typtype, t.typelem, r.rngsubtype, t.typbasetype, \
     n.nspname, t.typrelid, t.typcategory \
     FROM pg_catalog.pg_type t \
     LEFT OUTER JOIN pg_catalog.pg_range r ON r.rngtypid = t.oid \
     INNER JOIN pg_catalog.pg_namespace n ON t.typnamespace = n.oid \
     WHERE t.oid = $1";
const ENUM_LABELS: &str =
    "SELECT enumlabel FROM pg_catalog.pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder";
const COMPOSITE_FIELDS: &str = "SELECT attname, atttypid FROM pg_catalog.pg_attribute \
     WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum";

fn rows(conn: &Arc<Conn>, token: Option<Token>, sql: &str, oid: Oid) -> Result<Vec<Row>> {
    let stmt = match conn.statements.get(sql) {
        Some(s) => s,
        None => {
            let s = query::prepare(conn, token, sql)?;
            conn.statements.insert(sql, s.clone());
            s
        }
    };
    query::RowStream::new(
        query::start(conn, token, &stmt, &[&oid])?,
        stmt,
        crate::observe::query::QueryObserver::none(),
    )
    .collect()
}

/// The `Type` for `oid`, querying the catalog (with the caller's gate token) when needed.
pub(crate) fn resolve_type(conn: &Arc<Conn>, token: Option<Token>, oid: Oid) -> Result<Type> {
    if let Some(t) = Type::from_oid(oid) {
        return Ok(t);
    }
    if let Some(t) = conn
        .types
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&oid)
    {
        return Ok(t.clone());
    }
    let found = rows(conn, token, TYPEINFO, oid)?;
    let Some(row) = found.first() else {
        // A type dropped since the statement was described: still usable as raw bytes.
        return Ok(Type::new(
            format!("oid{oid}"),
            oid,
            Kind::Simple,
            String::new(),
        ));
    };
    let name: String = row.try_get(0)?;
    let typtype: i8 = row.try_get(1)?;
    let elem: Oid = row.try_get(2)?;
    let range_subtype: Option<Oid> = row.try_get(3)?;
    let base: Oid = row.try_get(4)?;
    let schema: String = row.try_get(5)?;
    let relid: Oid = row.try_get(6)?;
    let category: i8 = row.try_get(7)?;
    let kind = match typtype as u8 {
        b'e' => {
            let labels = rows(conn, token, ENUM_LABELS, oid)?
                .iter()
                .map(|r| r.try_get::<_, String>(0))
                .collect::<Result<Vec<_>>>()?;
            Kind::Enum(labels)
        }
        b'p' => Kind::Pseudo,
        b'd' => Kind::Domain(resolve_type(conn, token, base)?),
        b'r' => match range_subtype {
            Some(sub) => Kind::Range(resolve_type(conn, token, sub)?),
            None => Kind::Simple,
        },
        b'c' => {
            let mut fields = Vec::new();
            for r in rows(conn, token, COMPOSITE_FIELDS, relid)? {
                let fname: String = r.try_get(0)?;
                let ftype: Oid = r.try_get(1)?;
                fields.push(Field::new(fname, resolve_type(conn, token, ftype)?));
            }
            Kind::Composite(fields)
        }
        _ if elem != 0 && category as u8 == b'A' => Kind::Array(resolve_type(conn, token, elem)?),
        _ => Kind::Simple,
    };
    let ty = Type::new(name, oid, kind, schema);
    conn.types
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(oid, ty.clone());
    Ok(ty)
}
