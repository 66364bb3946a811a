//! The `ttx` binary's work, behind [`run`].
//!
//! # Layout
//! - [`cli`]: commands and flags.
//! - [`config`]: defaults, config file, `TTX__…` environment overrides.
//! - [`serve`]: `ttx serve`: all services in one process (embedded log), or the named ones over NATS.
//! - [`telemetry`]: logs, trace context and OTLP export.
//! - [`logcmd`]: `ttx log stats|verify`.
//! - [`mod@bench`]: `ttx bench log`; [`bench_bids`]: `ttx bench bids`; [`bench_search`]: `ttx bench search`.
//! - [`admin`]: `ttx admin create-user|rotate-key`.
//! - [`demo`]: `ttx demo`, a seeded exchange to try every role, through the services' own routers.

pub mod admin;
pub mod bench;
pub mod bench_bids;
pub mod bench_search;
pub mod cli;
pub mod config;
pub mod demo;
pub mod logcmd;
pub mod serve;
pub mod telemetry;

use std::process::ExitCode;

use cli::{AdminCommand, BenchCommand, Cli, Command, LogCommand};
use config::Config;

/// Runs one command line to completion. `Ok` carries the exit code; `Err` is an operational failure.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let mut config = Config::load(cli.config.as_deref())?;
    let command = cli.command.unwrap_or(Command::Serve(Default::default()));
    let name = match &command {
        Command::Serve(args) => serve::process_name(&serve::selection(&args.services)),
        _ => "ttx-cli".to_owned(),
    };
    let _telemetry = telemetry::init(&name, &config.telemetry.otlp_endpoint)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
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
            let services = serve::selection(&args.services);
            let clock: std::sync::Arc<dyn ttx_kernel::Clock> = match &args.test_clock_start {
                None => std::sync::Arc::new(ttx_kernel::SystemClock),
                Some(t) => {
                    let start = ttx_kernel::Timestamp::parse_rfc3339(t)
                        .ok_or_else(|| anyhow::anyhow!("--test-clock-start: not an RFC 3339 time in UTC: {t}"))?;
                    tracing::warn!(%start, "the exchange runs on a test clock: for tests and rehearsals only");
                    std::sync::Arc::new(ttx_kernel::ShiftedClock::starting_at(start))
                }
            };
            let wiring = serve::Wiring { clock, listening: None };
            runtime.block_on(serve::serve_wired(config, &services, wiring, serve::shutdown_signal()))?;
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
        Command::Admin { command } => {
            let (AdminCommand::CreateUser(cli::CreateUserArgs { target, .. }) | AdminCommand::RotateKey(target)) =
                &command;
            if let Some(dir) = &target.data.data_dir {
                config.data_dir.clone_from(dir);
            }
            if let Some(url) = &target.nats.nats {
                config.nats.url.clone_from(url);
            }
            match command {
                AdminCommand::CreateUser(args) => runtime.block_on(admin::create_user(&config, args))?,
                AdminCommand::RotateKey(_) => admin::rotate_key(&config)?,
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(target) => {
            if let Some(dir) = &target.data.data_dir {
                config.data_dir.clone_from(dir);
            }
            if let Some(url) = &target.nats.nats {
                config.nats.url.clone_from(url);
            }
            runtime.block_on(demo::demo(&config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Log(args) } => {
            runtime.block_on(bench::bench_log(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Bids(args) } => {
            runtime.block_on(bench_bids::bench_bids(args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench { command: BenchCommand::Search(args) } => {
            runtime.block_on(bench_search::bench_search(args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
