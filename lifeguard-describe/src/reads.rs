//! Whether a statement only reads, so a replica router may run it on a replica.

use sqlparser::ast::{SetExpr, Statement};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Token, Tokenizer};

/// Built-in functions a `SELECT` may call that write, take locks or assign a transaction
/// id: a replica cannot run them.
const WRITING_FUNCTIONS: &[&str] = &[
    "nextval",
    "setval",
    "set_config",
    "pg_notify",
    "txid_current",
    "pg_current_xact_id",
    "pg_switch_wal",
    "pg_create_restore_point",
    "lo_create",
    "lo_creat",
    "lo_import",
    "lo_unlink",
    "lo_put",
    "lo_from_bytea",
    "pg_terminate_backend",
    "pg_cancel_backend",
];

/// True when `sql` is one `SELECT` or `VALUES` statement (with any read-only CTEs)
/// that neither locks rows (`FOR UPDATE`/`SHARE`), nor creates a table (`SELECT INTO`), nor
/// contains a data-modifying CTE, nor calls a built-in that writes (`nextval`, advisory
/// locks, `set_config`, …). When unsure the answer is `false`: the statement then runs on
/// the primary, which is always correct.
///
/// A user-defined function that writes cannot be seen from the text: a replica refuses it
/// with SQLSTATE 25006, and such a call belongs on the primary (a router's `write()`).
pub fn reads_only(sql: &str) -> bool {
    let dialect = PostgreSqlDialect {};
    let Ok(statements) = Parser::parse_sql(&dialect, sql) else {
        return false;
    };
    let [Statement::Query(query)] = statements.as_slice() else {
        return false;
    };
    if !matches!(
        *query.body,
        SetExpr::Select(_)
            | SetExpr::Query(_)
            | SetExpr::SetOperation { .. }
            | SetExpr::Values(_)
            | SetExpr::Table(_)
    ) {
        return false;
    }
    // The top level is a query; anything nested (CTE bodies, subqueries, locking clauses
    // anywhere) is caught by a scan of the unquoted words, outside literals and comments.
    let Ok(tokens) = Tokenizer::new(&dialect, sql).tokenize() else {
        return false;
    };
    let words = tokens.iter().filter(|t| !matches!(t, Token::Whitespace(_)));
    let mut prev_word: Option<String> = None;
    for token in words {
        match token {
            Token::Word(w) if w.quote_style.is_none() => {
                if matches!(
                    w.keyword,
                    Keyword::INSERT
                        | Keyword::UPDATE
                        | Keyword::DELETE
                        | Keyword::MERGE
                        | Keyword::INTO
                        | Keyword::SHARE
                        | Keyword::COPY
                ) {
                    return false;
                }
                prev_word = Some(w.value.to_ascii_lowercase());
            }
            Token::LParen => {
                if let Some(name) = prev_word.take() {
                    if WRITING_FUNCTIONS.contains(&name.as_str())
                        || name.starts_with("pg_advisory")
                        || name.starts_with("pg_try_advisory")
                    {
                        return false;
                    }
                }
            }
            _ => prev_word = None,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::reads_only;

    #[test]
    fn plain_reads() {
        for sql in [
            "SELECT 1",
            "select title from film where film_id = $1",
            "VALUES (1), (2)",
            "WITH f AS (SELECT * FROM film) SELECT count(*) FROM f",
            "SELECT a FROM t UNION ALL SELECT b FROM u",
            "SELECT 'update' AS s, \"insert\" FROM t -- for update",
            "SELECT now(), lower(name) FROM t",
        ] {
            assert!(reads_only(sql), "{sql}");
        }
    }

    #[test]
    fn writes_locks_and_unknowns() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "WITH i AS (INSERT INTO t VALUES (1) RETURNING a) SELECT a FROM i",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR NO KEY UPDATE",
            "SELECT * FROM t FOR SHARE",
            "SELECT * FROM t FOR KEY SHARE SKIP LOCKED",
            "SELECT * FROM (SELECT * FROM t FOR UPDATE) s",
            "SELECT * INTO new_t FROM t",
            "SELECT nextval('s')",
            "SELECT pg_advisory_lock(1)",
            "SELECT pg_catalog.set_config('a.b', 'c', false)",
            "CREATE TABLE t (a int)",
            "SHOW search_path",
            "EXPLAIN SELECT 1",
            "SELECT 1; SELECT 2",
            "not sql at all",
        ] {
            assert!(!reads_only(sql), "{sql}");
        }
    }
}
