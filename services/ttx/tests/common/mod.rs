//! Running the `ttx` binary in tests: real processes, real sockets.

#![allow(dead_code)] // each test file uses part of this

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn ttx() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ttx"));
    c.env("RUST_LOG", "warn").env_remove("TTX_CONFIG");
    c
}

pub fn run(args: &[&str]) -> Output {
    ttx().args(args).output().expect("run ttx")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A running `ttx serve`, killed on drop.
pub struct Process {
    child: Child,
    /// The first line it printed.
    pub first_line: String,
}

impl Process {
    /// Starts `cmd` and waits for its first line on stdout.
    pub fn start(mut cmd: Command) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start ttx serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first_line = lines.next().expect("ttx serve prints a line when it is up").unwrap();
        Self { child, first_line }
    }

    /// Sends SIGTERM and returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "ttx did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `ttx serve` with the gateway.
pub struct Server {
    pub process: Process,
    pub addr: SocketAddr,
}

impl Server {
    pub fn start(cmd: Command) -> Self {
        let process = Process::start(cmd);
        let line = &process.first_line;
        let addr = line.strip_prefix("ttx listening on http://").unwrap_or_else(|| panic!("unexpected line {line:?}"));
        Self { addr: addr.parse().unwrap(), process }
    }

    pub fn get(&self, path: &str) -> (u16, String, String) {
        self.request("GET", path, &[])
    }

    /// One HTTP/1.1 request on a new connection: status, content type, body.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
        self.request_with_body(method, path, headers, "")
    }

    /// A JSON request (with a bearer token when given); the answer's status and JSON body.
    pub fn json(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: &serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("Content-Type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("Authorization", auth));
        }
        let text = if body.is_null() { String::new() } else { body.to_string() };
        let (status, _, answer) = self.request_with_body(method, path, &headers, &text);
        (status, serde_json::from_str(&answer).unwrap_or(serde_json::Value::Null))
    }

    fn request_with_body(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
        let length = body.len();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{extra}Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let content_type = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned))
            .unwrap_or_default();
        (status, content_type, body.to_owned())
    }

    pub fn terminate(mut self) -> bool {
        self.process.terminate()
    }
}

/// Creates a user with `ttx admin create-user`, the password on standard input.
pub fn admin_create_user(
    target: &[&str],
    user: &str,
    org: &str,
    org_name: &str,
    kind: &str,
    role: &str,
    password: &str,
) {
    use std::io::Write as _;
    let mut child = ttx()
        .args(["admin", "create-user", "--user", user, "--name", user, "--org", org, "--org-name", org_name])
        .args(["--org-kind", kind, "--role", role])
        .args(target)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
}

/// The identity flow every deployment must carry: the first administrator logs in, registers a university and a
/// technology manager there, who logs in and sees only what is theirs.
pub fn identity_flow(server: &Server, admin_password: &str) {
    use serde_json::json;
    let (status, body) =
        server.json("POST", "/api/v1/auth/login", None, &json!({ "user_id": "root", "password": admin_password }));
    assert_eq!(status, 200, "{body}");
    let admin = body["token"].as_str().unwrap().to_owned();
    let uni = "12100000400000624D";
    let org = json!({ "kind": "university", "name": "示范大学", "credit_code": uni, "region": "上海市" });
    let (status, body) = server.json("POST", "/api/v1/organisations", Some(&admin), &org);
    assert_eq!(status, 201, "{body}");
    let user = json!({
        "user_id": "lilei", "org_id": uni.to_ascii_lowercase(), "display_name": "李雷",
        "password": "lilei's long password", "roles": ["tech_manager"]
    });
    let (status, body) = server.json("POST", "/api/v1/users", Some(&admin), &user);
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.json(
        "POST",
        "/api/v1/auth/login",
        None,
        &json!({ "user_id": "lilei", "password": "lilei's long password" }),
    );
    assert_eq!(status, 200, "{body}");
    let manager = body["token"].as_str().unwrap().to_owned();
    let (status, me) = server.json("GET", "/api/v1/me", Some(&manager), &serde_json::Value::Null);
    assert_eq!((status, me["roles"].clone()), (200, json!(["tech_manager"])));
    let (status, _) = server.json("GET", "/api/v1/organisations", Some(&manager), &serde_json::Value::Null);
    assert_eq!(status, 403, "a technology manager does not list every organisation");
    let (status, users) = server.json(
        "GET",
        &format!("/api/v1/organisations/{}/users", uni.to_ascii_lowercase()),
        Some(&manager),
        &serde_json::Value::Null,
    );
    assert_eq!(status, 200);
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
}
