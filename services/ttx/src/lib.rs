//! The `ttx` binary's work, behind [`run`].
//!
//! # Layout
//! - [`cli`]: commands and flags.
//! - [`config`]: defaults, config file, `TTX__…` environment overrides.
//! - [`serve`]: the all-in-one exchange: the embedded log and the HTTP server, until Ctrl-C or SIGTERM.
//! - [`logcmd`]: `ttx log stats|verify`.
//! - [`bench`]: `ttx bench log`.

pub mod bench;
pub mod cli;
pub mod config;
pub mod logcmd;
pub mod serve;

use std::process::ExitCode;

use cli::{BenchCommand, Cli, Command, LogCommand};
use config::Config;

/// Runs one command line to completion. `Ok` carries the exit code; `Err` is an operational failure.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    init_tracing();
    let mut config = Config::load(cli.config.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command.unwrap_or(Command::Serve(Default::default())) {
        Command::Serve(args) => {
            if let Some(dir) = args.data.data_dir {
                config.data_dir = dir;
            }
            if let Some(listen) = args.listen {
                config.http.listen = listen;
            }
            if let Some(url) = args.nats.nats {
                config.nats.url = url;
            }
            runtime.block_on(serve::serve(config, serve::shutdown_signal()))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Log { command } => {
            let (LogCommand::Stats(args) | LogCommand::Verify(args)) = &command;
            let dir = args.data.data_dir.clone().unwrap_or(config.data_dir.clone());
            let nats = args.nats.nats.clone().unwrap_or(config.nats.url.clone());
            let store = if nats.is_empty() {
                logcmd::Store::Embedded(dir)
            } else {
                logcmd::Store::Nats { url: nats, replicas: config.nats.replicas }
            };
            runtime.block_on(async {
                match command {
                    LogCommand::Stats(_) => logcmd::stats(&store).await,
                    LogCommand::Verify(_) => logcmd::verify(&store).await,
                }
            })
        }
        Command::Bench { command: BenchCommand::Log(args) } => {
            runtime.block_on(bench::bench_log(args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
