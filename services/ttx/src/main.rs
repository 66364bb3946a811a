//! The `ttx` binary. All work is behind `ttx::run`; this file only hands over the arguments.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ttx::cli::Cli::parse();
    match ttx::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
