//! The `ttx` binary. All work is behind `ttx::run`; this file only hands over the arguments.

use std::process::ExitCode;

use clap::Parser;

// Many small buffers are allocated on request threads and freed on the log writer's thread; mimalloc handles that
// pattern far better than the system allocator (measured with `ttx bench log`, see docs/operations.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
