//! `lifeguard reflector install|run`: make tables reflectable, and keep their cached rows
//! fresh in Redis.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use lifeguard::cache::Cache;
use lifeguard::reflector::{install_sql, Reflector};
use lifeguard::{Client, Executor};

use crate::migrate::{config, timestamp, ConnectArgs};

/// `lifeguard reflector …`
#[derive(clap::Subcommand, Debug)]
#[command(after_help = "Examples:
  lifeguard reflector install film actor            # writes migrations/<UTC time>_lifeguard_reflector_film_actor.sql
  lifeguard reflector install film --apply          # runs the install SQL on DATABASE_URL now
  lifeguard reflector run --redis redis://127.0.0.1:6379/ film actor")]
pub enum ReflectorCommand {
    /// Write the install SQL of the tables (a version column, notify triggers) as a
    /// migration file, or run it with --apply. Re-running it is harmless.
    Install {
        /// Folder to write the migration file into.
        #[arg(long, default_value = "migrations", value_name = "DIR")]
        out: PathBuf,
        /// Run the SQL on the database now instead of writing a file.
        #[arg(long)]
        apply: bool,
        #[command(flatten)]
        connect: ConnectArgs,
        /// The tables, named as the models' `table = ".."` names them.
        #[arg(required = true, num_args = 1..)]
        tables: Vec<String>,
    },
    /// Run a reflector until interrupted (any number may run; one leads).
    Run {
        /// The Redis the app caches in (redis://[user:password@]host[:port][/db]).
        #[arg(long, value_name = "URL")]
        redis: String,
        /// The cache's key namespace (the app's `Cache::builder(..).namespace(..)`).
        #[arg(long, default_value = "lifeguard", value_name = "NS")]
        namespace: String,
        #[command(flatten)]
        connect: ConnectArgs,
        /// The installed tables to reflect.
        #[arg(required = true, num_args = 1..)]
        tables: Vec<String>,
    },
}

/// Runs a `reflector` subcommand.
pub fn run(cmd: ReflectorCommand) -> Result<bool, String> {
    match cmd {
        ReflectorCommand::Install {
            out,
            apply,
            connect,
            tables,
        } => {
            let sql = install_sql(&tables);
            if apply {
                let client = Client::connect_with(&config(&connect)?)
                    .map_err(|e| format!("cannot connect to the database: {e}"))?;
                // One implicit transaction: all tables or none.
                client
                    .batch_execute(&sql)
                    .map_err(|e| format!("installing the reflector triggers: {e}"))?;
                println!("installed the reflector triggers on {}", tables.join(", "));
                return Ok(true);
            }
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("creating {}: {e}", out.display()))?;
            let slug: String = tables
                .join("_")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_lowercase()
                    } else {
                        '_'
                    }
                })
                .collect();
            let path = out.join(format!(
                "{}_lifeguard_reflector_{slug}.sql",
                timestamp(SystemTime::now())
            ));
            std::fs::write(&path, sql).map_err(|e| format!("writing {}: {e}", path.display()))?;
            println!("{}", path.display());
            Ok(true)
        }
        ReflectorCommand::Run {
            redis,
            namespace,
            connect,
            tables,
        } => {
            let cache = Cache::builder(redis)
                .namespace(namespace)
                .build()
                .map_err(|e| e.to_string())?;
            let reflector = Reflector::builder(config(&connect)?, cache)
                .tables(tables)
                .build()
                .map_err(|e| e.to_string())?;
            stop_on_signal(reflector.handle());
            reflector.run().map_err(|e| e.to_string())?;
            Ok(true)
        }
    }
}

static SIGNALLED: AtomicBool = AtomicBool::new(false);

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

/// SIGINT / SIGTERM stop the reflector (its sessions close, releasing the leader lock).
fn stop_on_signal(handle: lifeguard::reflector::ReflectorHandle) {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    std::thread::spawn(move || loop {
        if SIGNALLED.load(Ordering::SeqCst) {
            handle.stop();
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    });
}
