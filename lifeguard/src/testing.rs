//! Per-test databases, behind `#[lifeguard::test]`.
//!
//! [`TestDatabase`] creates a uniquely named database on `DATABASE_URL`'s server, applies
//! migrations and fixture SQL, hands out a [`Pool`] on it, and drops it (`WITH (FORCE)`, so
//! connections a test leaked do not block it) when dropped. Each test owning its own
//! database is what lets `cargo test` run them in parallel.

use std::borrow::Cow;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::driver::client::Client;
use crate::driver::config::Config;
use crate::driver::executor::Executor;
use crate::error::{Error, Result, SqlState};
use crate::migrate::Migrator;
use crate::pool::Pool;

/// The server URL tests use: `DATABASE_URL` from the environment, else from `.env`.
pub fn database_url() -> Result<String> {
    // A missing .env is fine; the variable may come from the environment.
    let _ = dotenvy::dotenv();
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => Err(Error::config(
            "DATABASE_URL is not set (in the environment or .env): \
             test databases are created on its server",
        )),
    }
}

/// Options for a [`TestDatabase`].
#[derive(Debug, Default)]
pub struct TestDatabaseBuilder {
    url: Option<String>,
    migrator: Option<Migrator>,
    fixtures: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    pool_size: Option<usize>,
}

impl TestDatabaseBuilder {
    /// Use this server instead of `DATABASE_URL`'s (its database is the one connected to
    /// for `CREATE DATABASE`).
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }
    /// Apply these migrations to the new database.
    pub fn migrations(mut self, migrator: Migrator) -> Self {
        self.migrator = Some(migrator);
        self
    }
    /// Run this SQL (after the migrations, in the order added); `name` is for errors.
    pub fn fixture(
        mut self,
        name: impl Into<Cow<'static, str>>,
        sql: impl Into<Cow<'static, str>>,
    ) -> Self {
        self.fixtures.push((name.into(), sql.into()));
        self
    }
    /// The test pool's `max_size` (default 10).
    pub fn pool_size(mut self, n: usize) -> Self {
        self.pool_size = Some(n);
        self
    }

    /// Creates the database, applies migrations and fixtures, and opens the pool. On failure
    /// the half-made database is dropped again.
    pub fn create(self) -> Result<TestDatabase> {
        let url = match self.url {
            Some(u) => u,
            None => database_url()?,
        };
        let server: Config = url.parse()?;
        let admin = connect_admin(&server)?;
        static SWEEP: std::sync::Once = std::sync::Once::new();
        SWEEP.call_once(|| {
            if let Err(e) = sweep_with(&admin) {
                eprintln!("lifeguard: could not sweep orphaned test databases: {e}");
            }
        });
        let name = unique_name();
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .map_err(|e| e.context(format!("creating test database {name}")))?;
        if let Some(owner) = owner_tag() {
            // Names the process that owns it, so a later run can drop it if this one is killed.
            let _ = admin.batch_execute(&format!(
                "COMMENT ON DATABASE {} IS '{owner}'",
                quote_ident(&name)
            ));
        }
        let mut config = server.clone();
        config.dbname(&name);
        // From here on, dropping `db` removes the database whatever fails next.
        let mut db = TestDatabase {
            admin,
            name,
            config,
            pool: None,
        };
        let pool = Pool::builder(&db.config)
            .max_size(self.pool_size.unwrap_or(10))
            .build()?;
        db.pool = Some(pool.clone());
        if let Some(m) = &self.migrator {
            m.run(&pool)?;
        }
        for (name, sql) in &self.fixtures {
            // A fixture runs like a one-off migration (one transaction, errors name the
            // line), without entering the history table.
            let conn = pool.get()?;
            let tx = conn.transaction()?;
            crate::migrate::run_script(&tx, name, sql)?;
            tx.commit()?;
        }
        Ok(db)
    }
}

/// A throwaway database, dropped with this value.
pub struct TestDatabase {
    admin: Client,
    name: String,
    config: Config,
    pool: Option<Pool>,
}

impl TestDatabase {
    /// Starts configuring a test database.
    pub fn builder() -> TestDatabaseBuilder {
        TestDatabaseBuilder::default()
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A configuration connecting to this database.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A pool on this database.
    pub fn pool(&self) -> &Pool {
        self.pool.as_ref().expect("the pool is set once created")
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.pool = None;
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        if let Err(e) = self.admin.batch_execute(&sql) {
            eprintln!("lifeguard: could not drop test database {}: {e}", self.name);
        }
    }
}

/// Connects to the URL's own database, or to `postgres` if that one does not exist.
pub(crate) fn connect_admin(server: &Config) -> Result<Client> {
    match Client::connect_with(server) {
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            let mut c = server.clone();
            c.dbname("postgres");
            Client::connect_with(&c)
        }
        other => other,
    }
}

const OWNER_PREFIX: &str = "lifeguard test database of";

/// `lifeguard test database of boot=<boot id> pid=<pid>`: which process on which machine
/// (and boot) made a test database. `None` where the boot id cannot be read (non-Linux):
/// there nothing is swept.
fn owner_tag() -> Option<String> {
    Some(format!(
        "{OWNER_PREFIX} boot={} pid={}",
        boot_id()?,
        std::process::id()
    ))
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
        .then(|| id.to_string())
}

/// Drops the test databases that killed test processes left behind on `url`'s server, and
/// returns how many. A database is dropped only when its comment says it was made during
/// this machine's current boot by a process that no longer runs, and nobody is connected
/// to it — so another machine's, or a live process's, databases are never touched.
/// [`TestDatabaseBuilder::create`] does this once per process.
pub fn sweep_orphaned_databases(url: &str) -> Result<usize> {
    let server: Config = url.parse()?;
    sweep_with(&connect_admin(&server)?)
}

fn sweep_with(admin: &Client) -> Result<usize> {
    let Some(boot) = boot_id() else {
        return Ok(0);
    };
    let rows = admin.query(
        "SELECT d.datname::text, shobj_description(d.oid, 'pg_database') \
         FROM pg_database d \
         WHERE d.datname LIKE '\\_lg\\_test\\_%' \
           AND shobj_description(d.oid, 'pg_database') LIKE $1 \
           AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datid = d.oid)",
        &[&format!("{OWNER_PREFIX} boot={boot} pid=%")],
    )?;
    let mut dropped = 0;
    for row in rows {
        let name: String = row.get(0);
        let comment: String = row.get(1);
        let Some(pid) = comment
            .rsplit("pid=")
            .next()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        // No FORCE: a session that connected meanwhile keeps the database alive.
        if admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote_ident(&name)))
            .is_ok()
        {
            dropped += 1;
        }
    }
    Ok(dropped)
}

fn unique_name() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "_lg_test_{}_{}_{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Double-quotes an identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Runs a test body in a `may` coroutine and re-raises its panic on the test thread, so the
/// test fails with the body's message. The stack is thread-sized (1 Mi words, 8 MiB):
/// test code is not written with coroutine stacks in mind.
#[doc(hidden)]
pub fn __run_in_coroutine<F: FnOnce() + Send + 'static>(f: F) {
    let builder = may::coroutine::Builder::new().stack_size(0x10_0000);
    // SAFETY: may's spawn is unsafe because coroutines must not block OS threads with
    // thread-local state across yields; the body uses lifeguard's coroutine-aware I/O.
    let handle = unsafe { builder.spawn(f) }.expect("spawning the test coroutine");
    if let Err(panic) = handle.join() {
        std::panic::resume_unwind(panic);
    }
}

/// What a `#[lifeguard::test]` body may return.
#[doc(hidden)]
pub trait __TestOutcome {
    fn __check(self);
}

impl __TestOutcome for () {
    fn __check(self) {}
}

impl<E: std::fmt::Debug> __TestOutcome for std::result::Result<(), E> {
    fn __check(self) {
        if let Err(e) = self {
            panic!("test returned an error: {e:?}");
        }
    }
}
