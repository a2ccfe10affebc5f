//! Migration files: parsing their names, reading a folder, checksums, and splitting a file
//! into statements (so a failure can name its line and `no-transaction` files can run
//! statements the server refuses inside a transaction block).

use std::borrow::Cow;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Migration, MigrationKind};
use crate::error::{Error, ErrorKind, Result};

/// The first-line marker that makes a migration run outside a transaction.
pub const NO_TRANSACTION: &str = "-- lifeguard:no-transaction";

/// What a migration file name says: `<version>_<description>.sql`, `.up.sql` or `.down.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName {
    /// The integer version before the first `_`.
    pub version: i64,
    /// The rest of the name, `_` turned into spaces.
    pub description: String,
    /// Simple, up or down.
    pub kind: MigrationKind,
}

/// Parses a migration file name; `None` for files that are not `.sql`, an error for `.sql`
/// files whose name does not follow the pattern (silently skipping them would hide typos).
pub fn parse_file_name(name: &str) -> Result<Option<FileName>> {
    let Some(stem) = name.strip_suffix(".sql") else {
        return Ok(None);
    };
    let (stem, kind) = if let Some(s) = stem.strip_suffix(".up") {
        (s, MigrationKind::Up)
    } else if let Some(s) = stem.strip_suffix(".down") {
        (s, MigrationKind::Down)
    } else {
        (stem, MigrationKind::Simple)
    };
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Migrate,
            format!(
                "malformed migration file name `{name}`: {why} \
                 (expected `<version>_<description>.sql`, `.up.sql` or `.down.sql`)"
            ),
            None,
        )
    };
    let (version, description) = stem
        .split_once('_')
        .ok_or_else(|| bad("no `_` after the version"))?;
    if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the version is not an integer"));
    }
    let version: i64 = version
        .parse()
        .map_err(|_| bad("the version does not fit in 64 bits"))?;
    if description.is_empty() {
        return Err(bad("the description is empty"));
    }
    Ok(Some(FileName {
        version,
        description: description.replace('_', " "),
        kind,
    }))
}

/// SHA-256 of the text with CRLF turned into LF, so a Windows checkout has the same checksum.
pub fn checksum(sql: &str) -> Vec<u8> {
    let mut hasher = Sha256::new();
    if sql.contains('\r') {
        hasher.update(sql.replace("\r\n", "\n").as_bytes());
    } else {
        hasher.update(sql.as_bytes());
    }
    hasher.finalize().to_vec()
}

/// True when the file's first line is the `-- lifeguard:no-transaction` marker.
pub fn is_no_transaction(sql: &str) -> bool {
    let first = sql
        .trim_start_matches('\u{feff}')
        .lines()
        .next()
        .unwrap_or("");
    first.trim() == NO_TRANSACTION
}

/// Builds migrations from `(file name, text)` pairs, checking that versions are unique and
/// that every down file has its up file.
pub fn build(files: Vec<(Cow<'static, str>, Cow<'static, str>)>) -> Result<Vec<Migration>> {
    let mut out: Vec<Migration> = Vec::new();
    for (name, sql) in files {
        let Some(parsed) = parse_file_name(&name)? else {
            continue;
        };
        // A byte-order mark is not SQL: leave it out of what runs and what is hashed.
        let sql = match sql {
            Cow::Borrowed(t) => Cow::Borrowed(t.strip_prefix('\u{feff}').unwrap_or(t)),
            Cow::Owned(t) => match t.strip_prefix('\u{feff}') {
                Some(rest) => Cow::Owned(rest.to_owned()),
                None => Cow::Owned(t),
            },
        };
        out.push(Migration {
            version: parsed.version,
            description: parsed.description,
            kind: parsed.kind,
            checksum: checksum(&sql),
            no_transaction: is_no_transaction(&sql),
            file: name,
            sql,
        });
    }
    out.sort_by_key(|a| (a.version, a.kind));
    for pair in out.windows(2) {
        if pair[0].version == pair[1].version
            && (pair[0].kind == pair[1].kind || pair[0].kind == MigrationKind::Simple)
        {
            return Err(Error::new(
                ErrorKind::Migrate,
                format!(
                    "two migrations have version {}: `{}` and `{}`",
                    pair[0].version, pair[0].file, pair[1].file
                ),
                None,
            ));
        }
    }
    for m in out.iter().filter(|m| m.kind == MigrationKind::Down) {
        // The pair shares version and description: `1_a.down.sql` goes with `1_a.up.sql`.
        let up = format!("{}.up.sql", m.file.trim_end_matches(".down.sql"));
        if !out
            .iter()
            .any(|u| u.kind == MigrationKind::Up && u.file == up)
        {
            return Err(Error::new(
                ErrorKind::Migrate,
                format!("`{}` has no matching `.up.sql` file (`{up}`)", m.file),
                None,
            ));
        }
    }
    Ok(out)
}

/// Reads every `.sql` file of a folder.
pub fn read_dir(dir: &Path) -> Result<Vec<Migration>> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::new(
            ErrorKind::Migrate,
            format!("cannot read the migrations folder `{}`", dir.display()),
            Some(Box::new(e)),
        )
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| {
            Error::new(
                ErrorKind::Migrate,
                format!("cannot read the migrations folder `{}`", dir.display()),
                Some(Box::new(e)),
            )
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") || !entry.path().is_file() {
            continue;
        }
        let sql = std::fs::read_to_string(entry.path()).map_err(|e| {
            Error::new(
                ErrorKind::Migrate,
                format!("cannot read `{}`", entry.path().display()),
                Some(Box::new(e)),
            )
        })?;
        files.push((Cow::Owned(name), Cow::Owned(sql)));
    }
    build(files)
}

/// One statement of a file: its text and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement<'a> {
    /// Byte offset of `text` in the file.
    pub offset: usize,
    /// The statement, without its terminating `;`.
    pub text: &'a str,
}

/// Splits SQL at top-level `;`, honouring quotes, `$tag$` bodies, comments and
/// `BEGIN ATOMIC … END` function bodies. Statements holding only comments/space are dropped.
pub fn split(sql: &str) -> Vec<Statement<'_>> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    // Depth of BEGIN/CASE … END inside a CREATE FUNCTION/PROCEDURE (SQL-standard bodies).
    let mut depth = 0usize;
    // Parentheses: `CREATE RULE … DO ALSO (a; b)` keeps its `;` inside.
    let mut parens = 0usize;
    let mut routine = false;
    let mut words = 0usize;
    fn push<'a>(out: &mut Vec<Statement<'a>>, sql: &'a str, from: usize, to: usize) {
        let text = &sql[from..to];
        if has_code(text) {
            out.push(Statement { offset: from, text });
        }
    }
    while i < b.len() {
        match b[i] {
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let mut nest = 0;
                while i < b.len() {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        nest += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        nest -= 1;
                        i += 2;
                        if nest == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            q @ (b'\'' | b'"') => {
                // E'…' strings take backslash escapes.
                let escapes = q == b'\''
                    && i > 0
                    && matches!(b[i - 1], b'e' | b'E')
                    && (i < 2 || !is_ident(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
                i += 1;
            }
            b'$' if i == 0 || !is_ident(b[i - 1]) => {
                let tag_end = b[i + 1..]
                    .iter()
                    .position(|c| !is_ident(*c))
                    .map(|p| i + 1 + p);
                match tag_end {
                    Some(e)
                        if b[e] == b'$' && !b[i + 1..e].first().is_some_and(u8::is_ascii_digit) =>
                    {
                        let tag = &sql[i..=e];
                        match sql[e + 1..].find(tag) {
                            Some(p) => i = e + 1 + p + tag.len(),
                            None => i = b.len(),
                        }
                    }
                    _ => i += 1,
                }
            }
            b'(' => {
                parens += 1;
                i += 1;
            }
            b')' => {
                parens = parens.saturating_sub(1);
                i += 1;
            }
            b';' if depth == 0 && parens == 0 => {
                push(&mut out, sql, start, i);
                i += 1;
                start = i;
                routine = false;
                words = 0;
            }
            c if is_ident(c) && !c.is_ascii_digit() => {
                let w0 = i;
                while i < b.len() && is_ident(b[i]) {
                    i += 1;
                }
                let word = &sql[w0..i];
                words += 1;
                if words <= 4
                    && (word.eq_ignore_ascii_case("function")
                        || word.eq_ignore_ascii_case("procedure"))
                {
                    routine = true;
                }
                // Inside parentheses BEGIN/END are names (a parameter called `begin`) or
                // balanced CASE … END expressions.
                if routine && parens == 0 {
                    if word.eq_ignore_ascii_case("begin") || word.eq_ignore_ascii_case("case") {
                        depth += 1;
                    } else if word.eq_ignore_ascii_case("end") && depth > 0 {
                        depth -= 1;
                    }
                }
            }
            _ => i += 1,
        }
    }
    push(&mut out, sql, start, b.len());
    out
}

/// The first top-level statement that starts or ends a transaction (`BEGIN`, `START
/// TRANSACTION`, `COMMIT`, `END`, `ROLLBACK` but not `ROLLBACK TO`, `ABORT`, `PREPARE
/// TRANSACTION`): its byte offset and its first word. Such a statement inside a migration
/// that runs in a transaction would commit part of it.
pub fn transaction_control(sql: &str) -> Option<(usize, String)> {
    split(sql).into_iter().find_map(|stmt| {
        let at = code_start(stmt.text);
        let mut words = stmt.text[at..]
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| !w.is_empty())
            .map(str::to_ascii_lowercase);
        let first = words.next()?;
        let second = words.next().unwrap_or_default();
        let controls = match first.as_str() {
            "begin" | "start" | "commit" | "end" | "abort" => true,
            "rollback" => second != "to",
            "prepare" => second == "transaction",
            _ => false,
        };
        controls.then(|| (stmt.offset + at, first.to_ascii_uppercase()))
    })
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
}

/// True when the text holds something other than space and comments.
fn has_code(text: &str) -> bool {
    let mut rest = text.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |x| x.1).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |x| x.1).trim_start();
        } else {
            return !rest.is_empty();
        }
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(sql: &str, byte: usize) -> usize {
    sql.as_bytes()[..byte.min(sql.len())]
        .iter()
        .filter(|c| **c == b'\n')
        .count()
        + 1
}

/// The byte offset of the first code (not space or comment) in a statement.
pub fn code_start(text: &str) -> usize {
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        if let Some(r) = trimmed.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |x| x.1);
        } else if let Some(r) = trimmed.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |x| x.1);
        } else {
            return text.len() - trimmed.len();
        }
    }
}

/// The byte offset of a 1-based character position (what the server reports).
pub fn char_to_byte(text: &str, position: u32) -> usize {
    text.char_indices()
        .nth((position as usize).saturating_sub(1))
        .map_or(text.len(), |(b, _)| b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names() {
        let f = parse_file_name("20240101000000_create_notes.up.sql")
            .unwrap()
            .unwrap();
        assert_eq!(f.version, 20240101000000);
        assert_eq!(f.description, "create notes");
        assert_eq!(f.kind, MigrationKind::Up);
        assert_eq!(
            parse_file_name("1_x.down.sql").unwrap().unwrap().kind,
            MigrationKind::Down
        );
        assert_eq!(
            parse_file_name("7_x.sql").unwrap().unwrap().kind,
            MigrationKind::Simple
        );
        assert_eq!(parse_file_name("README.md").unwrap(), None);
        for bad in [
            "x_y.sql",
            "12.sql",
            "12_.sql",
            "_a.sql",
            "99999999999999999999_a.sql",
        ] {
            let e = parse_file_name(bad).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Migrate);
            assert!(e.to_string().contains(bad), "{e}");
        }
    }

    #[test]
    fn checksum_ignores_crlf() {
        assert_eq!(checksum("a;\r\nb;\r\n"), checksum("a;\nb;\n"));
        assert_ne!(checksum("a;\nb;\n"), checksum("a;\nc;\n"));
        assert_eq!(checksum("").len(), 32);
    }

    #[test]
    fn no_transaction_marker() {
        assert!(is_no_transaction("-- lifeguard:no-transaction\nVACUUM;"));
        assert!(is_no_transaction(
            "-- lifeguard:no-transaction  \r\nVACUUM;"
        ));
        assert!(!is_no_transaction("SELECT 1;\n-- lifeguard:no-transaction"));
    }

    #[test]
    fn splits_statements() {
        let sql = "CREATE TABLE a (x text default ';');\n-- c; c\n/* a; /* b; */ */\
                   INSERT INTO a VALUES ($$;$$), ($f$ ; $f$), (E'\\';'), (\"q;\");\n\
                   CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 2 END; END;\n\
                   SELECT $1;\n-- only a comment;\n";
        let parts: Vec<_> = split(sql).into_iter().map(|s| s.text.trim()).collect();
        assert_eq!(parts.len(), 4, "{parts:#?}");
        assert!(parts[0].starts_with("CREATE TABLE"));
        assert!(parts[1].contains("INSERT") && parts[1].ends_with("(\"q;\")"));
        assert!(parts[2].ends_with("END; END"));
        assert_eq!(parts[3], "SELECT $1");
    }

    #[test]
    fn e_strings_need_a_lone_e() {
        // `LIKE'…'` is a plain string: its backslash does not escape the closing quote.
        let parts = split("SELECT 1 WHERE 'a' LIKE'\\'; SELECT E'\\';'; SELECT 3");
        let parts: Vec<_> = parts.iter().map(|s| s.text.trim()).collect();
        assert_eq!(
            parts,
            ["SELECT 1 WHERE 'a' LIKE'\\'", "SELECT E'\\';'", "SELECT 3"]
        );
    }

    #[test]
    fn positions_to_lines() {
        let sql = "é\nSELECT\n  bad";
        assert_eq!(line_of(sql, char_to_byte(sql, 12)), 3);
        assert_eq!(code_start("  -- x\n /* y */ SELECT"), 16);
    }
}
