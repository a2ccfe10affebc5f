//! What a cached row is: the row's columns exactly as Postgres sent them (a DataRow body in
//! the binary format: an `i16` count, then per column an `i32` length, -1 for NULL, and the
//! bytes), read with `SELECT * …` by the app and `SELECT t.*, … ` by the reflector. Both
//! therefore store the same bytes for the same row version, and a hit decodes with the
//! same code as a database row, with no serialization format in between.
//!
//! Next to the bytes goes a fingerprint of the column names and types: a hit whose
//! fingerprint differs from the current statement's (the table was altered) is a miss.

use bytes::Bytes;

use crate::driver::row::Row;
use crate::driver::statement::{Column, Statement};
use crate::error::{Error, ErrorKind, Result};

/// The column holding a row's version, stamped by the reflector's install trigger.
pub const VERSION_COLUMN: &str = "lifeguard_version";

/// Encodes the first `columns` columns of `row` as a DataRow body.
pub fn encode(row: &Row, columns: usize) -> Vec<u8> {
    let n = columns.min(row.len());
    let mut out = Vec::with_capacity(2 + n * 8 + row.raw_len());
    out.extend_from_slice(&(n as i16).to_be_bytes());
    for i in 0..n {
        match row.raw(i) {
            Some(bytes) => {
                out.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                out.extend_from_slice(bytes);
            }
            None => out.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
    out
}

/// Decodes a stored body into a row described by `statement`'s columns (a body with another
/// column count is refused by [`Row::parse`]).
pub(crate) fn decode(statement: &Statement, body: &[u8]) -> Result<Row> {
    Row::parse(statement.clone(), Bytes::copy_from_slice(body)).map_err(|e| {
        Error::new(
            ErrorKind::Cache,
            format!("a cached row does not parse: {e}"),
            None,
        )
    })
}

/// FNV-1a over the first `n` columns' names and type OIDs.
pub fn fingerprint(columns: &[Column], n: usize) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for c in columns.iter().take(n) {
        eat(c.name().as_bytes());
        eat(&[0]);
        eat(&c.type_().oid().to_be_bytes());
    }
    h
}

/// The row's version (the `lifeguard_version` column), or 0 when the table has none.
pub fn version(row: &Row) -> i64 {
    row.columns()
        .iter()
        .position(|c| c.name() == VERSION_COLUMN)
        .and_then(|i| row.try_get::<_, Option<i64>>(i).ok().flatten())
        .unwrap_or(0)
}

/// One key part, escaped so that `:` separates parts (`%` → `%25`, `:` → `%3A`); the
/// install SQL's `lifeguard.key_part` does the same to the column's `::text`.
pub fn escape_part(part: &str, out: &mut String) {
    for ch in part.chars() {
        match ch {
            '%' => out.push_str("%25"),
            ':' => out.push_str("%3A"),
            c => out.push(c),
        }
    }
}

/// The key text of a (possibly composite) key: escaped parts joined with `:`.
pub fn key_text(parts: &[&str]) -> String {
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        escape_part(p, &mut out);
    }
    out
}

/// Splits a key text back into its parts.
pub fn split_key(text: &str) -> Vec<String> {
    text.split(':')
        .map(|p| p.replace("%3A", ":").replace("%25", "%"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_text_round_trips() {
        for parts in [vec!["1"], vec!["a:b", "100%", "x%3Ay"], vec!["", ":"]] {
            let text = key_text(&parts);
            assert_eq!(split_key(&text), parts, "{text}");
        }
        assert_eq!(key_text(&["a:b", "7"]), "a%3Ab:7");
    }
}
