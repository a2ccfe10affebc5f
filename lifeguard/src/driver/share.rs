//! Which statements may share one `Sync` with other callers' statements.
//!
//! Statements that share a `Sync` run in one implicit transaction: when one fails, the
//! server rolls back what the ones before it did and skips the ones after it (those are
//! sent again, see `Conn::send_shared`). That is harmless only for statements that write
//! nothing, so the test is deliberately narrow and decided once per prepared statement from
//! its text: one `SELECT`, `VALUES` or `WITH … SELECT`, no word that writes or locks
//! (`INSERT`, `UPDATE`, `DELETE`, `MERGE`, `INTO`, `FOR`, `COPY`, …), and every call is to a
//! built-in known to write nothing. A user-defined or schema-qualified function, a type
//! modifier (`varchar(10)`) or a column-alias list (`AS t(a, b)`) looks like a call the text
//! cannot vouch for, so such a statement keeps its own `Sync`. A statement that passes is
//! then checked against the catalog the first time it runs outside a transaction on a
//! connection with sharing on: a view (at any depth), a row-security policy or a child
//! table that calls a volatile function, or a foreign table, among the relations its words
//! name, keeps it out too.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::driver::conn::Conn;
use crate::driver::query;
use crate::driver::statement::{Sharing, Statement};
use crate::error::Result;
use crate::observe::query::QueryObserver;

/// Words that end the test: they write, lock, or leave the single-query shape.
const REFUSED: &[&str] = &[
    "insert", "update", "delete", "merge", "into", "for", "share", "copy", "lock", "call", "do",
    "set", "notify", "listen", "unlisten", "prepare", "execute", "truncate",
];

/// Words followed by a parenthesis that are syntax, not a function call.
#[rustfmt::skip]
const SYNTAX: &[&str] = &[
    "select", "from", "where", "and", "or", "not", "in", "exists", "any", "all", "some", "as",
    "on", "join", "lateral", "using", "values", "row", "array", "over", "filter", "group", "by",
    "when", "then", "else", "is", "like", "ilike", "between", "having", "limit", "offset",
    "distinct", "union", "intersect", "except", "with", "cast", "extract", "coalesce", "nullif",
    "greatest", "least", "position", "substring", "trim", "overlay",
];

/// Built-in functions that write nothing (the volatile ones here, like `random`, have no
/// effect a rollback could undo).
#[rustfmt::skip]
const PURE: &[&str] = &[
    "count", "sum", "avg", "min", "max", "array_agg", "string_agg", "json_agg", "jsonb_agg",
    "json_object_agg", "jsonb_object_agg", "bool_and", "bool_or", "every", "json_build_object",
    "jsonb_build_object", "json_build_array", "jsonb_build_array", "to_json", "to_jsonb",
    "row_to_json", "jsonb_typeof", "jsonb_array_elements", "json_array_elements",
    "jsonb_extract_path", "jsonb_extract_path_text", "jsonb_array_length", "lower", "upper",
    "length", "char_length", "octet_length", "concat", "concat_ws", "replace", "left", "right",
    "lpad", "rpad", "ltrim", "rtrim", "btrim", "split_part", "strpos", "starts_with", "substr",
    "reverse", "initcap", "format", "md5", "regexp_replace", "regexp_match", "regexp_matches",
    "abs", "ceil", "ceiling", "floor", "round", "trunc", "mod", "power", "sqrt", "sign",
    "random", "now", "date_trunc", "date_part", "age", "to_char", "to_date", "to_timestamp",
    "to_number", "make_date", "make_interval", "unnest", "array_length", "cardinality",
    "array_position", "array_remove", "array_to_string", "string_to_array", "generate_series",
    "row_number", "rank", "dense_rank", "lag", "lead", "first_value", "last_value", "ntile",
    "percent_rank", "cume_dist",
];

/// One lexical item; literals, comments and parameters carry nothing the test needs.
#[derive(Debug, PartialEq)]
enum Tok<'a> {
    /// An unquoted word, as written.
    Word(&'a str),
    /// A double-quoted identifier, between its quotes (a doubled quote still doubled).
    Quoted(&'a str),
    Punct(u8),
    /// A string, number, parameter or comment.
    Other,
}

/// Splits `sql` into [`Tok`]s; `None` for text it cannot read (an unterminated literal).
fn lex(sql: &str) -> Option<Vec<Tok<'_>>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                // Block comments nest in PostgreSQL.
                let mut depth = 0usize;
                loop {
                    match (b.get(i), b.get(i + 1)) {
                        (Some(b'/'), Some(b'*')) => (depth, i) = (depth + 1, i + 2),
                        (Some(b'*'), Some(b'/')) => {
                            (depth, i) = (depth - 1, i + 2);
                            if depth == 0 {
                                break;
                            }
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => return None,
                    }
                }
                out.push(Tok::Other);
            }
            b'\'' => {
                // `E'…'` strings take backslash escapes; `''` is a quote in every kind.
                let escapes =
                    matches!(out.last(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case("e"));
                i = past_quoted(b, i, escapes)?;
                out.push(Tok::Other);
            }
            b'"' => {
                let start = i;
                i = past_quoted(b, i, false)?;
                out.push(Tok::Quoted(&sql[start + 1..i - 1]));
            }
            b'$' => {
                let start = i;
                i += 1;
                if b.get(i).is_some_and(u8::is_ascii_digit) {
                    // A parameter, `$1`.
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        i += 1;
                    }
                } else {
                    // A dollar-quoted string, `$tag$ … $tag$`.
                    while b
                        .get(i)
                        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
                    {
                        i += 1;
                    }
                    if b.get(i) != Some(&b'$') {
                        return None;
                    }
                    let tag = &sql[start..=i];
                    let body = i + 1;
                    let end = sql[body..].find(tag)?;
                    i = body + end + tag.len();
                }
                out.push(Tok::Other);
            }
            _ if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while b.get(i).is_some_and(|&c| {
                    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
                }) {
                    i += 1;
                }
                out.push(Tok::Word(&sql[start..i]));
            }
            _ if c.is_ascii_digit() => {
                while b
                    .get(i)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'.')
                {
                    i += 1;
                }
                out.push(Tok::Other);
            }
            _ => {
                out.push(Tok::Punct(c));
                i += 1;
            }
        }
    }
    Some(out)
}

/// The index just past the quoted text opening at `b[start]` (a `'` string or a `"`
/// identifier, where a doubled quote stands for itself; `backslash`: `\` escapes the next
/// byte, as in `E'…'`), or `None` when it never closes.
fn past_quoted(b: &[u8], start: usize, backslash: bool) -> Option<usize> {
    let quote = b[start];
    let mut i = start + 1;
    loop {
        match *b.get(i)? {
            b'\\' if backslash => i += 2,
            c if c == quote && b.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
}

fn is_in(word: &str, list: &[&str]) -> bool {
    list.iter().any(|w| w.eq_ignore_ascii_case(word))
}

/// True when `sql` may share a `Sync` with other callers' statements as far as its text
/// tells (see the module docs). When unsure the answer is `false`, which is always correct.
#[cfg(test)]
fn shares_sync(sql: &str) -> bool {
    lex(sql).is_some_and(|toks| text_shares(&toks))
}

fn text_shares(toks: &[Tok<'_>]) -> bool {
    let first = toks.iter().find(|t| **t != Tok::Other);
    if !matches!(first, Some(Tok::Word(w)) if is_in(w, &["select", "values", "with"])) {
        return false;
    }
    for (i, tok) in toks.iter().enumerate() {
        match tok {
            Tok::Word(w) if is_in(w, REFUSED) => return false,
            Tok::Punct(b';') => return false,
            Tok::Punct(b'(') if i > 0 => match &toks[i - 1] {
                Tok::Word(w) => {
                    let qualified = i >= 2 && toks[i - 2] == Tok::Punct(b'.');
                    if qualified || !(is_in(w, SYNTAX) || is_in(w, PURE)) {
                        return false;
                    }
                }
                Tok::Quoted(_) => return false,
                _ => {}
            },
            _ => {}
        }
    }
    true
}

/// The identifiers in `sql` that may name a relation: every unquoted word (folded to lower
/// case, as the server folds it) and every quoted identifier. Keywords among them match no
/// relation, or a relation the check then looks at needlessly, which is safe.
fn names(toks: &[Tok<'_>]) -> Vec<String> {
    let mut out: Vec<String> = toks
        .iter()
        .filter_map(|t| match t {
            Tok::Word(w) => Some(w.to_ascii_lowercase()),
            Tok::Quoted(q) => Some(q.replace("\"\"", "\"")),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether reading a relation the text names can run a volatile function: in a view's
/// definition (and the views it reads, at any depth), in a row-security policy, or on a
/// partition or child table, or whether a foreign table is read. The text test cannot see
/// those calls, and a volatile function may write (an audit insert, `pg_notify`,
/// `set_config`), which a failure elsewhere in a shared batch would roll back. The calls
/// are read from the stored expression trees (`:funcid`, `:opfuncid`, `:aggfnoid`,
/// `:winfnoid`, with an aggregate's transition and final functions), since pg_depend
/// records no dependency on built-ins. Any schema's relation of a name counts, so the search
/// path cannot hide one.
const VOLATILE_BEHIND: &str = r#"WITH RECURSIVE edges(parent, child) AS (
    SELECT r.ev_class, d.refobjid
    FROM pg_catalog.pg_rewrite r
    JOIN pg_catalog.pg_depend d ON d.objid = r.oid
     AND d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
     AND d.refclassid = 'pg_catalog.pg_class'::pg_catalog.regclass
  UNION ALL
    SELECT i.inhparent, i.inhrelid FROM pg_catalog.pg_inherits i
), rel(oid) AS (
    SELECT c.oid FROM pg_catalog.pg_class c
    WHERE c.relname = ANY($1::pg_catalog.text[]) AND c.relkind IN ('r', 'p', 'v', 'f')
  UNION
    SELECT e.child FROM rel JOIN edges e ON e.parent = rel.oid
), tree(t) AS (
    SELECT r.ev_action::pg_catalog.text
    FROM rel JOIN pg_catalog.pg_rewrite r ON r.ev_class = rel.oid
  UNION ALL
    SELECT pg_catalog.concat(p.polqual::pg_catalog.text, ' ', p.polwithcheck::pg_catalog.text)
    FROM rel JOIN pg_catalog.pg_policy p ON p.polrelid = rel.oid
), called(fn) AS (
    SELECT m[1]::pg_catalog.oid
    FROM tree, pg_catalog.regexp_matches(tree.t, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\d+)', 'g') AS m
)
SELECT EXISTS (
    SELECT 1 FROM called
    JOIN pg_catalog.pg_proc p ON p.oid = called.fn
    LEFT JOIN pg_catalog.pg_aggregate a ON a.aggfnoid = p.oid
    LEFT JOIN pg_catalog.pg_proc t ON t.oid = a.aggtransfn
    LEFT JOIN pg_catalog.pg_proc f ON f.oid = a.aggfinalfn
    WHERE 'v' IN (p.provolatile, t.provolatile, f.provolatile)
) OR EXISTS (
    SELECT 1 FROM rel JOIN pg_catalog.pg_class c ON c.oid = rel.oid WHERE c.relkind = 'f'
)"#;

/// The text's verdict on a statement being prepared, with the identifiers the catalog
/// check will look up if it passes.
pub(crate) fn by_text(sql: &str) -> (Sharing, Vec<String>) {
    if sql == VOLATILE_BEHIND {
        // The check itself runs on its own `Sync`, so it asks no question of its own and
        // is not counted among the shared statements.
        return (Sharing::No, Vec::new());
    }
    match lex(sql) {
        Some(toks) if text_shares(&toks) => (Sharing::Unchecked, names(&toks)),
        _ => (Sharing::No, Vec::new()),
    }
}

/// Whether `stmt` shares a `Sync`; the first time, the catalog is asked. Called only
/// outside a transaction, so the check can neither abort one nor read its uncommitted
/// catalog. At most one check is in flight per connection: a caller arriving meanwhile runs
/// on its own `Sync` and leaves the question for a later use (thousands of coroutines
/// starting one statement at once prepare many copies of it, and a check each took the demo
/// from 0.2 s to 5 s). A failed check leaves the question open too, and drops the check's
/// own statement (a `DISCARD ALL` may have removed it on the server).
pub(crate) fn decided(conn: &Arc<Conn>, stmt: &Statement) -> bool {
    match stmt.sharing() {
        Sharing::Yes => true,
        Sharing::No => false,
        Sharing::Unchecked => {
            if conn.share_checking.swap(true, Ordering::Acquire) {
                return false;
            }
            let answer = volatile_behind(conn, stmt.names());
            conn.share_checking.store(false, Ordering::Release);
            match answer {
                Ok(volatile) => {
                    let sharing = if volatile { Sharing::No } else { Sharing::Yes };
                    stmt.set_sharing(sharing);
                    !volatile
                }
                Err(e) => {
                    tracing::debug!(error = %e, "shared Sync: the catalog check failed; not sharing");
                    // Taken out first: closing it must not run under the slot's lock.
                    let stale = check_slot(conn).take();
                    drop(stale);
                    false
                }
            }
        }
    }
}

/// The connection's slot for the check statement.
fn check_slot(conn: &Conn) -> std::sync::MutexGuard<'_, Option<Statement>> {
    conn.share_check.lock().unwrap_or_else(|p| p.into_inner())
}

fn volatile_behind(conn: &Arc<Conn>, names: &[String]) -> Result<bool> {
    let cached = check_slot(conn).clone();
    let stmt = match cached {
        Some(s) => s,
        None => {
            let s = query::prepare(conn, None, VOLATILE_BEHIND)?;
            // A concurrent first use may have stored one too; either answers the same.
            let other = check_slot(conn).replace(s.clone());
            drop(other);
            s
        }
    };
    let resp = query::start(conn, None, &stmt, &[&names])?;
    query::RowStream::new(resp, stmt, QueryObserver::none())
        .one()?
        .try_get(0)
}

#[cfg(test)]
mod tests {
    use super::{lex, names, shares_sync};

    #[test]
    fn names_fold_words_and_keep_quoted_identifiers() {
        let toks =
            lex(r#"SELECT a FROM Audit_View, "Mixed""Case" WHERE b = 'lit' -- tail"#).unwrap();
        assert_eq!(
            names(&toks),
            [
                "Mixed\"Case",
                "a",
                "audit_view",
                "b",
                "from",
                "select",
                "where"
            ]
        );
    }

    #[test]
    fn reads_of_builtins_share() {
        for sql in [
            "SELECT id, randomnumber FROM world WHERE id = $1",
            "select title from film where film_id = $1",
            "SELECT count(*), max(a) FROM t WHERE b IN (SELECT c FROM u) AND lower(d) = $1",
            "SELECT * FROM t WHERE id = ANY($1) ORDER BY (a + 1)",
            "SELECT coalesce(a, 0), row_number() OVER (PARTITION BY b ORDER BY c) FROM t",
            "WITH f AS (SELECT * FROM film) SELECT count(*) FROM f",
            "VALUES (1), (2)",
            "SELECT 'update; delete' AS s, \"insert\" FROM t -- for update",
            "SELECT $q$ my_function( $q$, E'it\\'s', /* nextval( /* nested */ */ 1",
            "SELECT 100 / $2::int4 AS q FROM film WHERE film_id = $1",
        ] {
            assert!(shares_sync(sql), "{sql}");
        }
    }

    #[test]
    fn writes_locks_and_unknown_calls_keep_their_own_sync() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR KEY SHARE",
            "SELECT * INTO new_t FROM t",
            "SELECT nextval('s')",
            "SELECT my_function($1)",
            "SELECT pg_advisory_lock(1)",
            "SELECT set_config('a', 'b', false)",
            "SELECT public.lower(a) FROM t",
            "SELECT pg_catalog.lower(a) FROM t",
            "SELECT \"count\"(a) FROM t",
            "SELECT $1::varchar(10)",
            "SELECT x FROM unnest($1::int4[]) AS v(x)",
            "SELECT 1; SELECT 2",
            "SHOW search_path",
            "EXPLAIN SELECT 1",
            "BEGIN",
            "SELECT 'unterminated",
            "SELECT $tag$ unterminated",
            "",
        ] {
            assert!(!shares_sync(sql), "{sql}");
        }
    }
}
