//! SQL-file migrations.
//!
//! A migrations folder holds `<version>_<description>.sql` files, or reversible pairs
//! `<version>_<description>.up.sql` / `.down.sql`; the version is an integer (a UTC timestamp
//! such as `20240101000000` when made by `lifeguard migrate add`). [`Migrator`] applies the
//! pending ones in version order and records each in the `_lifeguard_migrations` table.
//!
//! ```ignore
//! // Embedded at compile time from `<crate>/migrations` (see `lifeguard::migrate!`):
//! lifeguard::migrate!().run(&pool)?;
//! ```
//!
//! ```no_run
//! let pool = lifeguard::Pool::builder("postgres://postgres@127.0.0.1/app").build()?;
//! // Read at run time:
//! let applied = lifeguard::migrate::Migrator::new("migrations")?.run(&pool)?;
//! println!("applied {} migration(s)", applied.len());
//! # Ok::<(), lifeguard::Error>(())
//! ```
//!
//! - Each migration runs in a transaction, together with its history row, so a failure leaves
//!   the database as it was. A file whose first line is `-- lifeguard:no-transaction` runs
//!   statement by statement outside a transaction (for `CREATE INDEX CONCURRENTLY` and the
//!   like); if it fails it is recorded as failed and blocks later runs until it is repaired
//!   and its row deleted.
//! - Errors name the file and the line (from the server's error position, else the start of
//!   the failing statement).
//! - Applied migrations are compared by checksum (SHA-256 of the text, CRLF read as LF): an
//!   edited applied migration is refused, and so is a pending migration older than the
//!   latest applied one (it would silently run out of order).
//! - Runs, reverts and the history table's creation hold a Postgres advisory lock, so app
//!   instances starting at once apply each migration exactly once; the lock is released on
//!   every path, success or error.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::driver::client::Client;
use crate::driver::transaction::Session;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{Pool, PooledConnection};

mod runner;
pub mod source;

pub use runner::{MigrationInfo, MigrationStatus, HISTORY_TABLE, LOCK_KEY};

/// Whether a file is a one-way migration or half of a reversible pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MigrationKind {
    /// `<version>_<description>.sql`: applied, never reverted.
    Simple,
    /// `<version>_<description>.up.sql`: applied by `run`.
    Up,
    /// `<version>_<description>.down.sql`: undoes its `.up.sql`, run by `revert`.
    Down,
}

/// One migration file.
#[derive(Debug, Clone)]
pub struct Migration {
    pub(crate) version: i64,
    pub(crate) description: String,
    pub(crate) kind: MigrationKind,
    pub(crate) file: Cow<'static, str>,
    pub(crate) sql: Cow<'static, str>,
    pub(crate) checksum: Vec<u8>,
    pub(crate) no_transaction: bool,
}

impl Migration {
    /// The version (the integer before the first `_` of the file name).
    pub fn version(&self) -> i64 {
        self.version
    }
    /// The description (the rest of the file name, `_` read as space).
    pub fn description(&self) -> &str {
        &self.description
    }
    /// Simple, up or down.
    pub fn kind(&self) -> MigrationKind {
        self.kind
    }
    /// The file name, as errors report it.
    pub fn file(&self) -> &str {
        &self.file
    }
    /// The SQL text.
    pub fn sql(&self) -> &str {
        &self.sql
    }
    /// SHA-256 of the text with line endings normalised to LF.
    pub fn checksum(&self) -> &[u8] {
        &self.checksum
    }
    /// True when the first line is `-- lifeguard:no-transaction`.
    pub fn no_transaction(&self) -> bool {
        self.no_transaction
    }
}

/// What a run or revert did (or, in a dry run, would do) to one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The migration's version.
    pub version: i64,
    /// The migration's description.
    pub description: String,
    /// How long it took (zero in a dry run).
    pub elapsed: Duration,
}

/// Progress of a run or revert, for callers that report it (see [`Migrator::on_progress`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// Another migrator holds the lock; this one waits for it.
    WaitingForLock,
    /// About to apply this migration.
    Applying(&'a Migration),
    /// Applied it, in this long.
    Applied(&'a Migration, Duration),
    /// About to run this down migration.
    Reverting(&'a Migration),
    /// Reverted it, in this long.
    Reverted(&'a Migration, Duration),
}

type ProgressFn = Arc<dyn Fn(&Progress<'_>) + Send + Sync>;

/// A set of migrations and how to apply them.
#[derive(Clone)]
pub struct Migrator {
    migrations: Vec<Migration>,
    target: Option<i64>,
    dry_run: bool,
    ignore_missing: bool,
    progress: Option<ProgressFn>,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("migrations", &self.migrations.len())
            .field("target", &self.target)
            .field("dry_run", &self.dry_run)
            .field("ignore_missing", &self.ignore_missing)
            .finish()
    }
}

impl Migrator {
    /// Reads the migrations of a folder at run time. Fails on a missing folder, an unreadable
    /// file, a malformed `.sql` file name, a duplicate version or a `.down.sql` without its
    /// `.up.sql`; other files are ignored.
    pub fn new(dir: impl AsRef<Path>) -> Result<Migrator> {
        Ok(Migrator::from_migrations(source::read_dir(dir.as_ref())?))
    }

    /// Builds a migrator from `(file name, SQL text)` pairs, checked like [`Migrator::new`].
    pub fn from_files<N, S>(files: impl IntoIterator<Item = (N, S)>) -> Result<Migrator>
    where
        N: Into<String>,
        S: Into<String>,
    {
        let files = files
            .into_iter()
            .map(|(n, s)| (Cow::Owned(n.into()), Cow::Owned(s.into())))
            .collect();
        Ok(Migrator::from_migrations(source::build(files)?))
    }

    /// What `migrate!()` expands to; the names were checked at compile time.
    #[doc(hidden)]
    pub fn __embedded(files: &'static [(&'static str, &'static str)]) -> Migrator {
        let files = files
            .iter()
            .map(|(n, s)| (Cow::Borrowed(*n), Cow::Borrowed(*s)))
            .collect();
        match source::build(files) {
            Ok(m) => Migrator::from_migrations(m),
            Err(e) => panic!("lifeguard::migrate!: {e}"),
        }
    }

    fn from_migrations(migrations: Vec<Migration>) -> Migrator {
        Migrator {
            migrations,
            target: None,
            dry_run: false,
            ignore_missing: false,
            progress: None,
        }
    }

    /// Every migration file, by version (an up file before its down file).
    pub fn migrations(&self) -> &[Migration] {
        &self.migrations
    }

    /// `run` applies migrations up to and including this version; `revert` reverts every
    /// applied migration above it (instead of only the latest).
    pub fn target_version(mut self, version: Option<i64>) -> Migrator {
        self.target = version;
        self
    }

    /// Report what `run` / `revert` would do without changing the database.
    pub fn dry_run(mut self, dry_run: bool) -> Migrator {
        self.dry_run = dry_run;
        self
    }

    /// Accept applied migrations that are no longer in the source (by default an error,
    /// since it usually means the wrong folder or branch).
    pub fn ignore_missing(mut self, ignore: bool) -> Migrator {
        self.ignore_missing = ignore;
        self
    }

    /// Calls `f` before and after each migration, e.g. to print progress.
    pub fn on_progress(mut self, f: impl Fn(&Progress<'_>) + Send + Sync + 'static) -> Migrator {
        self.progress = Some(Arc::new(f));
        self
    }

    /// Applies the pending migrations (up to the target version, if set) and returns them.
    pub fn run(&self, db: &impl MigrationTarget) -> Result<Vec<Step>> {
        db.__with_client(&mut |c| runner::run(self, &Session::begin(c)?))
    }

    /// Reverts the latest applied migration, or with a target version every applied
    /// migration above it, newest first, using the `.down.sql` files.
    pub fn revert(&self, db: &impl MigrationTarget) -> Result<Vec<Step>> {
        db.__with_client(&mut |c| runner::revert(self, &Session::begin(c)?))
    }

    /// The status of every migration, in the source or in the history table.
    pub fn info(&self, db: &impl MigrationTarget) -> Result<Vec<MigrationInfo>> {
        db.__with_client(&mut |c| runner::info(self, &Session::begin(c)?))
    }

    pub(crate) fn report(&self, p: Progress<'_>) {
        if let Some(f) = &self.progress {
            f(&p);
        }
    }

    pub(crate) fn ups(&self) -> impl Iterator<Item = &Migration> {
        self.migrations
            .iter()
            .filter(|m| m.kind != MigrationKind::Down)
    }

    pub(crate) fn down(&self, version: i64) -> Option<&Migration> {
        self.migrations
            .iter()
            .find(|m| m.version == version && m.kind == MigrationKind::Down)
    }
}

/// Where migrations run: a [`Pool`] (one connection is checked out for the whole run, since
/// the advisory lock belongs to a session), a [`Client`] or a [`PooledConnection`]. A run,
/// revert or info holds its connection exclusively, as a transaction does: the other handles
/// of a shared `Client` wait, so their queries never land between a migration's statements
/// and two runs through one `Client` take turns.
pub trait MigrationTarget {
    #[doc(hidden)]
    fn __with_client<T>(&self, f: &mut dyn FnMut(&Client) -> Result<T>) -> Result<T>;
}

impl MigrationTarget for Pool {
    fn __with_client<T>(&self, f: &mut dyn FnMut(&Client) -> Result<T>) -> Result<T> {
        let conn = self.get()?;
        f(&conn)
    }
}

impl MigrationTarget for Client {
    fn __with_client<T>(&self, f: &mut dyn FnMut(&Client) -> Result<T>) -> Result<T> {
        f(self)
    }
}

impl MigrationTarget for PooledConnection {
    fn __with_client<T>(&self, f: &mut dyn FnMut(&Client) -> Result<T>) -> Result<T> {
        f(self)
    }
}

/// Runs a SQL script statement by statement, with errors naming `file` and the line.
pub(crate) fn run_script(ex: &impl crate::Executor, file: &str, sql: &str) -> Result<()> {
    let m = Migration {
        version: 0,
        description: String::new(),
        kind: MigrationKind::Simple,
        file: Cow::Owned(file.to_owned()),
        sql: Cow::Owned(sql.to_owned()),
        checksum: Vec::new(),
        no_transaction: false,
    };
    runner::execute(ex, &m)
}

pub(crate) fn error(what: impl Into<Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Migrate, what, None)
}
