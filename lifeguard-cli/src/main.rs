//! The `lifeguard` command-line tool.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(args) => prepare::run(args),
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
