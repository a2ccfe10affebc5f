//! `lifeguard migrate add|run|revert|info` and `lifeguard database create|drop|reset`.
//!
//! Every command reads the URL from `--database-url`, else `DATABASE_URL` (the environment
//! or `.env`, loaded at start-up). Failures are reported as `error: …` with exit code 1.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lifeguard::migrate::{MigrationStatus, Migrator, Progress};
use lifeguard::{Client, Config, Executor, SqlState};

/// Where to connect.
#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// Connection URL (postgres://user:password@host:port/dbname); defaults to DATABASE_URL
    /// from the environment or .env.
    #[arg(long, short = 'D', value_name = "URL")]
    pub(crate) database_url: Option<String>,
}

/// Where the migration files are.
#[derive(clap::Args, Debug)]
pub struct SourceArgs {
    /// Folder holding the migration files.
    #[arg(long, default_value = "migrations", value_name = "DIR")]
    source: PathBuf,
}

/// `lifeguard migrate …`
#[derive(clap::Subcommand, Debug)]
#[command(after_help = "Migration files (in --source, `migrations` by default):
  <version>_<description>.sql              applied by `run`, never reverted
  <version>_<description>.up.sql / .down.sql  a reversible pair (`add -r`)
The version is an integer (`add` uses the UTC time, e.g. 20240101000000); migrations apply in
version order, each in its own transaction with its history row in _lifeguard_migrations.
A file whose first line is `-- lifeguard:no-transaction` runs outside a transaction (for
CREATE INDEX CONCURRENTLY); if it fails it is recorded as failed and blocks later runs until
the database is repaired and its history row deleted. An applied file that was edited is
refused (checksum mismatch). Concurrent runs take turns on an advisory lock.")]
pub enum MigrateCommand {
    /// Create a new migration file named <UTC timestamp>_<name>.sql (or an .up/.down pair).
    Add {
        /// Create a reversible pair: <version>_<name>.up.sql and .down.sql.
        #[arg(short, long)]
        reversible: bool,
        #[command(flatten)]
        source: SourceArgs,
        /// What the migration does, e.g. `create users` (words are joined with `_`).
        #[arg(required = true, num_args = 1..)]
        name: Vec<String>,
    },
    /// Apply the pending migrations, in version order, each in its own transaction.
    Run {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        connect: ConnectArgs,
        /// Apply migrations up to and including this version only.
        #[arg(long, value_name = "VERSION")]
        target_version: Option<i64>,
        /// List what would be applied without changing the database.
        #[arg(long)]
        dry_run: bool,
        /// Go on when applied migrations are no longer in the folder (squashed, deleted).
        #[arg(long)]
        ignore_missing: bool,
    },
    /// Revert the latest applied migration (with --target-version: every one above it)
    /// using its .down.sql file.
    Revert {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        connect: ConnectArgs,
        /// Revert every applied migration newer than this version (0 reverts all).
        #[arg(long, value_name = "VERSION")]
        target_version: Option<i64>,
        /// List what would be reverted without changing the database.
        #[arg(long)]
        dry_run: bool,
        /// Go on when applied migrations are no longer in the folder (squashed, deleted).
        #[arg(long)]
        ignore_missing: bool,
    },
    /// Write a build.rs (or say what to add to yours) so that `lifeguard::migrate!()`
    /// rebuilds when a migration file is added, not only when one changes.
    BuildScript {
        #[command(flatten)]
        source: SourceArgs,
    },
    /// Show every migration: applied, pending, checksum mismatch, failed, out of order.
    Info {
        #[command(flatten)]
        source: SourceArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
}

/// `lifeguard database …`
#[derive(clap::Subcommand, Debug)]
pub enum DatabaseCommand {
    /// Create the database named in the URL (nothing to do if it exists).
    Create {
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Drop the database named in the URL (nothing to do if it does not exist).
    Drop {
        #[command(flatten)]
        connect: ConnectArgs,
        /// Terminate other sessions on it first (DROP DATABASE … WITH (FORCE)).
        #[arg(long)]
        force: bool,
    },
    /// Drop the database, create it again and apply every migration.
    Reset {
        #[command(flatten)]
        connect: ConnectArgs,
        #[command(flatten)]
        source: SourceArgs,
        /// Terminate other sessions on it first (DROP DATABASE … WITH (FORCE)).
        #[arg(long)]
        force: bool,
    },
}

type Outcome = Result<bool, String>;

fn url(args: &ConnectArgs) -> Result<String, String> {
    match &args.database_url {
        Some(u) => Ok(u.clone()),
        None => match std::env::var("DATABASE_URL") {
            Ok(u) if !u.trim().is_empty() => Ok(u),
            _ => Err("no database URL: pass --database-url or set DATABASE_URL \
                      (in the environment or .env)"
                .into()),
        },
    }
}

pub(crate) fn config(args: &ConnectArgs) -> Result<Config, String> {
    url(args)?
        .parse::<Config>()
        .map_err(|e| format!("bad database URL: {e}"))
}

pub(crate) fn connect(args: &ConnectArgs) -> Result<Client, String> {
    let cfg = config(args)?;
    Client::connect_with(&cfg).map_err(|e| format!("cannot connect to the database: {e}"))
}

fn migrator(source: &SourceArgs) -> Result<Migrator, String> {
    Migrator::new(&source.source).map_err(|e| e.to_string())
}

fn millis(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// Prints one line per migration as it starts and ends, so long runs show where they are.
/// The flag tells whether a line was left open (a migration started and did not finish).
fn with_progress(m: Migrator, dry_run: bool) -> (Migrator, Arc<AtomicBool>) {
    let open = Arc::new(AtomicBool::new(false));
    let flag = open.clone();
    let m = m.dry_run(dry_run).on_progress(move |p| {
        let starting = matches!(p, Progress::Applying(_) | Progress::Reverting(_));
        flag.store(starting && !dry_run, Ordering::Relaxed);
        print_progress(p, dry_run);
    });
    (m, open)
}

/// Ends an `applying … ` / `reverting … ` line a failure interrupted, then passes the
/// result on.
fn finish(
    open: &AtomicBool,
    result: lifeguard::Result<Vec<lifeguard::migrate::Step>>,
) -> Result<Vec<lifeguard::migrate::Step>, String> {
    if open.load(Ordering::Relaxed) {
        println!("failed");
    }
    result.map_err(|e| e.to_string())
}

fn print_progress(p: &Progress<'_>, dry_run: bool) {
    match p {
        Progress::WaitingForLock => {
            println!("another migrator holds the migration lock: waiting for it")
        }
        Progress::Applying(m) if dry_run => {
            println!("would apply  {} {}", m.version(), m.description())
        }
        Progress::Reverting(m) if dry_run => {
            println!("would revert {} {}", m.version(), m.description())
        }
        Progress::Applying(m) => {
            print!("applying  {} {} ... ", m.version(), m.description());
            flush();
        }
        Progress::Reverting(m) => {
            print!("reverting {} {} ... ", m.version(), m.description());
            flush();
        }
        Progress::Applied(_, t) | Progress::Reverted(_, t) if !dry_run => {
            println!("done ({})", millis(*t))
        }
        _ => {}
    }
}

fn flush() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
}

/// Runs a `migrate` subcommand.
pub fn run(cmd: MigrateCommand) -> Outcome {
    match cmd {
        MigrateCommand::Add {
            reversible,
            source,
            name,
        } => add(&source.source, &name.join(" "), reversible),
        MigrateCommand::BuildScript { source } => build_script(&source.source),
        MigrateCommand::Run {
            source,
            connect: c,
            target_version,
            dry_run,
            ignore_missing,
        } => {
            let (m, open) = with_progress(migrator(&source)?, dry_run);
            let m = m
                .target_version(target_version)
                .ignore_missing(ignore_missing);
            let client = connect(&c)?;
            let steps = finish(&open, m.run(&client))?;
            match (steps.len(), dry_run) {
                (0, _) => println!("nothing to apply: the database is up to date"),
                (n, true) => println!("{n} migration(s) would be applied (dry run)"),
                (n, false) => println!("applied {n} migration(s)"),
            }
            Ok(true)
        }
        MigrateCommand::Revert {
            source,
            connect: c,
            target_version,
            dry_run,
            ignore_missing,
        } => {
            let (m, open) = with_progress(migrator(&source)?, dry_run);
            let m = m
                .target_version(target_version)
                .ignore_missing(ignore_missing);
            let client = connect(&c)?;
            let steps = finish(&open, m.revert(&client))?;
            match (steps.len(), dry_run) {
                (0, _) => println!("nothing to revert"),
                (n, true) => println!("{n} migration(s) would be reverted (dry run)"),
                (n, false) => println!("reverted {n} migration(s)"),
            }
            Ok(true)
        }
        MigrateCommand::Info { source, connect: c } => {
            let m = migrator(&source)?;
            let client = connect(&c)?;
            let info = m.info(&client).map_err(|e| e.to_string())?;
            print_info(&info);
            // A broken history must fail a deploy script's `migrate info` check.
            let bad: Vec<String> = info
                .iter()
                .filter(|i| {
                    matches!(
                        i.status,
                        MigrationStatus::ChecksumMismatch | MigrationStatus::Failed
                    )
                })
                .map(|i| format!("{} ({})", i.version, i.status))
                .collect();
            if bad.is_empty() {
                Ok(true)
            } else {
                Err(format!(
                    "{} migration(s) need repair: {}",
                    bad.len(),
                    bad.join(", ")
                ))
            }
        }
    }
}

/// Writes `build.rs` next to the current directory's Cargo.toml, or, when one exists and
/// lacks the line, prints the line to add.
fn build_script(source: &Path) -> Outcome {
    if !Path::new("Cargo.toml").is_file() {
        return Err("run this in the crate's folder (no Cargo.toml here)".into());
    }
    let line = format!("println!(\"cargo:rerun-if-changed={}\");", source.display());
    let path = Path::new("build.rs");
    match std::fs::read_to_string(path) {
        Ok(text) if text.contains(&line) => {
            println!("build.rs already reruns when {} changes", source.display());
        }
        Ok(_) => {
            println!("build.rs exists: add this line to its main():\n    {line}");
        }
        Err(_) => {
            let text = format!(
                "// Rebuild when a migration is added: lifeguard::migrate!() embeds the files.\n\
                 fn main() {{\n    {line}\n}}\n"
            );
            std::fs::write(path, text).map_err(|e| format!("cannot write build.rs: {e}"))?;
            println!("wrote build.rs");
        }
    }
    Ok(true)
}

fn print_info(info: &[lifeguard::migrate::MigrationInfo]) {
    if info.is_empty() {
        println!("no migrations");
        return;
    }
    let rows: Vec<[String; 5]> = info
        .iter()
        .map(|i| {
            [
                i.version.to_string(),
                format!(
                    "{}{}",
                    i.description,
                    if i.reversible { " (reversible)" } else { "" }
                ),
                i.status.to_string(),
                i.installed_on.clone().unwrap_or_default(),
                i.execution_time.map(millis).unwrap_or_default(),
            ]
        })
        .collect();
    let header = ["VERSION", "DESCRIPTION", "STATUS", "INSTALLED ON", "TIME"];
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let text: Vec<String> = cells
            .iter()
            .zip(width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(&header.map(String::from));
    line(&width.map(|w| "-".repeat(w)));
    for r in &rows {
        line(r);
    }
    let count = |s: MigrationStatus| info.iter().filter(|i| i.status == s).count();
    println!(
        "\n{} applied, {} pending{}",
        count(MigrationStatus::Applied),
        count(MigrationStatus::Pending),
        [
            (MigrationStatus::ChecksumMismatch, "checksum mismatch"),
            (MigrationStatus::Failed, "failed"),
            (MigrationStatus::OutOfOrder, "out of order"),
            (MigrationStatus::Missing, "missing from source"),
        ]
        .iter()
        .map(|(s, what)| (count(*s), what))
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!(", {n} {what}"))
        .collect::<String>()
    );
}

/// `YYYYMMDDHHMMSS` in UTC (the civil-from-days algorithm; no date crate needed).
pub(crate) fn timestamp(now: SystemTime) -> i64 {
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    ((year * 100 + month) * 100 + day) * 1_000_000
        + (rem / 3600) * 10_000
        + (rem % 3600 / 60) * 100
        + rem % 60
}

fn add(dir: &Path, name: &str, reversible: bool) -> Outcome {
    let slug: String = name
        .trim()
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect::<String>()
        .split('_')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    if slug.is_empty() {
        return Err("the migration name must contain a letter or digit".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Stay after every existing version, even when two are added within one second.
    let existing = Migrator::new(dir).map_err(|e| e.to_string())?;
    let latest = existing.migrations().iter().map(|m| m.version()).max();
    let version = match latest {
        Some(l) if l >= timestamp(SystemTime::now()) => l + 1,
        _ => timestamp(SystemTime::now()),
    };
    let files: Vec<(String, &str)> = if reversible {
        vec![
            (
                format!("{version}_{slug}.up.sql"),
                "-- Add the migration here.\n",
            ),
            (
                format!("{version}_{slug}.down.sql"),
                "-- Undo the .up.sql migration here.\n",
            ),
        ]
    } else {
        vec![(
            format!("{version}_{slug}.sql"),
            "-- Add the migration here.\n",
        )]
    };
    for (file, text) in files {
        let path = dir.join(&file);
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("created {}", path.display());
    }
    Ok(true)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A connection to the server for CREATE/DROP DATABASE: the `postgres` database, else
/// `template1` (the target database itself may not exist, and cannot be dropped from).
fn admin(cfg: &Config) -> Result<Client, String> {
    let mut admin = cfg.clone();
    // Administer from another database than the one being created or dropped.
    let first = if cfg.get_dbname() == "postgres" {
        "template1"
    } else {
        "postgres"
    };
    admin.dbname(first);
    match Client::connect_with(&admin) {
        Ok(c) => Ok(c),
        Err(e) if e.code() == Some(&SqlState::INVALID_CATALOG_NAME) => {
            admin.dbname("template1");
            Client::connect_with(&admin).map_err(|e| format!("cannot connect to the server: {e}"))
        }
        Err(e) => Err(format!("cannot connect to the server: {e}")),
    }
}

fn exists(admin: &Client, name: &str) -> Result<bool, String> {
    admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .map(|r| r.is_some())
        .map_err(|e| e.to_string())
}

fn create(cfg: &Config) -> Outcome {
    let name = cfg.get_dbname();
    let admin = admin(cfg)?;
    if exists(&admin, name)? {
        println!("database {name} already exists");
        return Ok(true);
    }
    admin
        .batch_execute(&format!("CREATE DATABASE {}", quote_ident(name)))
        .map_err(|e| format!("cannot create database {name}: {e}"))?;
    println!("created database {name}");
    Ok(true)
}

fn drop_db(cfg: &Config, force: bool) -> Outcome {
    let name = cfg.get_dbname();
    let admin = admin(cfg)?;
    if !exists(&admin, name)? {
        println!("database {name} does not exist");
        return Ok(true);
    }
    let with = if force { " WITH (FORCE)" } else { "" };
    admin
        .batch_execute(&format!("DROP DATABASE {}{with}", quote_ident(name)))
        .map_err(|e| {
            let busy = e.code().is_some_and(|c| c.code() == "55006")
                && e.to_string().contains("other users");
            let hint = if busy && !force {
                " (other sessions are using it: pass --force to end them)"
            } else {
                ""
            };
            format!("cannot drop database {name}: {e}{hint}")
        })?;
    println!("dropped database {name}");
    Ok(true)
}

/// Runs a `database` subcommand.
pub fn database(cmd: DatabaseCommand) -> Outcome {
    match cmd {
        DatabaseCommand::Create { connect } => create(&config(&connect)?),
        DatabaseCommand::Drop { connect, force } => drop_db(&config(&connect)?, force),
        DatabaseCommand::Reset {
            connect: c,
            source,
            force,
        } => {
            let cfg = config(&c)?;
            // Read the migrations first: a bad folder should not cost the database.
            let (m, open) = with_progress(migrator(&source)?, false);
            drop_db(&cfg, force)?;
            create(&cfg)?;
            let client = Client::connect_with(&cfg).map_err(|e| format!("cannot connect: {e}"))?;
            let steps = finish(&open, m.run(&client))?;
            println!("applied {} migration(s)", steps.len());
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_time() {
        let t = UNIX_EPOCH + Duration::from_secs(1_709_210_096); // 2024-02-29 12:34:56 UTC
        assert_eq!(timestamp(t), 20240229123456);
        assert_eq!(timestamp(UNIX_EPOCH), 19700101000000);
    }
}
