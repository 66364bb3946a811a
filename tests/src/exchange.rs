//! `TestExchange`: the whole exchange in the test process, wired as `ttx serve` wires it, in either deployment, with
//! a clock the test moves and the gateway on a real socket; one method per user action.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ttx::config::Config;
use ttx::serve::{ServiceName, Wiring, serve_wired};
use ttx_identity::values::CreditCode;
use ttx_kernel::{ManualClock, Timestamp};
use ttx_proto::common::v1::Role;
use ttx_proto::identity::v1::{self as pb};

/// Which deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The embedded SQLite log and the in-process bus.
    Embedded,
    /// The JetStream log and the NATS bus, on a server of the test's own.
    Nats,
}

pub const PASSWORD: &str = "a long test password";

/// Organisations every exchange starts with: (first 17 characters of the credit code, kind, name).
pub const ORGS: [(&str, pb::OrgKind, &str); 6] = [
    ("91310000MA1FL4KX3", pb::OrgKind::ServiceInstitution, "浦江技术交易所"),
    ("12100000400000624", pb::OrgKind::University, "华东理工示范大学"),
    ("91350100M000100Y4", pb::OrgKind::Enterprise, "闽江新能源科技有限公司"),
    ("11310000002420045", pb::OrgKind::RegulatorAgency, "市科学技术委员会"),
    ("12100000400011029", pb::OrgKind::Institute, "先进材料研究院"),
    ("91440300MA5G2P8X1", pb::OrgKind::Enterprise, "鹏城储能科技有限公司"),
];

/// Users every exchange starts with: (login, organisation index, role).
pub const USERS: [(&str, usize, Role); 7] = [
    ("root", 0, Role::Admin),
    ("zhangwei", 1, Role::TechManager),
    ("liuyang", 1, Role::Reviewer),
    ("zhaomin", 2, Role::EnterpriseMember),
    ("wufang", 3, Role::Regulator),
    ("wangqiang", 4, Role::TechManager),
    ("sunli", 5, Role::EnterpriseMember),
];

pub fn org_id(index: usize) -> String {
    CreditCode::with_check_character(ORGS[index].0).map(|c| c.org_id()).unwrap_or_default()
}

/// A running exchange; stopped when dropped.
pub struct TestExchange {
    pub addr: SocketAddr,
    pub clock: Arc<ManualClock>,
    pub mode: Mode,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    config: Config,
    _nats: Option<ttx_nats::testing::NatsServer>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestExchange").field("addr", &self.addr).field("mode", &self.mode).finish_non_exhaustive()
    }
}

/// An HTTP answer: status and JSON body (null when there is none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl TestExchange {
    /// Seeds the organisations and users, then starts every service and the gateway.
    pub async fn spawn(mode: Mode) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let nats = (mode == Mode::Nats).then(ttx_nats::testing::NatsServer::start);
        let mut config = Config { data_dir: dir.path().join("data"), ..Config::default() };
        config.http.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        if let Some(n) = &nats {
            config.nats.url = n.url();
        }
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix_micros(1_790_000_000_000_000)));
        seed(&config, clock.clone()).await?;

        let (tx, rx) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let wiring = Wiring { clock: clock.clone(), listening: Some(tx) };
        let services = ServiceName::ALL.into_iter().collect();
        let kept = config.clone();
        let task = tokio::spawn(async move {
            serve_wired(config, &services, wiring, async {
                let _ = stopped.await;
            })
            .await
        });
        let addr = rx.await.map_err(|_| anyhow::anyhow!("the exchange stopped before it listened"))?;
        Ok(Self { addr, clock, mode, stop: Some(stop), task: Some(task), config: kept, _nats: nats, _dir: dir })
    }

    /// Stops the exchange, then reads its whole log (as an auditor would).
    pub async fn stop_and_read_log(mut self) -> anyhow::Result<Vec<ttx_kernel::RecordedEvent>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await??;
        }
        // Read-only for the embedded log: the stopped exchange's last tasks may still hold its writer's lock a moment.
        let log: Arc<dyn ttx_kernel::EventLog> = if self.config.nats.url.is_empty() {
            Arc::new(ttx_eventlog_sqlite::SqliteLog::open_read_only(&self.config.data_dir)?)
        } else {
            ttx::serve::open_log(&self.config).await?
        };
        let mut events = Vec::new();
        loop {
            let page = log.read_all(events.len() as u64 + 1, 1000).await?;
            if page.is_empty() {
                return Ok(events);
            }
            events.extend(page);
        }
    }

    /// Stops the exchange and reports how it ended.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await?,
            None => Ok(()),
        }
    }

    /// One HTTP/1.1 request on a new connection.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        self.request_with(method, path, token, &[], body).await
    }

    /// One HTTP/1.1 request on a new connection, with more headers.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> anyhow::Result<Answer> {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await?;
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw)).await??;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| anyhow::anyhow!("no HTTP answer"))?;
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(Answer { status, body: serde_json::from_str(body).unwrap_or(Value::Null) })
    }

    pub async fn login(&self, user: &str) -> anyhow::Result<String> {
        let a = self
            .request("POST", "/api/v1/auth/login", None, Some(&json!({ "user_id": user, "password": PASSWORD })))
            .await?;
        anyhow::ensure!(a.status == 200, "login of {user}: {} {}", a.status, a.body);
        Ok(a.body["token"].as_str().unwrap_or_default().to_owned())
    }

    /// Moves the exchange's clock.
    pub fn advance(&self, d: Duration) {
        self.clock.advance(d);
    }
}

/// Registers [`ORGS`] and [`USERS`] through the identity service's commands, as the system, before the exchange
/// starts (the embedded log admits one writer at a time).
async fn seed(config: &Config, clock: Arc<ManualClock>) -> anyhow::Result<()> {
    let log = ttx::serve::open_log(config).await?;
    let identity = std::sync::Arc::new(ttx_identity::Service::new(log, clock)).router();
    let actor = ttx_identity::service::system_actor();
    let ctx = |id: String| Some(pb::CommandContext { actor: Some(actor.clone()), command_id: id });
    for (i, (code, kind, name)) in ORGS.iter().enumerate() {
        let credit = CreditCode::with_check_character(code).map_err(|e| anyhow::anyhow!("{e}"))?;
        let c = pb::RegisterOrganisation {
            context: ctx(format!("seed-org-{i}")),
            kind: (*kind).into(),
            name: (*name).into(),
            credit_code: credit.to_string(),
            region: "上海市".into(),
        };
        identity.call(&c).await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    }
    for (user, org, role) in USERS {
        let c = pb::CreateUser {
            context: ctx(format!("seed-user-{user}")),
            user_id: user.into(),
            org_id: org_id(org),
            display_name: user.into(),
            password: PASSWORD.into(),
            roles: vec![role.into()],
        };
        identity.call(&c).await.map_err(|e| anyhow::anyhow!("{}", e.message))?;
    }
    Ok(())
}
