//! Command-line interface.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// TTX, the technology-transfer exchange.
#[derive(Debug, Parser)]
#[command(name = "ttx", version, about)]
pub struct Cli {
    /// Configuration file (TOML; see deploy/config/ttx.toml). `TTX__SECTION__KEY` variables override it.
    #[arg(long, global = true, env = "TTX_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the exchange: every service in this process (the default when no command is given), or with
    /// `--nats URL --service NAME…` some of them, as one of several processes of one exchange.
    Serve(ServeArgs),
    /// Inspect or verify the event log.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Operator commands: create users (the first administrator), rotate the token signing key.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Seed a demo exchange (organisations and a user per role) and print the logins with their passwords.
    Demo(AdminArgs),
    /// Measure performance.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub nats: NatsArg,
    /// Address for the HTTP API and web UI [default: http.listen from the configuration, 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Run only this service (repeat for several; needs --nats). Without it, every service runs here.
    #[arg(long = "service", value_name = "NAME", value_enum)]
    pub services: Vec<crate::serve::ServiceName>,
    /// For tests and rehearsals only: the exchange's clock starts at this instant (RFC 3339, UTC) and runs at real
    /// speed, so that periods fall in years whose holiday schedules are loaded. Never in production: the log records
    /// these times.
    #[arg(long, value_name = "TIME", hide = true)]
    pub test_clock_start: Option<String>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct DataDirArg {
    /// Directory holding the embedded event log [default: data_dir from the configuration, ./ttx-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args, Default, Clone)]
pub struct NatsArg {
    /// NATS server URL(s), comma-separated: use the JetStream log there instead of the embedded one
    /// [default: nats.url from the configuration, empty].
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// With --nats: replicas of the benchmark's stream (3 on a 3-node cluster).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub replicas: u8,
}

#[derive(Debug, Args, Default, Clone)]
pub struct LogArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub nats: NatsArg,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Print the number of events and streams, the head position, checkpoints and sizes.
    Stats(LogArgs),
    /// Check every event's hash, chain link, version and position. Exits 1 naming the first bad position.
    Verify(LogArgs),
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Append, replay and read throughput and latency of the embedded log, against a raw SQLite baseline.
    Log(BenchLogArgs),
    /// Search over generated results: index rebuild time, query latency over a fixed query set, live indexing lag.
    Search(BenchSearchArgs),
    /// One hot bidding session over HTTP: accepted bids per second and bid latency, embedded or on NATS.
    Bids(BenchBidsArgs),
}

#[derive(Debug, Args)]
pub struct BenchBidsArgs {
    /// Where to put the benchmark's data (must be empty or absent) [default: a temporary directory].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Bidders bidding at once.
    #[arg(long, default_value_t = 200)]
    pub bidders: usize,
    /// How long they bid.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Offered load in bids per second, spread evenly over the bidders (open loop; latency counts from when each bid
    /// was due). Without it every bidder bids again as soon as it is answered (closed loop).
    #[arg(long)]
    pub rate: Option<u64>,
    /// Run the exchange on this NATS server (JetStream log and bus) instead of the embedded log; use a server of
    /// its own.
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
}

#[derive(Debug, Args)]
pub struct BenchSearchArgs {
    /// Where to put the benchmark's log (must be empty or absent) [default: a temporary directory].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Published results to generate and index.
    #[arg(long, default_value_t = 100_000)]
    pub results: u64,
    /// Times the query set is run.
    #[arg(long, default_value_t = 10)]
    pub rounds: u64,
    /// Results appended one at a time to measure the live indexing lag.
    #[arg(long, default_value_t = 100)]
    pub appends: u64,
}

#[derive(Debug, Args)]
pub struct BenchLogArgs {
    /// Where to put the benchmark's logs (must be empty or absent) [default: a temporary directory].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Total events to append (the replay reads all of them).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Payload bytes per event.
    #[arg(long, default_value_t = 300)]
    pub payload: usize,
    /// Measure the JetStream log on this NATS server instead, beside raw JetStream publishing (use a server of its
    /// own: the benchmark writes TTX_EVENTS and refuses a stream that already holds events).
    #[arg(long, value_name = "URL")]
    pub nats: Option<String>,
    /// With --nats: replicas of the benchmark's stream (3 on a 3-node cluster).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub replicas: u8,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a user (and its organisation when new), reading the password from the first line of standard input.
    /// Works on the log directly: with the embedded log, stop the exchange first.
    CreateUser(CreateUserArgs),
    /// Add a new token signing key to the keys directory; the older keys keep verifying the tokens they signed.
    RotateKey(AdminArgs),
}

#[derive(Debug, Args, Default, Clone)]
pub struct AdminArgs {
    #[command(flatten)]
    pub data: DataDirArg,
    #[command(flatten)]
    pub nats: NatsArg,
}

#[derive(Debug, Args, Clone)]
pub struct CreateUserArgs {
    #[command(flatten)]
    pub target: AdminArgs,
    /// Login (3–32 of a-z, 0-9, _ and -, starting with a letter); it is also the user's id.
    #[arg(long)]
    pub user: String,
    /// The name shown for the user.
    #[arg(long)]
    pub name: String,
    /// The organisation's unified social credit code (18 characters).
    #[arg(long)]
    pub org: String,
    /// The organisation's name, to register it when it is new.
    #[arg(long)]
    pub org_name: Option<String>,
    /// The organisation's kind when it is new: university, institute, enterprise, regulator_agency, pilot_base or
    /// service_institution (the exchange operator; administrators belong to one).
    #[arg(long, default_value = "service_institution")]
    pub org_kind: String,
    /// The organisation's region when it is new.
    #[arg(long, default_value = "上海市")]
    pub region: String,
    /// A role to grant (repeatable): admin, tech_manager, enterprise_member, reviewer, regulator.
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
}
