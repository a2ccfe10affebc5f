//! The `lifeguard` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod generate;
mod migrate;
mod prepare;
mod reflector;

/// Lifeguard: compile-time checked SQL, migrations and databases for the may runtime.
///
/// Every command that talks to a database reads DATABASE_URL (from the environment, else
/// from `.env` here or in a parent folder) unless `--database-url` is given. Failures print
/// `error: …` and exit with status 1.
#[derive(Parser, Debug)]
#[command(
    name = "lifeguard",
    version,
    after_help = "Examples:
  lifeguard prepare                  # refresh .lifeguard-offline/ from DATABASE_URL
  lifeguard prepare --check          # CI: fail if .lifeguard-offline/ is out of date
  lifeguard migrate add -r create users
  lifeguard migrate run              # apply what is pending in migrations/
  lifeguard migrate info             # applied / pending / checksum mismatch / failed
  lifeguard database reset           # drop, create, migrate run
  lifeguard generate models --out src/models --tables film,actor
  lifeguard reflector install film   # a migration adding the reflector's triggers to film
  lifeguard reflector run --redis redis://127.0.0.1:6379/ film"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Regenerate `.lifeguard-offline/` (the checked macros' offline data) from DATABASE_URL.
    Prepare(prepare::PrepareArgs),
    /// Create, apply, revert and list SQL-file migrations (`migrations/` by default).
    #[command(subcommand)]
    Migrate(migrate::MigrateCommand),
    /// Create, drop or reset (drop, create, migrate) the database named by DATABASE_URL.
    #[command(subcommand)]
    Database(migrate::DatabaseCommand),
    /// Write code from the live schema: `#[derive(lifeguard::Model)]` structs.
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
    /// Install the reflector's triggers on tables, or run a reflector (keeps cached rows
    /// fresh in Redis from Postgres' change notifications).
    #[command(subcommand)]
    Reflector(reflector::ReflectorCommand),
}

fn main() -> ExitCode {
    restore_sigpipe();
    // DATABASE_URL may come from .env (here or in a parent folder); a missing file is fine.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(args) => prepare::run(args),
        Command::Migrate(cmd) => migrate::run(cmd),
        Command::Database(cmd) => migrate::database(cmd),
        Command::Generate(cmd) => generate::run(cmd),
        Command::Reflector(cmd) => reflector::run(cmd),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`lifeguard migrate info | head -1`)
/// would panic; like other command-line tools, end quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any thread exists; SIG_DFL is a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
