//! `ttx serve`: runs the exchange's services in this process, all of them (the default) or those named.
//!
//! The wiring decides the deployment, not the services: without NATS every service runs here on the embedded log and
//! the in-process bus; with NATS, each process runs the services it is given against the JetStream log and the NATS
//! bus, and several processes (on several machines) form one exchange.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use ttx_eventlog_sqlite::SqliteLog;
use ttx_kernel::bus::call_raw;
use ttx_kernel::rpc::call;
use ttx_kernel::{Bus, Clock, EventLog, InProcessBus, SystemClock};
use ttx_nats::{JetStreamLog, JetStreamOptions, NatsBus};

use crate::config::Config;

/// A service `ttx serve --service` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum ServiceName {
    /// The HTTP API, web UI and probes (listens on http.listen).
    Gateway,
    /// The record as regulators check it: log status, chain verification.
    Audit,
    /// Organisations, users, roles, the technology-manager registry.
    Identity,
    /// Research results, their review and public notice; demands, challenges, search and matching.
    Listings,
    /// Negotiated deals, listed-price sales and bidding sessions.
    Negotiation,
}

impl ServiceName {
    pub const ALL: [Self; 5] = [Self::Gateway, Self::Audit, Self::Identity, Self::Listings, Self::Negotiation];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gateway => "gateway",
            Self::Audit => "audit",
            Self::Identity => "identity",
            Self::Listings => "listings",
            Self::Negotiation => "negotiation",
        }
    }

    fn needs_log(self) -> bool {
        matches!(self, Self::Audit | Self::Identity | Self::Listings | Self::Negotiation)
    }
}

/// The set of services to run: those named, or all of them.
pub fn selection(named: &[ServiceName]) -> BTreeSet<ServiceName> {
    if named.is_empty() { ServiceName::ALL.into_iter().collect() } else { named.iter().copied().collect() }
}

/// The name this process reports in traces: `ttx` when it runs everything, else `ttx-<service>+…`.
pub fn process_name(services: &BTreeSet<ServiceName>) -> String {
    if services.len() == ServiceName::ALL.len() {
        return "ttx".to_owned();
    }
    let names: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
    format!("ttx-{}", names.join("+"))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The log the configuration names: the embedded one in `data_dir`, or JetStream when `nats.url` is set.
pub async fn open_log(config: &Config) -> anyhow::Result<Arc<dyn EventLog>> {
    if config.nats.url.is_empty() {
        let log = SqliteLog::open(&config.data_dir)
            .with_context(|| format!("cannot open the event log in {}", config.data_dir.display()))?;
        tracing::info!(data_dir = %config.data_dir.display(), "embedded event log");
        Ok(Arc::new(log))
    } else {
        let options = JetStreamOptions { replicas: config.nats.replicas, ..JetStreamOptions::default() };
        let log = JetStreamLog::connect(&config.nats.url, options).await?;
        tracing::info!(url = %config.nats.url, replicas = config.nats.replicas, "JetStream event log");
        Ok(Arc::new(log))
    }
}

/// The gateway's token keys and login limits, from the configuration.
fn gateway_auth(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<ttx_gateway::auth::Auth>> {
    let now = clock.now().unix_micros() / 1_000_000;
    let dir = config.keys_dir();
    let keys = ttx_gateway::token::KeyRing::load_or_create(&dir, now)
        .with_context(|| format!("cannot use the token keys in {}", dir.display()))?;
    tracing::info!(kid = keys.signing_kid(), dir = %dir.display(), "token signing key");
    Ok(Arc::new(ttx_gateway::auth::Auth {
        keys,
        throttle: ttx_gateway::throttle::Throttle::new(Default::default()),
        token_ttl_secs: i64::from(config.auth.token_ttl_minutes.max(1)) * 60,
        secure_cookies: config.auth.secure_cookies,
        clock,
    }))
}

/// Waits until some instance of a service answers `subject` (here, or in another process): any reply counts, a typed
/// error too; only silence does not.
async fn answers(bus: &dyn Bus, service: ServiceName) -> anyhow::Result<()> {
    let subject = ttx_proto::services::ping_subject(service.as_str());
    let mut last = None;
    for _ in 0..100 {
        match call_raw(bus, &subject, Bytes::new(), Duration::from_secs(2)).await {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the {} service does not answer: {}", service.as_str(), last.map(|e| e.to_string()).unwrap_or_default())
}
/// Runs `services` until `shutdown` resolves or one of them fails; then stops the others, letting requests in flight
/// finish, and closes the log.
pub async fn serve(
    config: Config,
    services: &BTreeSet<ServiceName>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_wired(config, services, Wiring { clock: Arc::new(SystemClock), listening: None }, shutdown).await
}

/// What a process's services get besides the configuration: the clock (a test moves its own) and, optionally, where
/// to announce the gateway's address.
#[derive(Debug)]
pub struct Wiring {
    pub clock: Arc<dyn Clock>,
    pub listening: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
}

/// [`serve`] with the clock and the address announcement given.
pub async fn serve_wired(
    config: Config,
    services: &BTreeSet<ServiceName>,
    mut wiring: Wiring,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let distributed = !config.nats.url.is_empty();
    if !distributed && services.len() != ServiceName::ALL.len() {
        bail!("--service needs --nats (or nats.url): without NATS the services share this process's log and bus");
    }
    let bus: Arc<dyn Bus> =
        if distributed { Arc::new(NatsBus::connect(&config.nats.url).await?) } else { Arc::new(InProcessBus::new()) };
    let log = if services.iter().any(|s| s.needs_log()) { Some(open_log(&config).await?) } else { None };

    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stopped = move || {
        let mut rx = stopping.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let mut tasks = tokio::task::JoinSet::new();
    if let (true, Some(log)) = (services.contains(&ServiceName::Audit), &log) {
        let deps = ttx_audit::Deps { log: log.clone(), bus: bus.clone() };
        let until = stopped();
        tasks.spawn(async move { ttx_audit::run(deps, until).await.context("audit service") });
        answers(bus.as_ref(), ServiceName::Audit).await?;
        let head = call(bus.as_ref(), &ttx_proto::audit::v1::StatusRequest {}).await.map_or(0, |s| s.log_head);
        tracing::info!(head, "audit service ready");
    }
    if let (true, Some(log)) = (services.contains(&ServiceName::Identity), &log) {
        let deps = ttx_identity::Deps { log: log.clone(), bus: bus.clone(), clock: wiring.clock.clone() };
        let until = stopped();
        tasks.spawn(async move { ttx_identity::run(deps, until).await.context("identity service") });
        // Any answer will do: asking for a user that cannot exist costs one stream read.
        answers(bus.as_ref(), ServiceName::Identity).await?;
    }
    if let (true, Some(log)) = (services.contains(&ServiceName::Listings), &log) {
        let deps = ttx_listings::Deps { log: log.clone(), bus: bus.clone(), clock: wiring.clock.clone() };
        let until = stopped();
        tasks.spawn(async move { ttx_listings::run(deps, until).await.context("listings service") });
        answers(bus.as_ref(), ServiceName::Listings).await?;
    }
    if let (true, Some(log)) = (services.contains(&ServiceName::Negotiation), &log) {
        let deps = ttx_negotiation::Deps { log: log.clone(), bus: bus.clone(), clock: wiring.clock.clone() };
        let until = stopped();
        tasks.spawn(async move { ttx_negotiation::run(deps, until).await.context("negotiation service") });
        answers(bus.as_ref(), ServiceName::Negotiation).await?;
    }
    if services.contains(&ServiceName::Gateway) {
        let auth = gateway_auth(&config, wiring.clock.clone())?;
        let listener = tokio::net::TcpListener::bind(config.http.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.http.listen))?;
        let addr = listener.local_addr()?;
        let deps = ttx_gateway::Deps { bus: bus.clone(), auth, metrics: Default::default() };
        let until = stopped();
        tasks.spawn(async move { ttx_gateway::run(listener, deps, until).await.context("gateway") });
        // A fixed line on stdout, for people and for tests that listen on port 0.
        println!("ttx listening on http://{addr}");
        if let Some(tx) = wiring.listening.take() {
            let _ = tx.send(addr);
        }
    } else {
        let names: Vec<&str> = services.iter().map(|s| s.as_str()).collect();
        println!("ttx serving {} over {}", names.join(", "), config.nats.url);
    }

    let failed = tokio::select! {
        () = shutdown => None,
        Some(done) = tasks.join_next() => Some(done),
    };
    let _ = stop.send(true);
    let mut result = match failed {
        Some(Ok(Ok(()))) => Err(anyhow::anyhow!("a service stopped on its own")),
        Some(Ok(Err(e))) => Err(e),
        Some(Err(e)) => Err(anyhow::anyhow!("a service panicked: {e}")),
        None => Ok(()),
    };
    while let Some(done) = tasks.join_next().await {
        let outcome = match done {
            Ok(r) => r,
            Err(e) => Err(anyhow::anyhow!("a service panicked: {e}")),
        };
        if let (Err(e), Ok(())) = (outcome, &result) {
            result = Err(e);
        }
    }
    drop(log);
    tracing::info!("stopped");
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ttx_kernel::{Clock, EventLog, SystemClock};

    use super::ServiceName;

    /// Every request type of every context has exactly one handler: a request added to `ttx-proto` without one, or a
    /// handler for a request of another context, fails here.
    #[tokio::test]
    async fn every_service_serves_each_request_of_its_context() {
        let dir = tempfile::tempdir().unwrap();
        let log: Arc<dyn EventLog> = Arc::new(ttx_eventlog_sqlite::SqliteLog::open(dir.path()).unwrap());
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sorted = |subjects: &[&'static str]| {
            let mut v = subjects.to_vec();
            v.sort_unstable();
            v
        };
        assert_eq!(
            ttx_audit::router(log.clone()).subjects().collect::<Vec<_>>(),
            sorted(ttx_proto::audit::v1::REQUESTS)
        );
        let identity = Arc::new(ttx_identity::Service::new(log.clone(), clock.clone()));
        assert_eq!(identity.router().subjects().collect::<Vec<_>>(), sorted(ttx_proto::identity::v1::REQUESTS));
        let listings = Arc::new(ttx_listings::Service::new(log.clone(), clock.clone()));
        assert_eq!(listings.router().subjects().collect::<Vec<_>>(), sorted(ttx_proto::listings::v1::REQUESTS));
        let negotiation = Arc::new(ttx_negotiation::Service::new(log, clock));
        assert_eq!(negotiation.router().subjects().collect::<Vec<_>>(), sorted(ttx_proto::negotiation::v1::REQUESTS));
    }

    #[test]
    fn serve_runs_every_service_the_gateway_checks_for_readiness() {
        let served: Vec<&str> =
            ServiceName::ALL.iter().filter(|s| **s != ServiceName::Gateway).map(|s| s.as_str()).collect();
        assert_eq!(served, ttx_proto::services::ALL);
    }
}
