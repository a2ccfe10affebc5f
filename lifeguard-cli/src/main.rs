//! The `lifeguard` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod migrate;
mod prepare;

/// Lifeguard: compile-time checked SQL, migrations and databases for the may runtime.
#[derive(Parser, Debug)]
#[command(name = "lifeguard", version, about)]
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
}

fn main() -> ExitCode {
    // DATABASE_URL may come from .env (here or in a parent folder); a missing file is fine.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(args) => prepare::run(args),
        Command::Migrate(cmd) => migrate::run(cmd),
        Command::Database(cmd) => migrate::database(cmd),
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
