//! Getting a statement's description: prepared on the database named by `DATABASE_URL`
//! (through one connection per compiler process, shared by every macro call), or read from
//! the offline folder. With `LIFEGUARD_PREPARE_DIR` set (by `lifeguard prepare`), each
//! description is also written there.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use lifeguard_describe::{describe as describe_on, offline, DescribeConn, Description};

use super::input::Input;

/// Why no description could be had.
pub enum DataError {
    /// The server rejected the statement (or could not be reached).
    Describe(lifeguard_describe::Error),
    /// Anything else (missing offline entry, bad configuration).
    Other(String),
}

impl DataError {
    /// The compile error, at the SQL literal, with the failing position shown for SQL errors.
    pub fn at(self, input: &Input) -> syn::Error {
        syn::Error::new(input.sql_lit.span(), self.message(&input.sql))
    }

    /// The message for a failure describing `sql`.
    pub fn message(self, sql: &str) -> String {
        match self {
            DataError::Other(msg) => msg,
            DataError::Describe(e) if e.unreachable => {
                format!("{}\n(the macros check SQL against DATABASE_URL at build time; start the database, fix DATABASE_URL, or build offline with LIFEGUARD_OFFLINE=true after `lifeguard prepare`)", e.message)
            }
            DataError::Describe(e) => {
                let mut msg = format!("error returned from database: {e}");
                if let Some(pos) = e.position {
                    msg.push_str(&pointer(sql, pos as usize));
                }
                msg
            }
        }
    }
}

/// "at line L, column C" plus the line with a caret under the character at 1-based
/// character position `pos`.
fn pointer(sql: &str, pos: usize) -> String {
    let mut seen = 0;
    for (n, line) in sql.split('\n').enumerate() {
        let len = line.chars().count();
        if pos <= seen + len + 1 {
            let col = pos - seen;
            let caret = " ".repeat(col.saturating_sub(1));
            return format!(
                "\n  at line {}, column {col} of the SQL:\n  {line}\n  {caret}^",
                n + 1
            );
        }
        seen += len + 1;
    }
    String::new()
}

/// Settings read once per compiler process.
struct Settings {
    database_url: Option<String>,
    offline: bool,
    offline_dir: Option<PathBuf>,
    prepare_dir: Option<PathBuf>,
    connect_timeout: Duration,
}

fn truthy(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

fn settings() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| {
        let manifest = std::env::var("CARGO_MANIFEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from("."));
        // The process environment wins; `.env` (nearest to the crate) fills the gaps.
        let dotenv = dotenv_vars(&manifest);
        let var = |key: &str| {
            std::env::var(key)
                .ok()
                .or_else(|| {
                    dotenv
                        .iter()
                        .find(|(k, _)| k == key)
                        .map(|(_, v)| v.clone())
                })
                .filter(|v| !v.is_empty())
        };
        let prepare_dir = var("LIFEGUARD_PREPARE_DIR").map(PathBuf::from);
        Settings {
            database_url: var("DATABASE_URL"),
            // `lifeguard prepare` describes online whatever `.env` says about offline.
            offline: prepare_dir.is_none() && var("LIFEGUARD_OFFLINE").is_some_and(|v| truthy(&v)),
            offline_dir: offline::find_dir(&manifest),
            prepare_dir,
            connect_timeout: Duration::from_secs(
                var("LIFEGUARD_CONNECT_TIMEOUT")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(5),
            ),
        }
    })
}

fn dotenv_vars(start: &Path) -> Vec<(String, String)> {
    for dir in start.ancestors() {
        let path = dir.join(".env");
        if let Ok(iter) = dotenvy::from_path_iter(&path) {
            return iter.filter_map(Result::ok).collect();
        }
    }
    Vec::new()
}

/// The shared connection; a failed connect is remembered so later macros fail fast.
static CONN: Mutex<Option<Result<DescribeConn, lifeguard_describe::Error>>> = Mutex::new(None);

fn describe_online(
    url: &str,
    timeout: Duration,
    describe: impl FnOnce(&mut DescribeConn) -> lifeguard_describe::Result<Description>,
) -> Result<Description, DataError> {
    let mut guard = CONN.lock().unwrap_or_else(|p| p.into_inner());
    let conn = guard.get_or_insert_with(|| DescribeConn::connect(url, timeout));
    let conn = match conn {
        Ok(conn) => conn,
        Err(e) => return Err(DataError::Describe(e.clone())),
    };
    match describe(conn) {
        Ok(desc) => Ok(desc),
        Err(e) => {
            if e.unreachable {
                // A broken connection: the next macro reconnects.
                *guard = None;
            }
            Err(DataError::Describe(e))
        }
    }
}

/// The description of `sql`, online or offline as configured; offline, also the path of the
/// entry it came from (the expansion tracks it).
pub fn describe(sql: &str) -> Result<(Description, Option<PathBuf>), DataError> {
    describe_with(sql, |conn| describe_on(conn, sql))
}

/// [`describe`] for a model's table statement: the description also lists the columns an
/// insert must set ([`Description::insert_required`]) of `table` (quoted).
pub fn describe_model_table(
    sql: &str,
    table: &str,
) -> Result<(Description, Option<PathBuf>), DataError> {
    describe_with(sql, |conn| {
        lifeguard_describe::describe_model_table(conn, sql, table)
    })
}

fn describe_with(
    sql: &str,
    online: impl FnOnce(&mut DescribeConn) -> lifeguard_describe::Result<Description>,
) -> Result<(Description, Option<PathBuf>), DataError> {
    let s = settings();
    match (&s.database_url, s.offline) {
        (Some(url), false) => {
            let desc = describe_online(url, s.connect_timeout, online)?;
            if let Some(dir) = &s.prepare_dir {
                offline::write(dir, &desc).map_err(|e| {
                    DataError::Other(format!(
                        "cannot write the offline entry to {}: {e}",
                        dir.display()
                    ))
                })?;
            }
            Ok((desc, None))
        }
        (None, _) if s.prepare_dir.is_some() => Err(DataError::Other(
            "lifeguard prepare needs DATABASE_URL (in the environment or .env) to describe queries"
                .into(),
        )),
        _ => {
            let hash = lifeguard_describe::hash_query(sql);
            let why = if s.offline {
                "LIFEGUARD_OFFLINE is set"
            } else {
                "DATABASE_URL is not set"
            };
            let Some(dir) = &s.offline_dir else {
                return Err(DataError::Other(format!(
                    "{why} and there is no {} folder: set DATABASE_URL (in the environment or .env) to check this query against a database, or run `lifeguard prepare` to create the offline data",
                    offline::DIR_NAME
                )));
            };
            match offline::read(dir, &hash) {
                Ok(Some(desc)) => Ok((desc, Some(dir.join(lifeguard_describe::file_name(&hash))))),
                Ok(None) => Err(DataError::Other(format!(
                    "{why} and {} has no entry for this query ({}); run `lifeguard prepare` with DATABASE_URL set to add it",
                    dir.display(),
                    lifeguard_describe::file_name(&hash)
                ))),
                Err(e) => Err(DataError::Other(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pointer;

    #[test]
    fn pointer_marks_the_character() {
        assert_eq!(
            pointer("SELECT *\nFROM nope", 15),
            "\n  at line 2, column 6 of the SQL:\n  FROM nope\n       ^"
        );
        assert!(pointer("SELECT 1", 99).is_empty());
    }
}
