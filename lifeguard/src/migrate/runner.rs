//! Applying, reverting and inspecting migrations against the `_lifeguard_migrations` table.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::source::{char_to_byte, code_start, line_of, split, transaction_control};
use super::{error, Migration, Migrator, Progress, Step};
use crate::driver::executor::Executor;
use crate::driver::query::simple_tags;
use crate::driver::transaction::{Session, Transaction};
use crate::error::{Error, ErrorKind, ErrorPosition, Result};

/// The history table: one row per applied (or, without a transaction, failed) migration:
/// `version bigint` (primary key), `description text`, `installed_on timestamptz`,
/// `success boolean`, `checksum bytea` (SHA-256) and `execution_time bigint` (nanoseconds).
pub const HISTORY_TABLE: &str = "_lifeguard_migrations";

/// The advisory-lock key runs and reverts hold (advisory locks are per database, so one
/// constant serialises every migrator of a database). The bytes spell `lifeguar`.
pub const LOCK_KEY: i64 = 0x6c69_6665_6775_6172;

/// Where the history table lives, fixed before any migration runs: a migration may change
/// `search_path` (pg_dump output empties it), and the bookkeeping must not follow.
struct History {
    /// Schema-qualified, quoted.
    table: String,
}

impl History {
    fn locate(c: &Session) -> Result<History> {
        let schema: String = c
            .query_one(
                "SELECT coalesce(\
                   (SELECT n.nspname::text FROM pg_class t \
                    JOIN pg_namespace n ON n.oid = t.relnamespace \
                    WHERE t.oid = to_regclass('_lifeguard_migrations')), \
                   current_schema()::text, 'public')",
                &[],
            )
            .map_err(|e| e.context("locating the migration history table"))?
            .get(0);
        Ok(History {
            table: format!("\"{}\".{HISTORY_TABLE}", schema.replace('"', "\"\"")),
        })
    }

    fn create(&self, c: &Session) -> Result<()> {
        c.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {} (
                version bigint PRIMARY KEY,
                description text NOT NULL,
                installed_on timestamptz NOT NULL DEFAULT now(),
                success boolean NOT NULL,
                checksum bytea NOT NULL,
                execution_time bigint NOT NULL
            )",
            self.table
        ))
    }
}

/// Ends what a migration did to the session (`SET search_path`, `SET statement_timeout`…),
/// so the next migration and the connection's later users start from the defaults.
fn reset_session(c: &Session) {
    let _ = c.batch_execute("RESET ALL");
}

/// Where a migration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MigrationStatus {
    /// Applied, and the file still has the checksum it had then.
    Applied,
    /// Not applied yet.
    Pending,
    /// Applied, but the file has changed since: `run` refuses to go on.
    ChecksumMismatch,
    /// Ran without a transaction and failed: `run` refuses to go on until it is repaired
    /// and its history row deleted.
    Failed,
    /// In the history table but no longer in the source.
    Missing,
    /// Not applied, and older than the latest applied migration: `run` refuses to apply it
    /// out of order.
    OutOfOrder,
}

impl std::fmt::Display for MigrationStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MigrationStatus::Applied => "applied",
            MigrationStatus::Pending => "pending",
            MigrationStatus::ChecksumMismatch => "checksum mismatch",
            MigrationStatus::Failed => "failed",
            MigrationStatus::Missing => "missing from source",
            MigrationStatus::OutOfOrder => "out of order",
        })
    }
}

/// One line of [`Migrator::info`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    /// The version.
    pub version: i64,
    /// The description (from the file, else from the history table).
    pub description: String,
    /// Where it stands.
    pub status: MigrationStatus,
    /// True when a `.down.sql` exists.
    pub reversible: bool,
    /// When it was applied (the server's text form of `installed_on`).
    pub installed_on: Option<String>,
    /// How long it took to apply.
    pub execution_time: Option<Duration>,
}

struct Row {
    description: String,
    success: bool,
    checksum: Vec<u8>,
    installed_on: String,
    execution_time: i64,
}

/// Holds the advisory lock; releases it when dropped, whatever happened meanwhile.
struct LockGuard<'a> {
    session: &'a Session,
}

/// How long a waiting migrator sleeps between tries at most.
const LOCK_POLL_MAX: Duration = Duration::from_millis(200);

impl<'a> LockGuard<'a> {
    /// Takes the lock, retrying `pg_try_advisory_lock` until the holder lets go. A blocking
    /// `pg_advisory_lock` would run into `query_timeout` while another instance migrates,
    /// and a lock the server grants just as that timeout cancels the wait would be held
    /// with nothing to release it; each try here either takes the lock or does not.
    fn acquire(m: &Migrator, session: &'a Session) -> Result<LockGuard<'a>> {
        let mut pause = Duration::from_millis(5);
        let mut reported = false;
        loop {
            let taken: bool = session
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
                .map_err(|e| e.context("taking the migration lock"))?
                .get(0);
            if taken {
                return Ok(LockGuard { session });
            }
            if !reported {
                // Say why nothing happens while another instance migrates.
                m.report(Progress::WaitingForLock);
                reported = true;
            }
            may::coroutine::sleep(pause);
            pause = (pause * 2).min(LOCK_POLL_MAX);
        }
    }
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        let unlock = "SELECT pg_advisory_unlock($1)";
        let s = self.session;
        if s.execute(unlock, &[&LOCK_KEY]).is_ok() || s.client().is_closed() {
            // Released, or gone with the closed session.
            return;
        }
        // A migration may have left a failed transaction open (a no-transaction file with
        // its own BEGIN): end it so the unlock can run.
        let _ = s.batch_execute("ROLLBACK");
        if s.execute(unlock, &[&LOCK_KEY]).is_err() {
            // A session that still holds the lock must not go back to a pool, or every
            // later migrator waits forever: ending it releases the lock on the server.
            s.client().conn.close(
                "closed after the migration lock could not be released".into(),
                None,
            );
        }
    }
}

fn history(c: &Session, h: &History) -> Result<BTreeMap<i64, Row>> {
    let mut map = BTreeMap::new();
    let exists: bool = c
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&h.table])?
        .get(0);
    if !exists {
        return Ok(map);
    }
    let sql = format!(
        "SELECT version, description, success, checksum, installed_on::text, execution_time \
         FROM {} ORDER BY version",
        h.table
    );
    for r in c.query(sql.as_str(), &[])? {
        map.insert(
            r.get(0),
            Row {
                description: r.get(1),
                success: r.get(2),
                checksum: r.get(3),
                installed_on: r.get(4),
                execution_time: r.get(5),
            },
        );
    }
    Ok(map)
}

/// Refuses to go on over failed, edited or (unless ignored) missing applied migrations.
fn check(m: &Migrator, applied: &BTreeMap<i64, Row>) -> Result<()> {
    for (version, row) in applied {
        if !row.success {
            return Err(error(format!(
                "migration {version} ({}) failed earlier outside a transaction and may be half \
                 applied: repair the database, then delete its row from {HISTORY_TABLE}",
                row.description
            )));
        }
        match m.ups().find(|u| u.version == *version) {
            Some(u) if u.checksum != row.checksum => {
                return Err(error(format!(
                    "migration {version} ({}) was changed after it was applied: \
                     checksum mismatch for `{}`; restore the applied text or add a new migration",
                    u.description, u.file
                )))
            }
            None if !m.ignore_missing => {
                return Err(error(format!(
                    "migration {version} ({}) is applied but missing from the source",
                    row.description
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The error of a failed migration, naming its file and (when known) the line.
fn failure(m: &Migration, line: Option<usize>, e: Error) -> Error {
    let what = match line {
        Some(line) => format!("`{}`, line {line}", m.file),
        None => format!("`{}`", m.file),
    };
    match e.as_db_error() {
        Some(db) => Error::new(ErrorKind::Migrate, what, Some(Box::new(db.clone()))),
        None => Error::new(ErrorKind::Migrate, what, Some(Box::new(e))),
    }
}

/// Runs a migration's statements one at a time, mapping a failure to its file and line.
pub(super) fn execute(ex: &impl Executor, m: &Migration) -> Result<()> {
    for stmt in split(&m.sql) {
        if let Err(e) = ex.batch_execute(stmt.text) {
            let byte = match e.as_db_error().and_then(|d| d.position()) {
                Some(ErrorPosition::Original(p)) => stmt.offset + char_to_byte(stmt.text, *p),
                _ => stmt.offset + code_start(stmt.text),
            };
            return Err(failure(m, Some(line_of(&m.sql, byte)), e));
        }
    }
    Ok(())
}

/// Runs a migration and `finish` (its history change) in one transaction. The file goes to
/// the server in one round trip (a seed file of many statements stays fast). A server error
/// with a position maps straight to a line; one without is placed at the statement after
/// the ones the server reported complete — nothing runs twice.
fn transactional(
    c: &Session,
    m: &Migration,
    finish: impl FnOnce(&Transaction<'_>) -> Result<()>,
) -> Result<()> {
    if let Some((byte, word)) = transaction_control(&m.sql) {
        return Err(Error::new(
            ErrorKind::Migrate,
            format!(
                "`{}`, line {}: {word} would end or start a transaction, but this migration \
                 runs in one; put `-- lifeguard:no-transaction` on its first line to manage \
                 transactions yourself",
                m.file,
                line_of(&m.sql, byte)
            ),
            None,
        ));
    }
    let tx = c.transaction()?;
    let target = tx.__target()?;
    let (done, error) = simple_tags(&target.client.conn, target.token, &m.sql)?;
    drop(target);
    if let Some(e) = error {
        drop(tx);
        let line = match e.as_db_error().and_then(|d| d.position()) {
            Some(ErrorPosition::Original(p)) => Some(line_of(&m.sql, char_to_byte(&m.sql, *p))),
            _ => split(&m.sql)
                .get(done.len())
                .map(|stmt| line_of(&m.sql, stmt.offset + code_start(stmt.text))),
        };
        return Err(failure(m, line, e));
    }
    finish(&tx)?;
    tx.commit()
        .map_err(|e| e.context(format!("committing `{}`", m.file)))
}

fn nanos(elapsed: Duration) -> i64 {
    i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)
}

fn record(
    ex: &impl Executor,
    h: &History,
    m: &Migration,
    success: bool,
    elapsed: Duration,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {} (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, $3, $4, $5)",
        h.table
    );
    ex.execute(
        sql.as_str(),
        &[
            &m.version,
            &m.description,
            &success,
            &m.checksum,
            &nanos(elapsed),
        ],
    )
    .map_err(|e| e.context(format!("recording `{}` in the history table", m.file)))?;
    Ok(())
}

fn apply(c: &Session, h: &History, m: &Migration) -> Result<Duration> {
    let start = Instant::now();
    if m.no_transaction {
        // Recorded as failed before it starts: if the process dies half-way, the row
        // blocks later runs instead of the file being re-run over what it already did.
        record(c, h, m, false, Duration::ZERO)?;
        let res = execute(c, m);
        if res.is_err() {
            // Ends any transaction the file opened itself (a no-op warning otherwise).
            let _ = c.batch_execute("ROLLBACK");
        }
        reset_session(c);
        res?;
        let done = format!(
            "UPDATE {} SET success = true, execution_time = $2 WHERE version = $1",
            h.table
        );
        c.execute(done.as_str(), &[&m.version, &nanos(start.elapsed())])
            .map_err(|e| e.context(format!("recording `{}` in the history table", m.file)))?;
    } else {
        let res = transactional(c, m, |tx| record(tx, h, m, true, start.elapsed()));
        reset_session(c);
        res?;
    }
    Ok(start.elapsed())
}

pub(super) fn run(m: &Migrator, c: &Session) -> Result<Vec<Step>> {
    let _lock = LockGuard::acquire(m, c)?;
    let h = History::locate(c)?;
    if !m.dry_run {
        h.create(c)?;
    }
    let applied = history(c, &h)?;
    check(m, &applied)?;
    let latest = applied.keys().next_back().copied();
    let pending: Vec<&Migration> = m
        .ups()
        .filter(|u| !applied.contains_key(&u.version))
        .filter(|u| m.target.is_none_or(|t| u.version <= t))
        .collect();
    if let (Some(old), Some(latest)) = (pending.first(), latest) {
        if old.version < latest {
            return Err(error(format!(
                "migration {} ({}) is older than the latest applied migration {latest} and was \
                 not applied; give it a newer version to run it",
                old.version, old.description
            )));
        }
    }
    let mut steps = Vec::new();
    for u in pending {
        m.report(Progress::Applying(u));
        let elapsed = if m.dry_run {
            Duration::ZERO
        } else {
            apply(c, &h, u)?
        };
        m.report(Progress::Applied(u, elapsed));
        steps.push(Step {
            version: u.version,
            description: u.description.clone(),
            elapsed,
        });
    }
    Ok(steps)
}

pub(super) fn revert(m: &Migrator, c: &Session) -> Result<Vec<Step>> {
    let _lock = LockGuard::acquire(m, c)?;
    let h = History::locate(c)?;
    let applied = history(c, &h)?;
    check(m, &applied)?;
    let versions: Vec<i64> = match m.target {
        Some(t) => applied.keys().rev().copied().filter(|v| *v > t).collect(),
        None => applied.keys().next_back().copied().into_iter().collect(),
    };
    let mut steps = Vec::new();
    for version in versions {
        let down = m.down(version).ok_or_else(|| {
            error(format!(
                "migration {version} ({}) cannot be reverted: it has no `.down.sql` file",
                applied[&version].description
            ))
        })?;
        m.report(Progress::Reverting(down));
        let start = Instant::now();
        if !m.dry_run {
            let delete = format!("DELETE FROM {} WHERE version = $1", h.table);
            let delete = delete.as_str();
            if down.no_transaction {
                // Marked failed first: an interrupted revert blocks later runs.
                let failed = format!("UPDATE {} SET success = false WHERE version = $1", h.table);
                c.execute(failed.as_str(), &[&version])?;
                let res = execute(c, down);
                if res.is_err() {
                    let _ = c.batch_execute("ROLLBACK");
                }
                reset_session(c);
                res?;
                c.execute(delete, &[&version])?;
            } else {
                let res = transactional(c, down, |tx| tx.execute(delete, &[&version]).map(|_| ()));
                reset_session(c);
                res?;
            }
        }
        let elapsed = if m.dry_run {
            Duration::ZERO
        } else {
            start.elapsed()
        };
        m.report(Progress::Reverted(down, elapsed));
        steps.push(Step {
            version,
            description: down.description.clone(),
            elapsed,
        });
    }
    Ok(steps)
}

pub(super) fn info(m: &Migrator, c: &Session) -> Result<Vec<MigrationInfo>> {
    let h = History::locate(c)?;
    let applied = history(c, &h)?;
    let latest = applied.keys().next_back().copied();
    let mut out: Vec<MigrationInfo> = m
        .ups()
        .map(|u| {
            let row = applied.get(&u.version);
            let status = match row {
                Some(r) if !r.success => MigrationStatus::Failed,
                Some(r) if r.checksum != u.checksum => MigrationStatus::ChecksumMismatch,
                Some(_) => MigrationStatus::Applied,
                None if latest.is_some_and(|l| u.version < l) => MigrationStatus::OutOfOrder,
                None => MigrationStatus::Pending,
            };
            MigrationInfo {
                version: u.version,
                description: u.description.clone(),
                status,
                reversible: m.down(u.version).is_some(),
                installed_on: row.map(|r| r.installed_on.clone()),
                execution_time: row.map(|r| Duration::from_nanos(r.execution_time.max(0) as u64)),
            }
        })
        .collect();
    for (version, row) in &applied {
        if !m.ups().any(|u| u.version == *version) {
            out.push(MigrationInfo {
                version: *version,
                description: row.description.clone(),
                status: if row.success {
                    MigrationStatus::Missing
                } else {
                    MigrationStatus::Failed
                },
                reversible: false,
                installed_on: Some(row.installed_on.clone()),
                execution_time: Some(Duration::from_nanos(row.execution_time.max(0) as u64)),
            });
        }
    }
    out.sort_by_key(|i| i.version);
    Ok(out)
}
